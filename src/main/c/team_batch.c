/*
 * The batched team decoder: a step of n rows (each one token of one sequence at that sequence's next position, rows of
 * many sequences and adapters mixed) in one pass over the weights, by the same team of threads as the single-token
 * decoder (team_decoder.c). For every product each thread takes a fixed share of the weight rows and applies each
 * row, read once, to all n inputs (four weight rows against up to four inputs in registers); everything per row (norms,
 * residuals, RoPE, the KV cache's write, the adapter's low-rank update, the activation) is done by the thread that owns
 * the row, and attention by (row, key/value head) items shared out by their positions.
 *
 * A row's results never depend on the other rows of the step: every (weight row, input) pair is summed in the same
 * order whatever n and whichever block it falls in, and the per-row work reads only that row's data. So a sequence
 * decoded among others gives exactly the logits it gives alone.
 *
 * A layer: qkv product | per row: adapter update, q/k norms, RoPE, store keys and values | attention | o product |
 * per row: adapter update, residual, norm, next group's A x | gate/up product | per row: update, activation, A x |
 * down product | per row: update, residual, next layer's norm and A x. One barrier after each.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "team_decoder.h"
#include "team_internal.h"
#include "q8_rows.h"

void tuneforge_even_odd(const float *x, int32_t cols, float *regrouped);

/* Per-thread scratch, grown by the caller before a step. */
typedef struct {
    float *block;
    size_t capacity_floats;
    float *hidden, *normed; /* every row's hidden state and normed input: this thread's copy */
    float *regrouped; /* n inputs regrouped for the bf16 product */
    float *q;         /* QUERIES_AT_ONCE query rows */
    float *scores;    /* [QUERIES_AT_ONCE, positions] */
    const float **x;  /* a product's n inputs */
    float **y;        /* and outputs */
} batch_scratch_t;

static struct {
    const tf_model_t *model;
    const tf_batch_row_t *rows;
    int n, page_positions, bf16_cache, threads;
    /* per row, up16 floats apart: the residual stream and the layer's intermediates */
    float *qkv, *attention, *projected, *gate_up, *activation, *low_rank;
    int hidden_stride, qkv_stride, attention_stride, gate_up_stride, activation_stride, low_rank_stride;
    float *shared;
    size_t shared_floats;
    /* attention's items (row, query head) of thread t: [item_from[t], item_from[t + 1]) */
    int item_from[MAX_THREADS + 1];
    batch_scratch_t scratch[MAX_THREADS];
} batch;

/*
 * A tile: weight rows r[0 .. R - 1] (R 1 to 4) against inputs b .. b + B - 1 (B 1 to 4), ONE accumulator per
 * (row, input) pair: each 32 columns add the product of their first 16 (f32; bf16: the even ones), then that of their
 * second 16 (the odd ones), into that accumulator, one after the other; then the 16 accumulators' lanes are summed
 * by one tree (sum_lanes16: each accumulator's lanes in the same order, missing pairs as zeros) and the tail added in
 * scalar code. Every pair gets the same operations in the same order whatever R, B and its place in the tile: a result
 * never depends on which rows or inputs shared its tile. Per 32 columns a full tile does 32 FMAs for 4 weight lines
 * and 8 input loads. Inlined with constant R and B, so the 16 accumulators stay in registers: the R rows' 32 columns
 * are loaded (bf16: widened) first and each FMA reads its input from memory, which keeps gcc from spilling
 * accumulators to the stack (it did with each input loaded once into a register).
 */
#define TILE_FINISH(TERM)                                                                                              \
    {                                                                                                                  \
        __m512 all[16];                                                                                                \
        float sums[16];                                                                                                \
        for (int i = 0; i < 4; i++) {                                                                                  \
            for (int j = 0; j < 4; j++) {                                                                              \
                all[i * 4 + j] = i < R && j < B ? acc[i][j] : _mm512_setzero_ps();                                    \
            }                                                                                                          \
        }                                                                                                              \
        sum_lanes16(all, sums);                                                                                        \
        for (int i = 0; i < R; i++) {                                                                                  \
            for (int j = 0; j < B; j++) {                                                                              \
                float s = sums[j * 4 + i];                                                                             \
                for (int c = vec; c < cols; c++) {                                                                     \
                    s += TERM;                                                                                         \
                }                                                                                                      \
                y[b + j][r[i]] = s;                                                                                    \
            }                                                                                                          \
        }                                                                                                              \
    }

/*
 * The lane sums of 16 vectors, out[4 * (k % 4) + k / 4] = Σ lanes of v[k], by one tree of shuffles and adds (a third
 * of the instructions of 16 separate reductions, which weighed on a tile of few columns). Each output lane only ever
 * adds lanes of one vector, always in the same order.
 */
static inline __attribute__((always_inline)) void sum_lanes16(const __m512 *v, float *out) {
    __m512 halves[8], quarters[4];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        halves[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                                  _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xee));
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        quarters[k] = _mm512_add_ps(_mm512_shuffle_f32x4(halves[2 * k], halves[2 * k + 1], 0x88),
                                    _mm512_shuffle_f32x4(halves[2 * k], halves[2 * k + 1], 0xdd));
    }
    __m512 f0 = _mm512_add_ps(_mm512_unpacklo_ps(quarters[0], quarters[1]), _mm512_unpackhi_ps(quarters[0], quarters[1]));
    __m512 f1 = _mm512_add_ps(_mm512_unpacklo_ps(quarters[2], quarters[3]), _mm512_unpackhi_ps(quarters[2], quarters[3]));
    __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(f0), _mm512_castps_pd(f1));
    __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(f0), _mm512_castps_pd(f1));
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi)));
}

/* A tile's R weight rows' addresses wr[i] and its R x B accumulators, zeroed. */
#define TILE_START(WEIGHT_TYPE)                                                                                        \
    __m512 acc[4][4];                                                                                                  \
    const WEIGHT_TYPE *wr[4];                                                                                          \
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                                              \
        wr[i] = w + (int64_t) r[i] * cols;                                                                             \
        _Pragma("GCC unroll 4") for (int j = 0; j < B; j++) {                                                          \
            acc[i][j] = _mm512_setzero_ps();                                                                           \
        }                                                                                                              \
    }

/*
 * While a tile of weight rows r works on the first inputs, the next rows' same columns are fetched (ALL_TILES takes rows
 * r + 1 next): at 16 inputs a row's lines are in use for about one trip to memory, and without the prefetch the
 * products waited on the weights. Past a thread's last row it fetches lines it will not use; a prefetch never
 * faults.
 */
#define PREFETCH_NEXT_ROWS(address)                                                                                    \
    if (b == 0) {                                                                                                      \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                                          \
            _mm_prefetch((const char *) (address), _MM_HINT_T0);                                                       \
        }                                                                                                              \
    }

static inline __attribute__((always_inline)) void f32_tile(const float *w, int cols, const int *r, int R,
                                                           const float *const *x, int b, int B, float *const *y) {
    TILE_START(float)
    int vec = cols - cols % 32;
    for (int c = 0; c < vec; c += 32) {
        __m512 first[4], second[4];
        PREFETCH_NEXT_ROWS(wr[i] + cols + c)
        PREFETCH_NEXT_ROWS(wr[i] + cols + c + 16)
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            first[i] = _mm512_loadu_ps(wr[i] + c);
            second[i] = _mm512_loadu_ps(wr[i] + c + 16);
        }
#pragma GCC unroll 4
        for (int j = 0; j < B; j++) {
            const float *in = x[b + j] + c;
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                acc[i][j] = _mm512_fmadd_ps(first[i], _mm512_loadu_ps(in), acc[i][j]);
                acc[i][j] = _mm512_fmadd_ps(second[i], _mm512_loadu_ps(in + 16), acc[i][j]);
            }
        }
    }
    TILE_FINISH(wr[i][c] * x[b + j][c])
}

/* bf16 rows against inputs regrouped by tuneforge_even_odd (each 32 columns' even ones, then the odd ones; the tail as
 * it is): a 64-byte line of weights widened by a shift (even columns), then by a mask (odd). */
static inline __attribute__((always_inline)) void bf16_tile(const uint16_t *w, int cols, const int *r, int R,
                                                            const float *const *x, int b, int B, float *const *y) {
    const __m512i high = _mm512_set1_epi32((int32_t) 0xffff0000);
    TILE_START(uint16_t)
    int vec = cols - cols % 32;
    for (int c = 0; c < vec; c += 32) {
        __m512 even[4], odd[4];
        PREFETCH_NEXT_ROWS(wr[i] + cols + c)
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            __m512i line = _mm512_loadu_si512((const void *) (wr[i] + c));
            even[i] = _mm512_castsi512_ps(_mm512_slli_epi32(line, 16));
            odd[i] = _mm512_castsi512_ps(_mm512_and_si512(line, high));
        }
#pragma GCC unroll 4
        for (int j = 0; j < B; j++) {
            const float *in = x[b + j] + c;
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                acc[i][j] = _mm512_fmadd_ps(even[i], _mm512_loadu_ps(in), acc[i][j]);
                acc[i][j] = _mm512_fmadd_ps(odd[i], _mm512_loadu_ps(in + 16), acc[i][j]);
            }
        }
    }
    TILE_FINISH(bf16_to_float(wr[i][c]) * x[b + j][c])
}

/* The R rows r against all n inputs, four at a time, then the 1 to 3 left. */
#define ROW_TILES(tile, w, cols, r, R, n, x, y)                                                                        \
    {                                                                                                                  \
        int b = 0;                                                                                                     \
        for (; b + 4 <= (n); b += 4) tile(w, cols, r, R, x, b, 4, y);                                                  \
        switch ((n) - b) {                                                                                             \
        case 3: tile(w, cols, r, R, x, b, 3, y); break;                                                                \
        case 2: tile(w, cols, r, R, x, b, 2, y); break;                                                                \
        case 1: tile(w, cols, r, R, x, b, 1, y); break;                                                                \
        default: break;                                                                                                \
        }                                                                                                              \
    }

/*
 * The tiles of rows [from, to) against all n inputs: from four inputs on, rows r, r + q, r + 2q, r + 3q together (q
 * a quarter of the range: four places in memory streamed at once, as the single-token loops stream two, since one
 * stream a core reads markedly slower on these machines), then the 0 to 3 rows left in one smaller tile; below four
 * inputs, where the step is bound by reading the weights rather than by arithmetic, rows r and r + half (measured
 * faster there), the odd last row alone. Which rows share a tile never changes a result.
 */
#define ALL_TILES(tile, w, cols, n, x, y, from, to)                                                                    \
    if ((n) >= 4) {                                                                                                    \
        int q = ((to) - (from)) / 4;                                                                                   \
        for (int r0 = (from); r0 < (from) + q; r0++) {                                                                 \
            int r[4] = {r0, r0 + q, r0 + 2 * q, r0 + 3 * q};                                                           \
            ROW_TILES(tile, w, cols, r, 4, n, x, y)                                                                    \
        }                                                                                                              \
        int left = ((to) - (from)) - 4 * q;                                                                            \
        int r[4] = {(to) - left, (to) - left + 1, (to) - left + 2, 0};                                                 \
        switch (left) {                                                                                                \
        case 3: ROW_TILES(tile, w, cols, r, 3, n, x, y) break;                                                         \
        case 2: ROW_TILES(tile, w, cols, r, 2, n, x, y) break;                                                         \
        case 1: ROW_TILES(tile, w, cols, r, 1, n, x, y) break;                                                         \
        default: break;                                                                                                \
        }                                                                                                              \
    } else {                                                                                                           \
        int half = ((to) - (from)) / 2;                                                                                \
        for (int r0 = (from); r0 < (from) + half; r0++) {                                                              \
            int r[2] = {r0, r0 + half};                                                                                \
            ROW_TILES(tile, w, cols, r, 2, n, x, y)                                                                    \
        }                                                                                                              \
        if (((to) - (from)) & 1) {                                                                                     \
            int r[1] = {(to) - 1};                                                                                     \
            ROW_TILES(tile, w, cols, r, 1, n, x, y)                                                                    \
        }                                                                                                              \
    }

static void f32_rows_multi(const float *w, int32_t cols, int32_t n, const float *const *x, float *const *y,
                           int32_t from, int32_t to) {
    ALL_TILES(f32_tile, w, cols, n, x, y, from, to)
}

/*
 * bf16 products multiply the bf16 weights by the inputs rounded to bf16 (to nearest, ties to even) and sum in fp32 (as
 * llama.cpp's BF16 matrices and GPU bf16 kernels do). With AVX512-BF16 one VDPBF16PS does a 32-column line's 32
 * multiply-adds (a pair per lane), twice an FMA's, with no widening. Without it the
 * same products (each exact in fp32) are summed by FMAs, in another order: the last bits may differ between the two
 * CPUs, never between batches on one.
 */
/* work: n * up16(cols) floats for the regrouped, rounded inputs */
static void bf16_rows_multi_emulated(const uint16_t *w, int32_t cols, int32_t n, const float *const *x,
                                     float *const *y, int32_t from, int32_t to, float *work, const float **regrouped) {
    int stride = up16(cols), vec = cols - cols % 32;
    for (int b = 0; b < n; b++) {
        float *g = work + (int64_t) b * stride;
        tuneforge_even_odd(x[b], cols, g);
        memcpy(g + vec, x[b] + vec, sizeof(float) * (cols - vec));
        for (int c = 0; c < cols; c++) {
            g[c] = bf16_to_float(float_to_bf16(g[c]));
        }
        regrouped[b] = g;
    }
    ALL_TILES(bf16_tile, w, cols, n, regrouped, y, from, to)
}

#pragma GCC push_options
#pragma GCC target("avx512bf16")
static void inputs_to_bf16(const float *x, int cols, uint16_t *out) {
    int vec = cols - cols % 32, c = 0;
    for (; c < vec; c += 32) {
        __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + c + 16), _mm512_loadu_ps(x + c));
        _mm512_storeu_si512((void *) (out + c), (__m512i) pair);
    }
    for (; c < cols; c++) {
        out[c] = float_to_bf16(x[c]);
    }
}

/* As bf16_tile, with each accumulator's 32 columns in one VDPBF16PS: the B inputs' 32 columns loaded first, then each
 * weight line against them (8 loads for 16 VDPBF16PS; with the inputs as memory operands the loads bound it). */
static inline __attribute__((always_inline)) void bf16_dot_tile(const uint16_t *w, int cols, const int *r, int R,
                                                                const uint16_t *const *x, int b, int B, float *const *y) {
    TILE_START(uint16_t)
    int vec = cols - cols % 32;
    for (int c = 0; c < vec; c += 32) {
        __m512bh in[4];
#pragma GCC unroll 4
        for (int j = 0; j < B; j++) {
            in[j] = (__m512bh) _mm512_loadu_si512((const void *) (x[b + j] + c));
        }
        PREFETCH_NEXT_ROWS(wr[i] + cols + c)
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            __m512bh line = (__m512bh) _mm512_loadu_si512((const void *) (wr[i] + c));
#pragma GCC unroll 4
            for (int j = 0; j < B; j++) {
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], line, in[j]);
            }
        }
    }
    TILE_FINISH(bf16_to_float(wr[i][c]) * bf16_to_float(x[b + j][c]))
}

/* work: n * up16(cols) floats, which hold the n inputs rounded to bf16 */
static void bf16_rows_multi_dot(const uint16_t *w, int32_t cols, int32_t n, const float *const *x, float *const *y,
                                int32_t from, int32_t to, float *work, const float **pointers) {
    int stride = 2 * up16(cols);
    const uint16_t **rounded = (const uint16_t **) pointers;
    for (int b = 0; b < n; b++) {
        uint16_t *g = (uint16_t *) work + (int64_t) b * stride;
        inputs_to_bf16(x[b], cols, g);
        rounded[b] = g;
    }
    ALL_TILES(bf16_dot_tile, w, cols, n, rounded, y, from, to)
}
#pragma GCC pop_options

/* Whether this CPU has VDPBF16PS (decided once, before any step). */
static int bf16_dot_in_hardware;

__attribute__((constructor)) static void detect_bf16_dot(void) {
    __builtin_cpu_init();
    bf16_dot_in_hardware = __builtin_cpu_supports("avx512bf16") != 0;
}

/*
 * y[b][r] = w[r] . x[b] for rows [from, to) and every input b < n: the one place the weights' dtype picks the
 * multi-row product (tf_model_t.dtype). Returns -2 for a dtype without one. work: n * up16(cols) floats, and n
 * pointers, a kernel may use. bf16_dot: VDPBF16PS for bf16 weights (only where the CPU has it).
 */
static int rows_multi(int dtype, const void *w, int cols, int n, const float *const *x, float *const *y, int from,
                      int to, float *work, const float **pointers, int bf16_dot) {
    switch (dtype) {
    case TF_F32:
        f32_rows_multi((const float *) w, cols, n, x, y, from, to);
        return 0;
    case TF_BF16:
        if (bf16_dot) {
            bf16_rows_multi_dot((const uint16_t *) w, cols, n, x, y, from, to, work, pointers);
        } else {
            bf16_rows_multi_emulated((const uint16_t *) w, cols, n, x, y, from, to, work, pointers);
        }
        return 0;
    case TF_Q8_0:
        if (w) {
            tuneforge_q8_0_rows_multi((const uint8_t *) w, cols, n, x, y, from, to);
        }
        return 0;
    default:
        return -2;
    }
}

static int dtype_multiplies(int dtype) {
    return rows_multi(dtype, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0) == 0;
}

/*
 * Thread t's rows of a product with rows_count rows: contiguous, the boundaries on multiples of `unit` rows (a whole
 * number of 64-byte lines of output: 16, or a head's rows where the thread works on whole heads).
 */
static inline void product_share_in(int rows_count, int unit, int t, int threads, int *from, int *to) {
    int units = (rows_count + unit - 1) / unit;
    *from = t == 0 ? 0 : (int) ((int64_t) units * t / threads) * unit;
    *to = t == threads - 1 ? rows_count : (int) ((int64_t) units * (t + 1) / threads) * unit;
    *from = *from < rows_count ? *from : rows_count;
    *to = *to < rows_count ? *to : rows_count;
}

static inline void product_share(int rows_count, int t, int threads, int *from, int *to) {
    product_share_in(rows_count, 16, t, threads, from, to);
}

/* Rows [from, to) of y[b] = W x[b] (+ bias) for every row b of the step: x and y per row, x_stride and y_stride apart. */
static void product_rows(const void *w, const float *bias, int cols, const float *x, int x_stride, float *y,
                         int y_stride, int from, int to, batch_scratch_t *s) {
    int n = batch.n;
    if (from >= to || n == 0) {
        return;
    }
    for (int b = 0; b < n; b++) {
        s->x[b] = x + (int64_t) b * x_stride;
        s->y[b] = y + (int64_t) b * y_stride;
    }
    rows_multi(batch.model->dtype, w, cols, n, s->x, s->y, from, to, s->regrouped, (const float **) s->y + n,
               bf16_dot_in_hardware);
    for (int b = 0; bias && b < n; b++) {
        for (int r = from; r < to; r++) {
            s->y[b][r] += bias[r];
        }
    }
}

static inline float *low_rank_of(int b) {
    return batch.low_rank + (int64_t) b * batch.low_rank_stride;
}

static inline const tf_adapter_layer_t *adapter_of(int b, int l) {
    const tf_adapter_layer_t *a = batch.rows[b].adapter;
    return a ? &a[l] : NULL;
}

/*
 * Thread t's part of t = A x of projection group g for every row of the step (x per row, x_stride floats apart),
 * each row with its adapter's A (nothing without one): a share of the A's blocks of four rows (the last thread also
 * the rows after the last whole block). The consecutive rows of one adapter go together, each block read from memory
 * once for all of them; every (A row, input) pair's arithmetic is low_rank_rows_times_x's whoever computes it.
 */
static void low_rank_down(int l, int g, int cols, const float *x, int x_stride, int t) {
    const int n = batch.n, threads = batch.threads;
    for (int b = 0; b < n;) {
        int end = b + 1;
        while (end < n && batch.rows[end].adapter == batch.rows[b].adapter) {
            end++;
        }
        const tf_adapter_layer_t *aw = adapter_of(b, l);
        if (aw && aw->groups[g].stacked) {
            const void *a = aw->groups[g].stacked;
            const int bf16 = (int) aw->bf16;
            int rows_count = (int) aw->groups[g].rows, blocks = rows_count / 4, blocked = blocks * 4;
            int from = (int) ((int64_t) blocks * t / threads) * 4, to = (int) ((int64_t) blocks * (t + 1) / threads) * 4;
            /* the next rows' adapter's A of the same shape, prefetched while this one is read (by the first row) */
            const tf_adapter_layer_t *after = end < n ? adapter_of(end, l) : NULL;
            const void *next = after && after->groups[g].stacked && after->groups[g].rows == rows_count
                               && after->bf16 == aw->bf16 ? after->groups[g].stacked : NULL;
            for (int r = from; r < to; r += 4) {
                for (int c = b; c < end; c++) {
                    low_rank_rows_times_x(a, c == b ? next : NULL, bf16, r, 4, cols, x + (int64_t) c * x_stride,
                                          low_rank_of(c) + r);
                }
            }
            for (int c = b; t == threads - 1 && blocked < rows_count && c < end; c++) {
                low_rank_rows_times_x(a, c == b ? next : NULL, bf16, blocked, rows_count - blocked, cols,
                                      x + (int64_t) c * x_stride, low_rank_of(c) + blocked);
            }
        }
        b = end;
    }
}

/*
 * Each thread's count of A x parts published, on a line of its own: a thread publishes its part of every group's
 * A x (low_rank_down) before its share of the group's product and waits for the others' after it, by when they are
 * long since written, so the wait costs a cache line's transfer rather than a barrier.
 */
static struct { _Alignas(64) atomic_int count; } published[MAX_THREADS];

static inline void publish_low_rank(int t) {
    atomic_fetch_add_explicit(&published[t].count, 1, memory_order_release);
}

static void await_low_rank(int t) {
    int mine = atomic_load_explicit(&published[t].count, memory_order_relaxed);
    for (int p = 0; p < batch.threads; p++) {
        /* a count may already be one further: that thread has passed the group's barrier (after ours) */
        while ((int) ((unsigned) atomic_load_explicit(&published[p].count, memory_order_acquire) - (unsigned) mine) < 0) {
            _mm_pause();
        }
    }
}

/*
 * y[lo, hi) += up^T t for each member of group g with an update, y holding the members' outputs one after another
 * (offsets): every output element by a fused multiply-add per rank in rank order, whichever part of y it is in (up
 * float32, or bf16 widened as it is read: bf16 1). The same lines of `next` (the next row's adapter, or NULL) are
 * prefetched as they are read: each thread reads only its rows of each rank row, a few short streams a member.
 */
static inline __attribute__((always_inline)) void low_rank_up_of(const tf_adapter_layer_t *aw,
                                                                 const tf_adapter_layer_t *next, int bf16, int g,
                                                                 const int *members, const int *offsets, int count,
                                                                 int rows_count, const float *low_rank, float *y,
                                                                 int lo, int hi) {
    int at = 0;
    for (int k = 0; k < count; k++) {
        const void *up = aw->projections[members[k]].up;
        int rank = (int) aw->projections[members[k]].rank;
        if (!up || rank == 0) {
            continue;
        }
        const void *next_up = next && next->projections[members[k]].rank == rank ? next->projections[members[k]].up
                                                                                   : NULL;
        int out = (k + 1 < count ? offsets[k + 1] : rows_count) - offsets[k];
        int from = lo > offsets[k] ? lo - offsets[k] : 0, to = hi < offsets[k] + out ? hi - offsets[k] : out;
        float *yk = y + offsets[k];
        const float *tk = low_rank + at;
        for (int r = from; r < to; r += 16) {
            __mmask16 mask = first_lanes(to - r);
            __m512 acc = _mm512_maskz_loadu_ps(mask, yk + r);
            for (int j = 0; j < rank; j++) {
                if (next_up) {
                    prefetch_of(next_up, bf16, (int64_t) j * out + r);
                }
                acc = _mm512_fmadd_ps(load16_masked_of(up, bf16, (int64_t) j * out + r, mask), _mm512_set1_ps(tk[j]),
                                      acc);
            }
            _mm512_mask_storeu_ps(yk + r, mask, acc);
        }
        at += rank;
    }
}

static void low_rank_up(const tf_adapter_layer_t *aw, const tf_adapter_layer_t *next, int g, const int *members,
                        const int *offsets, int count, int rows_count, const float *low_rank, float *y, int lo, int hi) {
    if (!aw || !aw->groups[g].stacked) {
        return;
    }
    next = next && next != aw && next->bf16 == aw->bf16 && next->groups[g].stacked ? next : NULL;
    if (aw->bf16) {
        low_rank_up_of(aw, next, 1, g, members, offsets, count, rows_count, low_rank, y, lo, hi);
    } else {
        low_rank_up_of(aw, next, 0, g, members, offsets, count, rows_count, low_rank, y, lo, hi);
    }
}

/* low_rank_up on rows [lo, hi) of every row of the step whose adapter updates group g */
static void low_rank_up_rows(int l, int g, const int *members, const int *offsets, int count, int rows_count,
                             float *y, int y_stride, int lo, int hi) {
    for (int b = 0; lo < hi && b < batch.n; b++) {
        low_rank_up(adapter_of(b, l), b + 1 < batch.n ? adapter_of(b + 1, l) : NULL, g, members, offsets, count,
                    rows_count, low_rank_of(b), y + (int64_t) b * y_stride, lo, hi);
    }
}

static const int QKV_MEMBERS[] = {0, 1, 2}, O_MEMBERS[] = {3}, GATE_UP_MEMBERS[] = {4, 5}, DOWN_MEMBERS[] = {6};
static const int SINGLE_OFFSET[] = {0};

/* Element index of position p's key (or value) row of head h of layer l within its page. */
static inline int64_t kv_index(int l, int value, int h, int p) {
    const tf_model_t *m = batch.model;
    int P = batch.page_positions;
    return (((int64_t) l * 2 + value) * m->kv_heads + h) * P * m->head_dim + (int64_t) (p % P) * m->head_dim;
}

static inline kv_row_t kv_row(int b, int l, int value, int h, int p) {
    const void *page = batch.rows[b].pages[p / batch.page_positions];
    return cached_row(page, batch.bf16_cache, kv_index(l, value, h, p));
}

/*
 * Head `head` of the qkv product's output (query heads, then key heads, then value heads) of every row after its
 * adapter's update: a query's or key's norm and RoPE; a key or value stored at the row's position in its pages.
 */
static void after_qkv_head(int l, int head) {
    const tf_model_t *m = batch.model;
    const tf_layer_t *lw = &m->layer[l];
    const int head_dim = m->head_dim, half = head_dim / 2;
    const int kv_heads = m->kv_heads;
    for (int b = 0; b < batch.n; b++) {
        float *x = batch.qkv + (int64_t) b * batch.qkv_stride + (int64_t) head * head_dim;
        const float *cos = batch.rows[b].cos + (int64_t) lw->rope * half;
        const float *sin = batch.rows[b].sin + (int64_t) lw->rope * half;
        if (head < m->heads) {
            if (lw->q_norm) {
                rms_norm(x, lw->q_norm, m->eps, head_dim, x);
            }
            rotate(x, cos, sin, half);
            continue;
        }
        int value = head >= m->heads + kv_heads, h = head - m->heads - (value ? kv_heads : 0);
        if (!value) {
            if (lw->k_norm) {
                rms_norm(x, lw->k_norm, m->eps, head_dim, x);
            }
            rotate(x, cos, sin, half);
        }
        const int position = (int) batch.rows[b].position;
        void *page = batch.rows[b].pages[position / batch.page_positions];
        int64_t index = kv_index(l, value, h, position);
        if (batch.bf16_cache) {
            for (int d = 0; d < head_dim; d++) {
                ((uint16_t *) page)[index + d] = float_to_bf16(x[d]);
            }
        } else {
            memcpy((float *) page + index, x, sizeof(float) * head_dim);
        }
    }
}

/* The first position a row at `position` sees in layer l: the layer's window, or 0. */
static inline int first_position(int l, int position) {
    int window = batch.model->layer[l].window;
    return window > 0 && position + 1 > window ? position + 1 - window : 0;
}

/*
 * Attention of row b's query heads [h_from, h_to) over the row's visible positions, into its attention row: the
 * query heads of one key/value head QUERIES_AT_ONCE at a time, each key and value row read once for them. Each
 * query's arithmetic is its own (its own sums, in position order), whichever queries share its pass.
 */
static void attend(int b, int l, int h_from, int h_to, batch_scratch_t *s) {
    const tf_model_t *m = batch.model;
    const int head_dim = m->head_dim, group = m->heads / m->kv_heads;
    const int position = (int) batch.rows[b].position, first = first_position(l, position), n = position + 1 - first;
    const float *qkv = batch.qkv + (int64_t) b * batch.qkv_stride;
    float *out = batch.attention + (int64_t) b * batch.attention_stride;
    for (int h0 = h_from; h0 < h_to;) {
        const int kv = h0 / group, group_end = (kv + 1) * group < h_to ? (kv + 1) * group : h_to;
        const int queries = group_end - h0 < QUERIES_AT_ONCE ? group_end - h0 : QUERIES_AT_ONCE;
        float *q = s->q;
        memset(q, 0, sizeof(float) * QUERIES_AT_ONCE * head_dim);
        memcpy(q, qkv + h0 * head_dim, sizeof(float) * queries * head_dim);
        float *scores = s->scores;
        for (int p = first; p <= position; p++) {
            float dots[QUERIES_AT_ONCE];
            query_dots(kv_row(b, l, 0, kv, p), q, head_dim, dots);
            for (int i = 0; i < queries; i++) {
                scores[i * n + p - first] = dots[i] * m->attention_scale;
            }
        }
        float sums[QUERIES_AT_ONCE];
        for (int i = 0; i < queries; i++) {
            float max = -INFINITY;
            for (int p = 0; p < n; p++) {
                max = scores[i * n + p] > max ? scores[i * n + p] : max;
            }
            sums[i] = exp_minus(scores + i * n, n, max);
            memset(out + (h0 + i) * head_dim, 0, sizeof(float) * head_dim);
        }
        for (int p = first; p <= position; p++) {
            add_weighted(kv_row(b, l, 1, kv, p), scores + p - first, n, queries, head_dim, out + h0 * head_dim);
        }
        for (int i = 0; i < queries; i++) {
            float *o = out + (h0 + i) * head_dim;
            for (int d = 0; d < head_dim; d++) {
                o[d] /= sums[i];
            }
        }
        h0 += queries;
    }
}

/* A row's input norm of layer l (or, after the last layer, the final norm) from its hidden state. */
static void before_layer(int b, int l, const float *hidden, float *normed, int t) {
    const tf_model_t *m = batch.model;
    if (l == m->layers) {
        rms_norm(hidden, m->final_norm, m->eps, m->hidden, normed);
        if (t == 0 && batch.rows[b].normed_out) {
            memcpy(batch.rows[b].normed_out, normed, sizeof(float) * m->hidden);
        }
        return;
    }
    rms_norm(hidden, m->layer[l].input_norm, m->eps, m->hidden, normed);
}

/*
 * One step on thread t. Every thread keeps its own copy of every row's hidden state and normed input and does the
 * rows' norms and residual additions itself (the same arithmetic on every thread), so no thread waits while another
 * does per-row work; each product's share also takes, on its own output rows, the adapters' updates, and for qkv the
 * heads' norms, RoPE and cache stores (its share is whole heads), for gate/up the activation (its share is the same
 * rows of both). Five barriers a layer, as the single-token decoder: after qkv, attention, o, gate/up and down.
 */
static void step(int t) {
    const tf_model_t *m = batch.model;
    const int threads = batch.threads, n = batch.n, hidden = m->hidden, inter = m->inter, head_dim = m->head_dim;
    const int q_dim = m->heads * head_dim, qkv_rows = q_dim + 2 * m->kv_heads * head_dim;
    const int stride = batch.hidden_stride;
    const int qkv_offsets[] = {0, q_dim, q_dim + m->kv_heads * head_dim}, gate_up_offsets[] = {0, inter};
    batch_scratch_t *s = &batch.scratch[t];
    float *own_hidden = s->hidden, *own_normed = s->normed;
    int qkv_from, qkv_to, o_from, o_to, inter_from, inter_to, down_from, down_to;
    product_share_in(qkv_rows, head_dim, t, threads, &qkv_from, &qkv_to);
    product_share(hidden, t, threads, &o_from, &o_to);
    product_share(inter, t, threads, &inter_from, &inter_to);
    down_from = o_from;
    down_to = o_to;
    for (int b = 0; b < n; b++) {
        memcpy(own_hidden + (int64_t) b * stride, batch.rows[b].hidden_in, sizeof(float) * hidden);
        before_layer(b, 0, own_hidden + (int64_t) b * stride, own_normed + (int64_t) b * stride, t);
    }
    for (int l = 0; l < m->layers; l++) {
        const tf_layer_t *lw = &m->layer[l];
        /* qkv: the product, the adapters' updates, then each of this thread's heads */
        low_rank_down(l, 0, hidden, own_normed, stride, t);
        publish_low_rank(t);
        product_rows(lw->qkv, lw->qkv_bias, hidden, own_normed, stride, batch.qkv, batch.qkv_stride, qkv_from, qkv_to, s);
        await_low_rank(t);
        low_rank_up_rows(l, 0, QKV_MEMBERS, qkv_offsets, 3, qkv_rows, batch.qkv, batch.qkv_stride, qkv_from, qkv_to);
        for (int head = qkv_from / head_dim; head < qkv_to / head_dim; head++) {
            after_qkv_head(l, head);
        }
        tf_team_barrier(t, threads);
        for (int item = batch.item_from[t]; item < batch.item_from[t + 1];) {
            /* this thread's consecutive query heads of one row in one pass */
            int b = item / m->heads, h_from = item % m->heads;
            int end = batch.item_from[t + 1] < (b + 1) * m->heads ? batch.item_from[t + 1] : (b + 1) * m->heads;
            attend(b, l, h_from, end - b * m->heads, s);
            item = end;
        }
        tf_team_barrier(t, threads);
        /* o */
        low_rank_down(l, 1, q_dim, batch.attention, batch.attention_stride, t);
        publish_low_rank(t);
        product_rows(lw->o, lw->o_bias, q_dim, batch.attention, batch.attention_stride, batch.projected, stride, o_from,
                     o_to, s);
        await_low_rank(t);
        low_rank_up_rows(l, 1, O_MEMBERS, SINGLE_OFFSET, 1, hidden, batch.projected, stride, o_from, o_to);
        tf_team_barrier(t, threads);
        for (int b = 0; b < n; b++) {
            float *h = own_hidden + (int64_t) b * stride, *normed = own_normed + (int64_t) b * stride;
            add_residual(h, batch.projected + (int64_t) b * stride, lw->attention_output_norm, m->eps, hidden, normed);
            rms_norm(h, lw->mlp_norm, m->eps, hidden, normed);
        }
        /* gate/up: rows [inter_from, inter_to) of both, then their activation */
        low_rank_down(l, 2, hidden, own_normed, stride, t);
        publish_low_rank(t);
        product_rows(lw->gate_up, lw->gate_up_bias, hidden, own_normed, stride, batch.gate_up, batch.gate_up_stride,
                     inter_from, inter_to, s);
        product_rows(lw->gate_up, lw->gate_up_bias, hidden, own_normed, stride, batch.gate_up, batch.gate_up_stride,
                     inter + inter_from, inter + inter_to, s);
        await_low_rank(t);
        low_rank_up_rows(l, 2, GATE_UP_MEMBERS, gate_up_offsets, 2, 2 * inter, batch.gate_up, batch.gate_up_stride,
                         inter_from, inter_to);
        low_rank_up_rows(l, 2, GATE_UP_MEMBERS, gate_up_offsets, 2, 2 * inter, batch.gate_up, batch.gate_up_stride,
                         inter + inter_from, inter + inter_to);
        for (int b = 0; inter_from < inter_to && b < n; b++) {
            float *gate_up = batch.gate_up + (int64_t) b * batch.gate_up_stride + inter_from;
            float *activation = batch.activation + (int64_t) b * batch.activation_stride + inter_from;
            if (m->activation == TF_GELU_TANH) {
                geglu(gate_up, gate_up + inter, inter_to - inter_from, activation);
            } else {
                swiglu(gate_up, gate_up + inter, inter_to - inter_from, activation);
            }
        }
        tf_team_barrier(t, threads);
        /* down */
        low_rank_down(l, 3, inter, batch.activation, batch.activation_stride, t);
        publish_low_rank(t);
        product_rows(lw->down, lw->down_bias, inter, batch.activation, batch.activation_stride, batch.projected, stride,
                     down_from, down_to, s);
        await_low_rank(t);
        low_rank_up_rows(l, 3, DOWN_MEMBERS, SINGLE_OFFSET, 1, hidden, batch.projected, stride, down_from, down_to);
        tf_team_barrier(t, threads);
        for (int b = 0; b < n; b++) {
            float *h = own_hidden + (int64_t) b * stride, *normed = own_normed + (int64_t) b * stride;
            add_residual(h, batch.projected + (int64_t) b * stride, lw->mlp_output_norm, m->eps, hidden, normed);
            before_layer(b, l + 1, h, normed, t);
        }
    }
    /* the head, for the rows that want logits */
    int wanting = 0;
    for (int b = 0; b < n; b++) {
        if (batch.rows[b].logits) {
            s->x[wanting] = own_normed + (int64_t) b * stride;
            s->y[wanting] = batch.rows[b].logits;
            wanting++;
        }
    }
    int from, to;
    product_share(m->vocab, t, threads, &from, &to);
    if (wanting > 0 && from < to) {
        rows_multi(m->dtype, m->lm_head, hidden, wanting, s->x, s->y, from, to, s->regrouped,
                   (const float **) s->y + n, bf16_dot_in_hardware);
    }
    tf_team_barrier(t, threads);
}

/* The most low-rank rows of any projection group of any row's adapter. */
static int most_low_rank_rows(const tf_model_t *m, const tf_batch_row_t *rows, int n) {
    int most = 0;
    for (int b = 0; b < n; b++) {
        const tf_adapter_layer_t *a = rows[b].adapter;
        if (!a || (b > 0 && a == rows[b - 1].adapter)) {
            continue;
        }
        for (int l = 0; l < m->layers; l++) {
            for (int g = 0; g < GROUPS; g++) {
                most = a[l].groups[g].rows > most ? (int) a[l].groups[g].rows : most;
            }
        }
    }
    return most;
}

/* Grows *block to at least `floats` floats (64-byte aligned, contents dropped); -1 where it could not. */
static int grow_block(float **block, size_t *capacity, size_t floats) {
    if (floats <= *capacity) {
        return 0;
    }
    size_t grown = floats + floats / 2;
    float *fresh = aligned_alloc(64, (grown * sizeof(float) + 63) & ~(size_t) 63);
    if (!fresh) {
        return -1;
    }
    free(*block);
    *block = fresh;
    *capacity = grown;
    return 0;
}

/* Splits attention's (row, query head) items among the threads by the positions each reads. */
static void share_attention(const tf_model_t *m, const tf_batch_row_t *rows, int n, int threads) {
    const int heads = m->heads;
    int64_t total = 0;
    for (int b = 0; b < n; b++) {
        total += (int64_t) (rows[b].position + 1) * heads;
    }
    int64_t done = 0;
    int t = 1;
    batch.item_from[0] = 0;
    for (int item = 0; item < n * heads && t < threads; item++) {
        /* a thread's items begin where the positions read so far reach its share of the total */
        while (t < threads && done >= total * t / threads) {
            batch.item_from[t++] = item;
        }
        done += rows[item / heads].position + 1;
    }
    while (t <= threads) {
        batch.item_from[t++] = n * heads;
    }
}

static int prepare(const tf_model_t *m, const tf_batch_row_t *rows, int n, int threads) {
    int hidden = m->hidden, inter = m->inter, q_dim = m->heads * m->head_dim;
    int qkv_rows = q_dim + 2 * m->kv_heads * m->head_dim;
    batch.hidden_stride = up16(hidden);
    batch.qkv_stride = up16(qkv_rows);
    batch.attention_stride = up16(q_dim);
    batch.gate_up_stride = up16(2 * inter);
    batch.activation_stride = up16(inter);
    batch.low_rank_stride = up16(most_low_rank_rows(m, rows, n));
    size_t per_row = (size_t) batch.hidden_stride + batch.qkv_stride + batch.attention_stride
                     + batch.gate_up_stride + batch.activation_stride + batch.low_rank_stride;
    if (grow_block(&batch.shared, &batch.shared_floats, per_row * n)) {
        return -1;
    }
    float *p = batch.shared;
    batch.projected = p; p += (size_t) n * batch.hidden_stride;
    batch.qkv = p; p += (size_t) n * batch.qkv_stride;
    batch.attention = p; p += (size_t) n * batch.attention_stride;
    batch.gate_up = p; p += (size_t) n * batch.gate_up_stride;
    batch.activation = p; p += (size_t) n * batch.activation_stride;
    batch.low_rank = p;
    int positions = 1;
    for (int b = 0; b < n; b++) {
        positions = rows[b].position + 1 > positions ? (int) rows[b].position + 1 : positions;
    }
    int widest = hidden > inter ? hidden : inter;
    widest = widest > q_dim ? widest : q_dim;
    /* its rows' hidden states and normed inputs, the regrouped inputs, the queries, the scores, and 3n pointers (a
     * product's x, y, regrouped x) */
    size_t states = (size_t) 2 * n * batch.hidden_stride;
    size_t regrouped = (size_t) n * up16(widest), q = up16(QUERIES_AT_ONCE * m->head_dim);
    size_t scores = up16((int64_t) QUERIES_AT_ONCE * positions), pointers = up16(3 * (int64_t) n * sizeof(void *) / 4);
    for (int t = 0; t < threads; t++) {
        batch_scratch_t *s = &batch.scratch[t];
        if (grow_block(&s->block, &s->capacity_floats, states + regrouped + q + scores + pointers)) {
            return -1;
        }
        s->hidden = s->block;
        s->normed = s->hidden + (size_t) n * batch.hidden_stride;
        s->regrouped = s->normed + (size_t) n * batch.hidden_stride;
        s->q = s->regrouped + regrouped;
        s->scores = s->q + q;
        s->x = (const float **) (s->scores + scores);
        s->y = (float **) (s->x + n);
    }
    share_attention(m, rows, n, threads);
    return 0;
}

/*
 * After a step the workers spin ~55 µs (2^11 pauses of ~27 ns), not the single-token decoder's ~7 ms, before they
 * sleep: between steps the batch thread chooses tokens and hands text to the HTTP threads for 1-3 ms, and a worker
 * spinning on the other core meanwhile made each woken HTTP thread preempt the batch thread. Waking a sleeping worker
 * costs tens of microseconds against a step's milliseconds.
 */
#define BATCH_IDLE_SPINS (1 << 11)

int32_t tuneforge_team_decode_batch(const tf_model_t *model, const tf_batch_row_t *rows, int32_t n,
                                    int32_t page_positions, int32_t bf16_cache) {
    if (!dtype_multiplies(model->dtype)) {
        return -2;
    }
    if (n <= 0) {
        return 0;
    }
    int threads = tf_team_enter(model->threads);
    if (threads == 0) {
        return 1;
    }
    if (prepare(model, rows, n, threads)) {
        tf_team_leave();
        return -1;
    }
    batch.model = model;
    batch.rows = rows;
    batch.n = n;
    batch.page_positions = page_positions;
    batch.bf16_cache = bf16_cache;
    batch.threads = threads;
    tf_team_run_resting(step, BATCH_IDLE_SPINS);
    tf_team_leave();
    return 0;
}

void *tuneforge_pages_map(int64_t bytes) {
    void *p = mmap(NULL, (size_t) bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void tuneforge_pages_unmap(void *pages, int64_t bytes) {
    munmap(pages, (size_t) bytes);
}

/*
 * For tests: y[b * rows + r] = w[r] . x[b * cols ..] for every row and each of the n inputs, by the batched product of
 * `dtype`, on the calling thread; bf16 by VDPBF16PS unless `emulated` (or the CPU lacks it). Returns 0; -1 without
 * memory; -2 for a dtype without a product.
 */
int32_t tuneforge_batch_product(int32_t dtype, const void *w, int32_t rows, int32_t cols, int32_t n, const float *x,
                                float *y, int32_t emulated) {
    if (!dtype_multiplies(dtype)) {
        return -2;
    }
    float *work = aligned_alloc(64, sizeof(float) * ((size_t) n * up16(cols) + 16));
    void **pointers = malloc(sizeof(void *) * 3 * (size_t) (n > 0 ? n : 1));
    if (!work || !pointers) {
        free(work);
        free(pointers);
        return -1;
    }
    const float **xs = (const float **) pointers;
    float **ys = (float **) pointers + n;
    for (int b = 0; b < n; b++) {
        xs[b] = x + (int64_t) b * cols;
        ys[b] = y + (int64_t) b * rows;
    }
    rows_multi(dtype, w, cols, n, xs, ys, 0, rows, work, (const float **) pointers + 2 * n,
               bf16_dot_in_hardware && !emulated);
    free(work);
    free(pointers);
    return 0;
}

/* 1 where bf16 products run on VDPBF16PS, else 0. */
int32_t tuneforge_bf16_dot_in_hardware(void) {
    return bf16_dot_in_hardware;
}
