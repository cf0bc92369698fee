/*
 * What the team decoders (team_decoder.c: one token; team_batch.c: many rows of many sequences) share: the vector
 * helpers both compute with, so that a step of either does the same arithmetic, and the one team of threads.
 * Internal to the library: the Java side sees only team_decoder.h.
 */
#ifndef TUNEFORGE_TEAM_INTERNAL_H
#define TUNEFORGE_TEAM_INTERNAL_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { GROUPS = 4, MAX_THREADS = 64 };

/*
 * The team: one set of worker threads for the whole process, used by one job at a time. tf_team_enter takes it for
 * the caller (0 where another caller holds it, else the team's thread count, workers started on first use; wanted
 * is the count asked for the first time); tf_team_run runs job(t) on every thread t, the caller as thread 0, and
 * returns when the caller's part does (a job ends at a barrier, so all threads are done); the workers then spin ~7 ms
 * waiting for the next job before they sleep (tf_team_run_resting: idle_spins pauses instead); tf_team_leave gives it
 * back.
 */
int tf_team_enter(int wanted);
void tf_team_run(void (*job)(int t));
void tf_team_run_resting(void (*job)(int t), int idle_spins);
void tf_team_leave(void);
/* Each thread counts the barriers it reached; returns when every thread has reached this one. */
void tf_team_barrier(int t, int threads);

/* n rounded up to whole 64-byte lines of floats */
static inline int up16(int64_t n) {
    return (int) ((n + 15) & ~(int64_t) 15);
}

static inline float bf16_to_float(uint16_t v) {
    union { uint32_t u; float f; } bits = { (uint32_t) v << 16 };
    return bits.f;
}

/* Round to nearest, ties to even, NaN kept quiet: as BFloat16.round and libtorch. */
static inline uint16_t float_to_bf16(float f) {
    union { float f; uint32_t u; } bits = { f };
    if ((bits.u & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t) ((bits.u >> 16) | 0x40);
    }
    return (uint16_t) ((bits.u + 0x7fffu + ((bits.u >> 16) & 1u)) >> 16);
}

/* 16 elements of a float32 (bf16 0) or bf16 (bf16 1) array from element i on, as float32 (bf16 widens exactly) */
static inline __attribute__((always_inline)) __m512 load16_of(const void *a, int bf16, int64_t i) {
    if (bf16) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
                _mm256_loadu_si256((const __m256i *) ((const uint16_t *) a + i))), 16));
    }
    return _mm512_loadu_ps((const float *) a + i);
}

/* as load16_of, the lanes outside mask zero (and not read) */
static inline __attribute__((always_inline)) __m512 load16_masked_of(const void *a, int bf16, int64_t i, __mmask16 mask) {
    if (bf16) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
                _mm512_castsi512_si256(_mm512_maskz_loadu_epi16((__mmask32) mask, (const uint16_t *) a + i))), 16));
    }
    return _mm512_maskz_loadu_ps(mask, (const float *) a + i);
}

static inline __attribute__((always_inline)) float load1_of(const void *a, int bf16, int64_t i) {
    return bf16 ? bf16_to_float(((const uint16_t *) a)[i]) : ((const float *) a)[i];
}

/* a . b for a float32 (bf16 0) or bf16 (bf16 1, widened as it is read) and b float32 */
static inline __attribute__((always_inline)) float dot_of(const void *a, int bf16, const float *b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(load16_of(a, bf16, i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(load16_of(a, bf16, i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; i++) {
        s += load1_of(a, bf16, i) * b[i];
    }
    return s;
}

static inline float dot(const float *a, const float *b, int n) {
    return dot_of(a, 0, b, n);
}

/* a prefetch of the line holding element i of a float32 (bf16 0) or bf16 array */
static inline __attribute__((always_inline)) void prefetch_of(const void *a, int bf16, int64_t i) {
    _mm_prefetch(bf16 ? (const char *) ((const uint16_t *) a + i) : (const char *) ((const float *) a + i), _MM_HINT_T0);
}

/*
 * y[r] = A[r] . x for the rows of a group's stacked A: four rows at a time, for more loads in flight. A is float32,
 * or bf16 (bf16 1) widened to float32 as it is read: the same arithmetic on the same values either way; the last
 * rows (past a multiple of four) by dot_of. next (NULL for none): another matrix of A's shape and storage that is
 * read next, its lines prefetched as A's are read — an adapter's few kilobytes a thread reads are too short a stream
 * for the hardware prefetcher to run ahead of.
 */
static inline __attribute__((always_inline)) void low_rank_rows_times_x_of(const void *a, const void *next, int bf16,
                                                                         int rows_count, int cols, const float *x,
                                                                         float *y) {
    int r = 0;
    int vec = cols - cols % 16;
    for (; r + 4 <= rows_count; r += 4) {
        const int64_t a0 = (int64_t) r * cols, a1 = a0 + cols, a2 = a1 + cols, a3 = a2 + cols;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int c = 0;
        for (; c < vec; c += 16) {
            if (next) {
                prefetch_of(next, bf16, a0 + c);
                prefetch_of(next, bf16, a1 + c);
                prefetch_of(next, bf16, a2 + c);
                prefetch_of(next, bf16, a3 + c);
            }
            __m512 xv = _mm512_loadu_ps(x + c);
            s0 = _mm512_fmadd_ps(load16_of(a, bf16, a0 + c), xv, s0);
            s1 = _mm512_fmadd_ps(load16_of(a, bf16, a1 + c), xv, s1);
            s2 = _mm512_fmadd_ps(load16_of(a, bf16, a2 + c), xv, s2);
            s3 = _mm512_fmadd_ps(load16_of(a, bf16, a3 + c), xv, s3);
        }
        float t0 = _mm512_reduce_add_ps(s0), t1 = _mm512_reduce_add_ps(s1);
        float t2 = _mm512_reduce_add_ps(s2), t3 = _mm512_reduce_add_ps(s3);
        for (; c < cols; c++) {
            t0 += load1_of(a, bf16, a0 + c) * x[c];
            t1 += load1_of(a, bf16, a1 + c) * x[c];
            t2 += load1_of(a, bf16, a2 + c) * x[c];
            t3 += load1_of(a, bf16, a3 + c) * x[c];
        }
        y[r] = t0;
        y[r + 1] = t1;
        y[r + 2] = t2;
        y[r + 3] = t3;
    }
    for (; r < rows_count; r++) {
        y[r] = bf16 ? dot_of((const uint16_t *) a + (int64_t) r * cols, 1, x, cols)
                    : dot_of((const float *) a + (int64_t) r * cols, 0, x, cols);
    }
}

/* low_rank_rows_times_x_of for the first row `first` of A (and of next) on, compiled once for each storage */
static inline void low_rank_rows_times_x(const void *a, const void *next, int bf16, int64_t first, int rows_count,
                                         int cols, const float *x, float *y) {
    if (bf16) {
        low_rank_rows_times_x_of((const uint16_t *) a + first * cols, next ? (const uint16_t *) next + first * cols : NULL,
                                 1, rows_count, cols, x, y);
    } else {
        low_rank_rows_times_x_of((const float *) a + first * cols, next ? (const float *) next + first * cols : NULL, 0,
                                 rows_count, cols, x, y);
    }
}

/* a mask of the first min(left, 16) lanes: the whole vector, or the tail of an array */
static inline __mmask16 first_lanes(int left) {
    return left >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << left) - 1);
}

/*
 * e^x for 16 lanes, within one float step where it is a normal float (NativeExpTest): x = n ln 2 + r with
 * |r| <= ln 2 / 2 (ln 2 in two parts, as Cephes' expf), e^r by Cephes' polynomial, then scaled by 2^n (scalef also
 * gives 0 and infinity at the ends).
 */
static inline __m512 exp16(__m512 x) {
    /* the bounds first: min and max return their second operand when one is NaN, so a NaN stays NaN */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(88.8f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* activation = silu(gate) * up, sixteen at a time */
static inline void swiglu(const float *gate, const float *up, int n, float *out) {
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i);
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(k, up + i)));
    }
}

/*
 * activation = gelu_tanh(gate) * up: 0.5 g (1 + tanh(u)) = g / (1 + e^(-2u)), u = sqrt(2 / pi) (g + 0.044715 g^3)
 */
static inline void geglu(const float *gate, const float *up, int n, float *out) {
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i);
        __m512 cube = _mm512_mul_ps(_mm512_mul_ps(g, g), g);
        __m512 u2 = _mm512_mul_ps(_mm512_set1_ps(-2.0f * 0.7978845608028654f),
                                  _mm512_fmadd_ps(cube, _mm512_set1_ps(0.044715f), g));
        __m512 gelu = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(u2)));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(gelu, _mm512_maskz_loadu_ps(k, up + i)));
    }
}

/* x[i] = e^(x[i] - max); returns their sum */
static inline float exp_minus(float *x, int n, float max) {
    __m512 sum = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_set1_ps(max)));
        e = _mm512_maskz_mov_ps(k, e);
        _mm512_mask_storeu_ps(x + i, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

static inline void rms_norm(const float *x, const float *weight, double eps, int n, float *out) {
    float mean_square = dot(x, x, n) / n;
    float inv = (float) (1.0 / sqrt((double) mean_square + eps)); /* as VectorMath.rmsNorm: eps in double */
    for (int i = 0; i < n; i++) {
        out[i] = x[i] * inv * weight[i];
    }
}

static inline void rotate(float *x, const float *cos, const float *sin, int half) {
    for (int i = 0; i < half; i++) {
        float x1 = x[i], x2 = x[half + i];
        x[i] = x1 * cos[i] - x2 * sin[i];
        x[half + i] = x2 * cos[i] + x1 * sin[i];
    }
}

enum { QUERIES_AT_ONCE = 4 };

/* a key or value row: float32 (the current position's, or a float32 cache's) or bf16 */
typedef struct {
    const void *at;
    int bf16;
} kv_row_t;

static inline kv_row_t current_row(const float *row) {
    return (kv_row_t) { row, 0 };
}

static inline kv_row_t cached_row(const void *base, int bf16, int64_t index) {
    return (kv_row_t) { bf16 ? (const void *) ((const uint16_t *) base + index)
                             : (const void *) ((const float *) base + index), bf16 };
}

static inline __m512 row16(kv_row_t row, int d) {
    return load16_of(row.at, row.bf16, d);
}

static inline float row1(kv_row_t row, int d) {
    return load1_of(row.at, row.bf16, d);
}

/* dots[i] = key . q[i] for the QUERIES_AT_ONCE queries (rows of q; unused ones zero) */
static inline void query_dots(kv_row_t key, const float *q, int head_dim, float dots[QUERIES_AT_ONCE]) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int d = 0;
    for (; d + 16 <= head_dim; d += 16) {
        __m512 k = row16(key, d);
        s0 = _mm512_fmadd_ps(k, _mm512_loadu_ps(q + d), s0);
        s1 = _mm512_fmadd_ps(k, _mm512_loadu_ps(q + head_dim + d), s1);
        s2 = _mm512_fmadd_ps(k, _mm512_loadu_ps(q + 2 * head_dim + d), s2);
        s3 = _mm512_fmadd_ps(k, _mm512_loadu_ps(q + 3 * head_dim + d), s3);
    }
    dots[0] = _mm512_reduce_add_ps(s0);
    dots[1] = _mm512_reduce_add_ps(s1);
    dots[2] = _mm512_reduce_add_ps(s2);
    dots[3] = _mm512_reduce_add_ps(s3);
    for (; d < head_dim; d++) {
        float k = row1(key, d);
        for (int i = 0; i < QUERIES_AT_ONCE; i++) {
            dots[i] += k * q[i * head_dim + d];
        }
    }
}

/* out[i] += weights[i * stride] * value for the first `queries` rows of out */
static inline void add_weighted(kv_row_t value, const float *weights, int stride, int queries, int head_dim, float *out) {
    int d = 0;
    for (; d + 16 <= head_dim; d += 16) {
        __m512 v = row16(value, d);
        for (int i = 0; i < queries; i++) {
            float *o = out + i * head_dim + d;
            _mm512_storeu_ps(o, _mm512_fmadd_ps(v, _mm512_set1_ps(weights[i * stride]), _mm512_loadu_ps(o)));
        }
    }
    for (; d < head_dim; d++) {
        float v = row1(value, d);
        for (int i = 0; i < queries; i++) {
            out[i * head_dim + d] += weights[i * stride] * v;
        }
    }
}

/* hidden += y, or hidden += norm(y) where the architecture normalises the block's output (scratch: hidden floats) */
static inline void add_residual(float *hidden, const float *y, const float *output_norm, double eps, int n, float *scratch) {
    if (output_norm) {
        rms_norm(y, output_norm, eps, n, scratch);
        y = scratch;
    }
    for (int i = 0; i < n; i++) {
        hidden[i] += y[i];
    }
}

#endif
