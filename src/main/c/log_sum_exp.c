/*
 * log(sum(e^x)) over a row of logits, for the log-probabilities of the chosen and top tokens: the largest value, then
 * e^(x - max) sixteen at a time with the team's exponential (exp16), summed in double in a fixed order (two
 * accumulators of eight lanes each, over the row in order), so the same logits give the same bits whichever
 * thread and whenever it runs (the Java Vector API's lanewise EXP did not: interpreted and compiled code differed).
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "team_internal.h"

double tuneforge_log_sum_exp(const float *x, int32_t n) {
    if (n <= 0) {
        return -INFINITY;
    }
    __m512 most = _mm512_set1_ps(-INFINITY);
    int nan = 0;
    for (int32_t i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + i);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0;
        most = _mm512_max_ps(most, v);
    }
    float max = _mm512_reduce_max_ps(most);
    if (nan) {
        return NAN;
    }
    if (isinf(max)) {
        return max; /* every value -infinity (nothing to sum), or one +infinity */
    }
    __m512d low = _mm512_setzero_pd(), high = low;
    for (int32_t i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_set1_ps(max)));
        e = _mm512_maskz_mov_ps(k, e);
        low = _mm512_add_pd(low, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        high = _mm512_add_pd(high, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(low, high));
    return max + log(sum);
}
