/*
 * Matrix-vector products over llama.cpp's Q8_0 weights (per row, cols / 32 blocks of {fp16 scale d, 32 int8 q}, 34
 * bytes per 32 weights, w = d q), for x86-64 with AVX-512. Where cols is not a multiple of 32 (stories-260k's 172)
 * a row's last block is partial, its q zero past the last column: rows of ceil(cols / 32) blocks.
 *
 * Numerics, as llama.cpp's CPU backend: the activation vector is quantized per block of 32 too (scale dx = max|x| /
 * 127, x_q = round(x / dx)), each block's dot product is exact in integers, and only then scaled: y = sum over blocks
 * of float(sum_q) * (d * dx), in float32, blocks two at a time, in a fixed order. Reading 1.06 bytes a weight instead
 * of 2 (bf16), the product is bound by memory bandwidth only if its arithmetic stays at a few instructions per 64
 * weights, which widening every weight to float32 (two conversions and two FMAs per 32 weights, plus the scale) does
 * not. The cost is the activations' rounding: about 0.4% of a block's largest |x| per element (stated with the
 * logits' measured differences in docs/engine.md, "An 8-bit base").
 *
 * With AVX512-VNNI (checked at run time) a block pair's dot product is one vpdpbusd: the weights made unsigned
 * (q ^ 0x80 = q + 128) against the signed x_q, each lane's accumulator starting at -128 times its x_q's sum (kept
 * with the quantized activations) to take the offset back out. Without VNNI, |q| against x_q with q's sign (vpmaddubsw, vpmaddwd):
 * the same integers, so the same results bit for bit.
 *
 * Every (row, vector) result is computed by the same operations in the same order whatever the number of vectors, the
 * rows taken at once or the range: tuneforge_q8_0_rows_multi's results do not depend on n, and equal the team
 * decoder's (tuneforge_q8_0_row_pairs) for the same x.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

#include "q8_rows.h"

enum { QK = 32, BLOCK_BYTES = 34, PAIR_BYTES = 68 };

/*
 * A quantized activation vector: for each pair of blocks (the last padded with a zero block) one 64-byte unit of x_q,
 * then one of the pairs' scales (dx of the first block in lanes 0-7, the second's in 8-15), then one of the VNNI
 * accumulators' start (lane i: -128 times the sum of the four x_q it multiplies), so that each lane's integer is
 * exactly the one the loop without VNNI computes.
 */
static inline int32_t blocks_of(int32_t cols) {
    return (cols + QK - 1) / QK;
}

static inline int32_t pairs_of(int32_t cols) {
    return (blocks_of(cols) + 1) / 2;
}

int64_t tuneforge_q8_0_activation_bytes(int32_t cols) {
    return (int64_t) pairs_of(cols) * 3 * 64;
}

void tuneforge_q8_0_quantize_activation(const float *x, int32_t cols, uint8_t *out) {
    int32_t blocks = blocks_of(cols), pairs = pairs_of(cols);
    int8_t *q = (int8_t *) out;
    float *scales = (float *) (out + (int64_t) pairs * 64);
    int32_t *start = (int32_t *) (out + (int64_t) pairs * 128);
    for (int32_t b = 0; b < 2 * pairs; b++) {
        int32_t lane = (b & 1) * 8;
        int32_t *s = start + (b / 2) * 16 + lane;
        for (int i = 0; i < 8; i++) {
            s[i] = 0;
        }
        if (b >= blocks) {
            for (int i = 0; i < QK; i++) {
                q[(int64_t) b * QK + i] = 0;
            }
            for (int i = 0; i < 8; i++) {
                scales[(b / 2) * 16 + lane + i] = 0;
            }
            continue;
        }
        /* a partial last block reads its columns only, the rest zero */
        int32_t left = cols - b * QK;
        __mmask16 first = left >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << left) - 1);
        __mmask16 second = left >= 32 ? (__mmask16) 0xffff : left <= 16 ? 0 : (__mmask16) ((1u << (left - 16)) - 1);
        __m512 lo = _mm512_maskz_loadu_ps(first, x + (int64_t) b * QK);
        __m512 hi = _mm512_maskz_loadu_ps(second, x + (int64_t) b * QK + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, _mm512_set1_ps(id))); /* nearest, ties to even */
        __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, _mm512_set1_ps(id)));
        _mm_storeu_si128((__m128i *) (q + (int64_t) b * QK), _mm512_cvtsepi32_epi8(qlo));
        _mm_storeu_si128((__m128i *) (q + (int64_t) b * QK + 16), _mm512_cvtsepi32_epi8(qhi));
        /* lane i of the pair's accumulator covers x_q[4i .. 4i + 3] of the pair's 64 */
        __m128i packed[2] = {_mm512_cvtsepi32_epi8(qlo), _mm512_cvtsepi32_epi8(qhi)};
        for (int i = 0; i < 8; i++) {
            const int8_t *four = (const int8_t *) packed + 4 * i;
            s[i] = -128 * (four[0] + four[1] + four[2] + four[3]);
        }
        for (int i = 0; i < 8; i++) {
            scales[(b / 2) * 16 + lane + i] = d;
        }
    }
}

static int vnni_checked = -1;

/* Whether the products use AVX512-VNNI on this CPU (checked once, at run time). */
int32_t tuneforge_q8_0_uses_vnni(void) {
    if (vnni_checked < 0) {
        __builtin_cpu_init();
        vnni_checked = __builtin_cpu_supports("avx512vnni") ? 1 : 0;
    }
    return vnni_checked;
}

/* Two blocks' 64 weights, or one block's 32 and 32 zeros (an odd last block). */
static inline __m512i pair_weights(const uint8_t *p, int both) {
    __m256i first = _mm256_loadu_si256((const __m256i *) (p + 2));
    return both ? _mm512_inserti64x4(_mm512_castsi256_si512(first), _mm256_loadu_si256((const __m256i *) (p + 36)), 1)
                : _mm512_zextsi256_si512(first);
}

/* d of the two blocks, each in eight lanes (0 for a missing second block) */
static inline __m512 pair_scales(const uint8_t *p, int both) {
    __m128i first = _mm_set1_epi16((short) (p[0] | (p[1] << 8)));
    __m128i second = both ? _mm_set1_epi16((short) (p[34] | (p[35] << 8))) : _mm_setzero_si128();
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(first), second, 1));
}

/*
 * Pair p of the R rows against the V vectors, into acc; BOTH: whether the pair has two blocks (else the odd last one).
 * Each vector's lines are loaded once for the R rows; each (row, vector) accumulator gets the same operations
 * whatever R and V.
 */
#define Q8_PAIR_STEP(DOT, BOTH)                                                                                        \
    {                                                                                                                  \
        __m512i weights[4];                                                                                            \
        __m512 scales[4];                                                                                              \
        for (int i = 0; i < R; i++) {                                                                                  \
            const uint8_t *w = rows[i] + (int64_t) p * PAIR_BYTES;                                                     \
            weights[i] = pair_weights(w, BOTH);                                                                        \
            scales[i] = pair_scales(w, BOTH);                                                                          \
            if (next_rows) {                                                                                           \
                _mm_prefetch((const char *) (w + next_rows), _MM_HINT_T0);                                             \
                _mm_prefetch((const char *) (w + next_rows + 64), _MM_HINT_T0);                                        \
            }                                                                                                          \
        }                                                                                                              \
        for (int j = 0; j < V; j++) {                                                                                  \
            __m512i xv = _mm512_loadu_si512((const void *) (xq[j] + (int64_t) p * 64));                               \
            __m512i start = _mm512_loadu_si512((const void *) (xq[j] + ((int64_t) pairs * 2 + p) * 64));              \
            __m512 dx = _mm512_loadu_ps((const float *) (xq[j] + ((int64_t) pairs + p) * 64));                        \
            (void) start;                                                                                              \
            for (int i = 0; i < R; i++) {                                                                              \
                __m512i wq = weights[i];                                                                               \
                __m512i sum = DOT;                                                                                     \
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(scales[i], dx), acc[i][j]);         \
            }                                                                                                          \
        }                                                                                                              \
    }

/*
 * out[i * V + j] = row i . vector j for R rows and V quantized vectors (R, V compile-time constants after inlining):
 * the body both kernels share, DOT being the block pair's integer dot product. next_rows (bytes, 0 for none): where
 * the rows to come after these start, relative to them, fetched while these are worked on (as team_batch.c's tiles).
 */
#define Q8_CORE(NAME, ATTRIBUTES, DOT)                                                                                 \
    static inline __attribute__((always_inline)) ATTRIBUTES void NAME(                                                 \
            const uint8_t *const *rows, int R, int32_t blocks, const uint8_t *const *xq, int V, int32_t pairs,        \
            int64_t next_rows, float *out) {                                                                           \
        __m512 acc[4][4];                                                                                              \
        for (int i = 0; i < R; i++) {                                                                                  \
            for (int j = 0; j < V; j++) {                                                                              \
                acc[i][j] = _mm512_setzero_ps();                                                                       \
            }                                                                                                          \
        }                                                                                                              \
        int32_t p = 0;                                                                                                 \
        for (; p < blocks / 2; p++) {                                                                                  \
            Q8_PAIR_STEP(DOT, 1)                                                                                       \
        }                                                                                                              \
        if (blocks & 1) {                                                                                              \
            Q8_PAIR_STEP(DOT, 0)                                                                                       \
        }                                                                                                              \
        for (int i = 0; i < R; i++) {                                                                                  \
            for (int j = 0; j < V; j++) {                                                                              \
                out[i * V + j] = _mm512_reduce_add_ps(acc[i][j]);                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }

/* (q + 128) . x_q from -128 sum(x_q), lane by lane: one instruction */
Q8_CORE(core_vnni, __attribute__((target("avx512vnni"))),
        _mm512_dpbusd_epi32(start, _mm512_xor_si512(wq, _mm512_set1_epi8((char) 0x80)), xv))

/* |q| . (x_q with q's sign): products of at most 2 * 127 * 127 in 16 bits, then pairs of those in 32 */
Q8_CORE(core_plain, ,
        _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(wq),
                                               _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(wq), _mm512_setzero_si512(), xv)),
                          _mm512_set1_epi16(1)))

static inline int64_t row_bytes(int32_t cols) {
    return (int64_t) blocks_of(cols) * BLOCK_BYTES;
}

/* Rows [from, to) each with row r + offset (offset 0: each row alone) against one quantized vector. */
#define ROW_PAIRS(NAME, CORE, ATTRIBUTES)                                                                              \
    ATTRIBUTES static void NAME(const uint8_t *w, int32_t cols, const uint8_t *xq, float *y, int32_t from, int32_t to, \
                                int32_t offset) {                                                                      \
        int32_t blocks = blocks_of(cols), pairs = pairs_of(cols);                                                            \
        int64_t stride = row_bytes(cols);                                                                              \
        const uint8_t *x1[1] = {xq};                                                                                   \
        for (int32_t r = from; r < to; r++) {                                                                          \
            float out[2];                                                                                              \
            if (offset == 0) {                                                                                         \
                const uint8_t *rows[1] = {w + r * stride};                                                             \
                CORE(rows, 1, blocks, x1, 1, pairs, 0, out);                                                              \
                y[r] = out[0];                                                                                         \
            } else {                                                                                                   \
                const uint8_t *rows[2] = {w + r * stride, w + (r + offset) * stride};                                  \
                CORE(rows, 2, blocks, x1, 1, pairs, 0, out);                                                              \
                y[r] = out[0];                                                                                         \
                y[r + offset] = out[1];                                                                                \
            }                                                                                                          \
        }                                                                                                              \
    }

ROW_PAIRS(row_pairs_vnni, core_vnni, __attribute__((target("avx512vnni"))))
ROW_PAIRS(row_pairs_plain, core_plain, )

/*
 * y[r] = w[r, :] . x for rows [from, to), with row r + offset at the same time (two streams; 0 for rows alone); xq is
 * x as tuneforge_q8_0_quantize_activation wrote it. The team decoder's and the Java decoder's loop.
 */
void tuneforge_q8_0_row_pairs(const uint8_t *w, int32_t cols, const uint8_t *xq, float *y, int32_t from, int32_t to,
                              int32_t offset) {
    if (tuneforge_q8_0_uses_vnni()) {
        row_pairs_vnni(w, cols, xq, y, from, to, offset);
    } else {
        row_pairs_plain(w, cols, xq, y, from, to, offset);
    }
}

/* The R rows against vectors [0, n), four at a time, then the 1 to 3 left. */
#define Q8_ROW_TILES(CORE, R, NEXT_ROWS)                                                                               \
    for (int32_t b = 0; b < n; b += 4) {                                                                               \
        float out[16];                                                                                                 \
        int v = n - b < 4 ? n - b : 4;                                                                                 \
        int64_t next = b == 0 ? (NEXT_ROWS) : 0;                                                                       \
        switch (v) {                                                                                                   \
            case 4: CORE(rows, R, blocks, xq + b, 4, pairs, next, out); break;                                         \
            case 3: CORE(rows, R, blocks, xq + b, 3, pairs, next, out); break;                                         \
            case 2: CORE(rows, R, blocks, xq + b, 2, pairs, next, out); break;                                         \
            default: CORE(rows, R, blocks, xq + b, 1, pairs, next, out); break;                                        \
        }                                                                                                              \
        for (int i = 0; i < R; i++) {                                                                                  \
            for (int j = 0; j < v; j++) {                                                                              \
                y[b + j][r[i]] = out[i * v + j];                                                                       \
            }                                                                                                          \
        }                                                                                                              \
    }

/*
 * Rows [from, to) against vectors [0, n): four rows and up to four vectors at a time, each row's lines read once; rows
 * r, r + q, r + 2q, r + 3q together (q a quarter of the range: four streams, as the single-vector loop's two), then
 * the 0 to 3 rows left in one smaller tile; below four vectors rows r and r + half, the odd last row alone.
 */
#define ROWS_MULTI(NAME, CORE, ATTRIBUTES)                                                                             \
    ATTRIBUTES static void NAME(const uint8_t *w, int32_t cols, int32_t n, const uint8_t *const *xq, float *const *y,  \
                                int32_t from, int32_t to) {                                                            \
        int32_t blocks = blocks_of(cols), pairs = pairs_of(cols);                                                      \
        int64_t stride = row_bytes(cols);                                                                              \
        if (n < 4) { /* bound by reading the weights: pairs r, r + half, as the single-vector loop (measured faster) */ \
            int32_t half = (to - from) / 2;                                                                            \
            for (int32_t r0 = from; r0 < from + half + ((to - from) & 1); r0++) {                                      \
                int32_t r[2] = {r0 < from + half ? r0 : to - 1, r0 + half};                                            \
                const uint8_t *rows[2] = {w + r[0] * stride, w + r[1] * stride};                                       \
                if (r0 < from + half) {                                                                                \
                    Q8_ROW_TILES(CORE, 2, 0)                                                                           \
                } else {                                                                                               \
                    Q8_ROW_TILES(CORE, 1, 0)                                                                           \
                }                                                                                                      \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        int32_t q = (to - from) / 4, left = (to - from) - 4 * q;                                                       \
        for (int32_t r0 = from; r0 < from + q; r0++) {                                                                 \
            int32_t r[4] = {r0, r0 + q, r0 + 2 * q, r0 + 3 * q};                                                       \
            const uint8_t *rows[4] = {w + r[0] * stride, w + r[1] * stride, w + r[2] * stride, w + r[3] * stride};     \
            Q8_ROW_TILES(CORE, 4, stride)                                                                              \
        }                                                                                                              \
        int32_t r[4] = {to - left, to - left + 1, to - left + 2, to - left};                                           \
        const uint8_t *rows[4] = {w + r[0] * stride, w + r[1] * stride, w + r[2] * stride, w + r[3] * stride};         \
        switch (left) {                                                                                                \
            case 3: Q8_ROW_TILES(CORE, 3, 0) break;                                                                    \
            case 2: Q8_ROW_TILES(CORE, 2, 0) break;                                                                    \
            case 1: Q8_ROW_TILES(CORE, 1, 0) break;                                                                    \
            default: break;                                                                                            \
        }                                                                                                              \
    }

ROWS_MULTI(rows_multi_vnni, core_vnni, __attribute__((target("avx512vnni"))))
ROWS_MULTI(rows_multi_plain, core_plain, )

/* Each thread's quantized vectors, grown as needed. */
static __thread uint8_t *multi_scratch;
static __thread int64_t multi_scratch_bytes;

/*
 * y[b][r] = (row r of w) . x[b] for rows [from, to) and vectors [0, n), for the batched decoder: each x[b] quantized as
 * tuneforge_q8_0_quantize_activation does, so each result is bitwise the single-vector loop's for the same x, and
 * independent of n. Does nothing where the scratch memory cannot be allocated (n < 1 likewise).
 */
void tuneforge_q8_0_rows_multi(const uint8_t *w, int32_t cols, int32_t n, const float *const *x, float *const *y,
                               int32_t from, int32_t to) {
    if (n < 1 || from >= to) {
        return;
    }
    int64_t each = tuneforge_q8_0_activation_bytes(cols);
    int64_t need = each * n + (int64_t) sizeof(uint8_t *) * n;
    if (need > multi_scratch_bytes) {
        uint8_t *grown = aligned_alloc(64, (size_t) ((need + 63) & ~(int64_t) 63));
        if (!grown) {
            return;
        }
        free(multi_scratch);
        multi_scratch = grown;
        multi_scratch_bytes = (need + 63) & ~(int64_t) 63;
    }
    const uint8_t **xq = (const uint8_t **) (multi_scratch + each * n);
    for (int32_t b = 0; b < n; b++) {
        tuneforge_q8_0_quantize_activation(x[b], cols, multi_scratch + each * b);
        xq[b] = multi_scratch + each * b;
    }
    if (tuneforge_q8_0_uses_vnni()) {
        rows_multi_vnni(w, cols, n, xq, y, from, to);
    } else {
        rows_multi_plain(w, cols, n, xq, y, from, to);
    }
}

/* Forces the loop without VNNI (1) or back to what the CPU has (0): for tests of the fallback on a VNNI machine. */
void tuneforge_q8_0_force_plain(int32_t plain) {
    vnni_checked = plain ? 0 : -1;
}

/*
 * Rows [0, rows) of a Q8_0 matrix as float32 [rows, cols] (d q, exact): the libtorch forward's matrix at use, in one
 * pass instead of libtorch's several (a SmolLM2 prompt's 30 layers dequantized in ~1.5 s that way on a busy machine).
 */
void tuneforge_q8_0_dequantize(const uint8_t *w, int32_t cols, int64_t rows, float *out) {
    int32_t blocks = blocks_of(cols);
    int64_t stride = row_bytes(cols);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = w + r * stride;
        float *o = out + r * cols;
        for (int32_t b = 0; b < blocks; b++) {
            const uint8_t *block = row + (int64_t) b * BLOCK_BYTES;
            __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16((short) (block[0] | (block[1] << 8))));
            int32_t left = cols - b * QK;
            __mmask16 first = left >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << left) - 1);
            __mmask16 second = left >= 32 ? (__mmask16) 0xffff : left <= 16 ? 0 : (__mmask16) ((1u << (left - 16)) - 1);
            __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (block + 2))));
            __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (block + 18))));
            _mm512_mask_storeu_ps(o + b * QK, first, _mm512_mul_ps(lo, d));
            _mm512_mask_storeu_ps(o + b * QK + 16, second, _mm512_mul_ps(hi, d));
        }
    }
}
