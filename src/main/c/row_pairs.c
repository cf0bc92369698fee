/*
 * The single-token decoders' matrix-vector loops in C, for x86-64 with AVX-512: rows [from, to) each with row
 * r + offset (or, four at a time, with rows r + offsets[0..2]), y[r] = w[r, :] . x, the rows' lines loaded side by
 * side, float32 FMAs into two accumulators per row and the tail in scalar code. Compiled ahead of time they stream
 * weights faster than the JIT's code for the Java loop (bench/performance-log.md, "A native loop"); the team decoder and
 * the Java decoder (WeightMatrix) both use them.
 */
#include <immintrin.h>
#include <stdint.h>

static inline float from_bf16(uint16_t v) {
    union { uint32_t u; float f; } bits = { (uint32_t) v << 16 };
    return bits.f;
}

/*
 * x's columns regrouped for tuneforge_bf16_row_pairs_by_halves: in each block of 32, the 16 even columns, then the 16
 * odd ones (a 64-byte line of bf16 holds the even columns in its words' low halves, the odd ones in the high halves).
 */
void tuneforge_even_odd(const float *x, int32_t cols, float *regrouped) {
    int32_t vec = cols - cols % 32;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int32_t c = 0; c < vec; c += 32) {
        __m512 low = _mm512_loadu_ps(x + c), high = _mm512_loadu_ps(x + c + 16);
        _mm512_storeu_ps(regrouped + c, _mm512_permutex2var_ps(low, even, high));
        _mm512_storeu_ps(regrouped + c + 16, _mm512_permutex2var_ps(low, odd, high));
    }
}

/*
 * bf16 rows, each 64-byte line of weights widened by a shift (the even columns) and a mask (the odd ones) against x
 * regrouped by tuneforge_even_odd (the tail in scalar code reads x itself): three instructions fewer a line than
 * two zero-extending conversions and two shifts, so more lines in flight.
 */
void tuneforge_bf16_row_pairs_by_halves(const uint16_t *w, int32_t cols, const float *regrouped, const float *x,
                                        float *y, int32_t from, int32_t to, int32_t offset) {
    int32_t vec = cols - cols % 32;
    const __m512i high = _mm512_set1_epi32((int32_t) 0xffff0000);
    for (int32_t r = from; r < to; r++) {
        const uint16_t *a = w + (int64_t) r * cols;
        const uint16_t *b = w + (int64_t) (r + offset) * cols;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
        int32_t c = 0;
        for (; c < vec; c += 32) {
            __m512 even = _mm512_loadu_ps(regrouped + c);
            __m512 odd = _mm512_loadu_ps(regrouped + c + 16);
            __m512i wa = _mm512_loadu_si512((const void *) (a + c));
            __m512i wb = _mm512_loadu_si512((const void *) (b + c));
            a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wa, 16)), even, a0);
            a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wa, high)), odd, a1);
            b0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wb, 16)), even, b0);
            b1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wb, high)), odd, b1);
        }
        float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        float t = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
        for (; c < cols; c++) {
            s += from_bf16(a[c]) * x[c];
            t += from_bf16(b[c]) * x[c];
        }
        y[r] = s;
        y[r + offset] = t;
    }
}

/*
 * As tuneforge_bf16_row_pairs_by_halves with four rows at once: rows [from, to) each with rows r + offsets[0],
 * r + offsets[1] and r + offsets[2]. Four places apart in memory, four streams. Written out rather than sharing an
 * inlined n-rows helper with the pairs loop: gcc compiled that helper to shifts and masks reading memory (each line
 * loaded twice) and decoding was 5% slower (Qwen2.5-0.5B, vCPUs far).
 */
void tuneforge_bf16_row_quads_by_halves(const uint16_t *w, int32_t cols, const float *regrouped, const float *x,
                                        float *y, int32_t from, int32_t to, const int32_t offsets[3]) {
    int32_t vec = cols - cols % 32;
    const __m512i high = _mm512_set1_epi32((int32_t) 0xffff0000);
    for (int32_t r = from; r < to; r++) {
        const uint16_t *a = w + (int64_t) r * cols;
        const uint16_t *b = w + (int64_t) (r + offsets[0]) * cols;
        const uint16_t *c2 = w + (int64_t) (r + offsets[1]) * cols;
        const uint16_t *d = w + (int64_t) (r + offsets[2]) * cols;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        int32_t c = 0;
        for (; c < vec; c += 32) {
            __m512 even = _mm512_loadu_ps(regrouped + c);
            __m512 odd = _mm512_loadu_ps(regrouped + c + 16);
            __m512i wa = _mm512_loadu_si512((const void *) (a + c));
            __m512i wb = _mm512_loadu_si512((const void *) (b + c));
            __m512i wc = _mm512_loadu_si512((const void *) (c2 + c));
            __m512i wd = _mm512_loadu_si512((const void *) (d + c));
            a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wa, 16)), even, a0);
            a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wa, high)), odd, a1);
            b0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wb, 16)), even, b0);
            b1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wb, high)), odd, b1);
            c0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wc, 16)), even, c0);
            c1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wc, high)), odd, c1);
            d0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(wd, 16)), even, d0);
            d1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(wd, high)), odd, d1);
        }
        float sa = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)), sb = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
        float sc = _mm512_reduce_add_ps(_mm512_add_ps(c0, c1)), sd = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
        for (; c < cols; c++) {
            sa += from_bf16(a[c]) * x[c];
            sb += from_bf16(b[c]) * x[c];
            sc += from_bf16(c2[c]) * x[c];
            sd += from_bf16(d[c]) * x[c];
        }
        y[r] = sa;
        y[r + offsets[0]] = sb;
        y[r + offsets[1]] = sc;
        y[r + offsets[2]] = sd;
    }
}

void tuneforge_f32_row_pairs(const float *w, int32_t cols, const float *x, float *y, int32_t from, int32_t to,
                             int32_t offset) {
    int32_t vec = cols - cols % 32;
    for (int32_t r = from; r < to; r++) {
        const float *a = w + (int64_t) r * cols;
        const float *b = w + (int64_t) (r + offset) * cols;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
        int32_t c = 0;
        for (; c < vec; c += 32) {
            __m512 x0 = _mm512_loadu_ps(x + c);
            __m512 x1 = _mm512_loadu_ps(x + c + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + c), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + c + 16), x1, a1);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(b + c), x0, b0);
            b1 = _mm512_fmadd_ps(_mm512_loadu_ps(b + c + 16), x1, b1);
        }
        float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        float t = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
        for (; c < cols; c++) {
            s += a[c] * x[c];
            t += b[c] * x[c];
        }
        y[r] = s;
        y[r + offset] = t;
    }
}
