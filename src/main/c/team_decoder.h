/*
 * The contract between the Java side (dev.tuneforge.engine.model.TeamLayouts, which writes these structs with the
 * FFM API) and the team decoder. TeamLayoutsTest compares every field's offset and every struct's size below with
 * the Java layouts through tuneforge_offset_of / tuneforge_size_of, so a change on one side alone fails the build's
 * tests. All pointers are native addresses owned by the Java side; NULL where a model or adapter has no such tensor.
 */
#ifndef TUNEFORGE_TEAM_DECODER_H
#define TUNEFORGE_TEAM_DECODER_H

#include <stdint.h>

/* Architecture.Activation */
enum { TF_SILU = 0, TF_GELU_TANH = 1 };

/* tf_model_t.dtype: how the projection and head matrices are stored (WeightDtype on the Java side) */
enum { TF_F32 = 0, TF_BF16 = 1, TF_Q8_0 = 2 };

/* One decoder layer. Matrices are row-major [rows, cols] in the model's dtype (tf_model_t.dtype); norms and biases
 * float32. Norm weights are stored as the multiplier (Gemma's 1 + w already added). */
typedef struct {
    const void *qkv, *o, *gate_up, *down;
    const float *input_norm, *mlp_norm;
    const float *attention_output_norm, *mlp_output_norm; /* Gemma's sandwich norms, else NULL */
    const float *q_norm, *k_norm;                         /* per-head q/k RMSNorm [head_dim], else NULL */
    const float *qkv_bias, *o_bias, *gate_up_bias, *down_bias;
    int32_t window; /* sliding window: query i sees keys i - window + 1 .. i; 0 for full attention */
    int32_t rope;   /* which of the job's cos/sin rows (head_dim / 2 each) rotates this layer */
} tf_layer_t;

typedef struct {
    int32_t hidden, heads, kv_heads, head_dim, inter, layers, vocab, dtype, threads, activation;
    double eps;
    float attention_scale;
    int32_t ropes;
    const void *lm_head;
    const float *final_norm;
    const tf_layer_t *layer; /* [layers] */
} tf_model_t;

/* An adapter's low-rank matrices for one layer: for each of the 4 projection groups (q/k/v, o, gate/up, down) the
 * stacked A rows ([rows, in]); for each of the 7 projections (q, k, v, o, gate, up, down) its up matrix (B
 * transposed with the scale folded in, [rank, out]) and rank (0: no update); all float32, or all bf16 where bf16 is 1
 * (the products still sum in float32). */
typedef struct {
    struct { const void *stacked; int64_t rows; } groups[4];
    struct { const void *up; int64_t rank; } projections[7];
    int64_t bf16;
} tf_adapter_layer_t;

typedef struct {
    void *keys, *values; /* [kv_heads, capacity, head_dim] in float32 or bf16 */
} tf_cache_layer_t;

typedef struct {
    int64_t capacity;
    int64_t bf16;
    const tf_cache_layer_t *layer; /* [layers] */
} tf_cache_t;

/* offsetof(type, field) for the structs above by name ("tf_layer_t", "window"); -1 where unknown */
int64_t tuneforge_offset_of(const char *type, const char *field);
/* sizeof(type) by name; -1 where unknown */
int64_t tuneforge_size_of(const char *type);

/*
 * Decodes one token from hidden_in (the scaled embedding): cos and sin hold model->ropes rows of head_dim / 2; on
 * return normed_out is the final norm's output and logits the head's. adapter: per layer, or NULL.
 */
int32_t tuneforge_team_decode(const tf_model_t *model, const tf_adapter_layer_t *adapter, const tf_cache_t *cache,
                              int32_t position, const float *cos, const float *sin, const float *hidden_in,
                              float *normed_out, float *logits);

/*
 * One row of a batched step (tuneforge_team_decode_batch): one token of one sequence at that sequence's position.
 * pages: the sequence's KV cache pages in position order; a page holds page_positions positions of every layer's keys
 * and values: per layer, keys [kv_heads, page_positions, head_dim] then values the same, in bf16 or float32.
 */
typedef struct {
    const tf_adapter_layer_t *adapter; /* per layer, or NULL: the base model */
    void *const *pages;
    const float *cos, *sin;            /* model->ropes rows of head_dim / 2, at this row's position */
    const float *hidden_in;            /* the scaled embedding [hidden] */
    float *normed_out;                 /* the final norm's output [hidden], or NULL */
    float *logits;                     /* [vocab], or NULL: the head is skipped for this row */
    int64_t position;
} tf_batch_row_t;

/*
 * Decodes n rows in one pass over the weights (team_batch.c): each row's keys and values are stored at its position
 * and it attends to its sequence's positions up to its own, so a run of rows of one sequence is a causal prompt chunk.
 * A row's results do not depend on the other rows of the step. Returns 0; 1 when the team is busy with another job;
 * -1 when scratch memory could not be allocated; -2 for a weight dtype it cannot multiply.
 */
int32_t tuneforge_team_decode_batch(const tf_model_t *model, const tf_batch_row_t *rows, int32_t n,
                                    int32_t page_positions, int32_t bf16_cache);

/* KV pages straight from the system (mmap), given back whole (munmap): NULL where none could be mapped. */
void *tuneforge_pages_map(int64_t bytes);
void tuneforge_pages_unmap(void *pages, int64_t bytes);

#endif
