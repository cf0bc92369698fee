/*
 * The Q8_0 loops of q8_rows.c (llama.cpp's Q8_0 rows: ceil(cols / 32) blocks of {fp16 d, 32 int8 q}, a partial last
 * block zero past the last column), for the decoders in this directory.
 */
#ifndef TUNEFORGE_Q8_ROWS_H
#define TUNEFORGE_Q8_ROWS_H

#include <stdint.h>

/* Bytes x of cols columns takes quantized (tuneforge_q8_0_quantize_activation) */
int64_t tuneforge_q8_0_activation_bytes(int32_t cols);
/* x quantized per block of 32 as the loops read it */
void tuneforge_q8_0_quantize_activation(const float *x, int32_t cols, uint8_t *out);
/* y[r] = w[r, :] . x for rows [from, to), each with row r + offset (0: alone); xq from the function above */
void tuneforge_q8_0_row_pairs(const uint8_t *w, int32_t cols, const uint8_t *xq, float *y, int32_t from, int32_t to,
                              int32_t offset);
/*
 * y[b][r] = (row r of w) . x[b] for rows [from, to) and vectors [0, n), each x[b] quantized here: every result is bit
 * for bit tuneforge_q8_0_row_pairs' for the same x, whatever n and the range.
 */
void tuneforge_q8_0_rows_multi(const uint8_t *w, int32_t cols, int32_t n, const float *const *x, float *const *y,
                               int32_t from, int32_t to);
/* rows [0, rows) as float32 [rows, cols] */
void tuneforge_q8_0_dequantize(const uint8_t *w, int32_t cols, int64_t rows, float *out);
/* whether the loops use AVX512-VNNI (checked at run time) */
int32_t tuneforge_q8_0_uses_vnni(void);

#endif
