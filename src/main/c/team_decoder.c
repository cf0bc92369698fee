/*
 * The single-token decoder of a Llama-family model (LlamaDecoder's arithmetic) run by all cores as one team: every
 * thread keeps its own copy of the hidden state and does the norms, residual additions, RoPE and SwiGLU itself, and
 * each takes a fixed share of every matrix-vector product and of attention's positions; the threads meet at a spin
 * barrier after each product and after attention (five barriers a layer). Nothing but the products' outputs, the
 * parts of the adapter's A x and attention's partial results crosses between cores, where the Java decoder (one
 * parallel job per step, the calling core doing the serial work) hands every step's input and output across: when
 * the two vCPUs of the VM this was written on sit far apart (a cache line's round trip ~400 ns) that held SmolLM2 at
 * 63-73% of the memory bandwidth (bench/performance-log.md, "The team decoder").
 *
 * The structs it reads are declared in team_decoder.h, the contract with the Java side (TeamLayouts).
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stddef.h>

#include "q8_rows.h"
#include "team_decoder.h"
#include "team_internal.h"

void tuneforge_bf16_row_quads_by_halves(const uint16_t *w, int32_t cols, const float *regrouped, const float *x,
                                        float *y, int32_t from, int32_t to, const int32_t offsets[3]);
void tuneforge_f32_row_pairs(const float *w, int32_t cols, const float *x, float *y, int32_t from, int32_t to,
                             int32_t offset);
void tuneforge_even_odd(const float *x, int32_t cols, float *regrouped);
void tuneforge_bf16_row_pairs_by_halves(const uint16_t *w, int32_t cols, const float *regrouped, const float *x,
                                        float *y, int32_t from, int32_t to, int32_t offset);

#define FIELD(type, field) if (strcmp(name, #type) == 0 && strcmp(member, #field) == 0) return offsetof(type, field)

int64_t tuneforge_offset_of(const char *name, const char *member) {
    FIELD(tf_layer_t, qkv); FIELD(tf_layer_t, o); FIELD(tf_layer_t, gate_up); FIELD(tf_layer_t, down);
    FIELD(tf_layer_t, input_norm); FIELD(tf_layer_t, mlp_norm); FIELD(tf_layer_t, attention_output_norm);
    FIELD(tf_layer_t, mlp_output_norm); FIELD(tf_layer_t, q_norm); FIELD(tf_layer_t, k_norm);
    FIELD(tf_layer_t, qkv_bias); FIELD(tf_layer_t, o_bias); FIELD(tf_layer_t, gate_up_bias);
    FIELD(tf_layer_t, down_bias); FIELD(tf_layer_t, window); FIELD(tf_layer_t, rope);
    FIELD(tf_model_t, hidden); FIELD(tf_model_t, heads); FIELD(tf_model_t, kv_heads); FIELD(tf_model_t, head_dim);
    FIELD(tf_model_t, inter); FIELD(tf_model_t, layers); FIELD(tf_model_t, vocab); FIELD(tf_model_t, dtype);
    FIELD(tf_model_t, threads); FIELD(tf_model_t, activation); FIELD(tf_model_t, eps);
    FIELD(tf_model_t, attention_scale); FIELD(tf_model_t, ropes); FIELD(tf_model_t, lm_head);
    FIELD(tf_model_t, final_norm); FIELD(tf_model_t, layer);
    FIELD(tf_adapter_layer_t, groups); FIELD(tf_adapter_layer_t, projections); FIELD(tf_adapter_layer_t, bf16);
    FIELD(tf_cache_layer_t, keys); FIELD(tf_cache_layer_t, values);
    FIELD(tf_cache_t, capacity); FIELD(tf_cache_t, bf16); FIELD(tf_cache_t, layer);
    FIELD(tf_batch_row_t, adapter); FIELD(tf_batch_row_t, pages); FIELD(tf_batch_row_t, cos);
    FIELD(tf_batch_row_t, sin); FIELD(tf_batch_row_t, hidden_in); FIELD(tf_batch_row_t, normed_out);
    FIELD(tf_batch_row_t, logits); FIELD(tf_batch_row_t, position);
    return -1;
}

int64_t tuneforge_size_of(const char *name) {
    if (strcmp(name, "tf_layer_t") == 0) return sizeof(tf_layer_t);
    if (strcmp(name, "tf_model_t") == 0) return sizeof(tf_model_t);
    if (strcmp(name, "tf_adapter_layer_t") == 0) return sizeof(tf_adapter_layer_t);
    if (strcmp(name, "tf_cache_layer_t") == 0) return sizeof(tf_cache_layer_t);
    if (strcmp(name, "tf_cache_t") == 0) return sizeof(tf_cache_t);
    if (strcmp(name, "tf_batch_row_t") == 0) return sizeof(tf_batch_row_t);
    return -1;
}

typedef struct {
    const tf_model_t *model;
    const tf_adapter_layer_t *adapter;
    const tf_cache_t *cache;
    int32_t position;
    const float *cos, *sin, *hidden_in;
    float *normed_out, *logits;
} job_t;

/* Per-thread scratch, grown as needed. */
typedef struct {
    float *hidden, *normed, *attention, *activation, *q, *kv, *scores, *low_rank, *regrouped;
    size_t capacity_floats;
    float *block;
    int low_rank_sequence; /* A x parts this thread has published (see product) */
} scratch_t;

/* A thread's exchange slot: the sequence number of its latest part of A x (see product), then that part. */
typedef struct {
    atomic_int sequence;
    float rows[];
} exchange_slot_t;

/* Touched only by the caller holding busy, and by the workers during a token. */
static struct {
    atomic_int busy;
    int started; /* worker threads running */
    _Alignas(64) atomic_int generation;
    _Alignas(64) atomic_int sleepers;
    atomic_int idle_spins; /* pauses a worker spins after its job before it sleeps */
    _Alignas(64) job_t job;
    void (*run)(int t); /* the job's function: token, or team_batch.c's step */
    /* each thread's count of barriers reached, on a line of its own */
    struct { _Alignas(64) atomic_int count; } arrivals[MAX_THREADS];
    int threads;
    int start_generation;
    /* shared outputs of the products and attention's parts */
    float *shared;
    size_t shared_floats;
    /* per thread, on lines of its own: its exchange slot (exchange_slot_t), exchange_stride bytes apart */
    char *exchange;
    size_t exchange_bytes;
    size_t exchange_stride;
    scratch_t scratch[MAX_THREADS];
} team;



/*
 * Each thread counts the barriers it has reached on a line of its own and waits until every other count is as far:
 * arriving is a store to a line this core already holds, where a shared counter needs its line fetched.
 */
static void barrier(int t, int threads) {
    int mine = atomic_load_explicit(&team.arrivals[t].count, memory_order_relaxed) + 1;
    atomic_store_explicit(&team.arrivals[t].count, mine, memory_order_release);
    for (int p = 0; p < threads; p++) {
        /* a count may already be one further: the thread has passed this barrier and reached the next */
        while ((int) ((unsigned) atomic_load_explicit(&team.arrivals[p].count, memory_order_acquire)
                      - (unsigned) mine) < 0) {
            _mm_pause();
        }
    }
}



/* out = e^in for n floats with exp16: the team's exponential, for tests */
void tuneforge_vector_exp(const float *in, float *out, int32_t n) {
    for (int32_t i = 0; i < n; i += 16) {
        __mmask16 k = first_lanes(n - i);
        _mm512_mask_storeu_ps(out + i, k, exp16(_mm512_maskz_loadu_ps(k, in + i)));
    }
}


/*
 * Rows [from, to) of y = W x in pairs (row r with row r + half), as WeightMatrix does; bf16 rows against x regrouped
 * by tuneforge_even_odd.
 */
static void rows(const void *w, int dtype, int cols, const float *x, const float *regrouped, float *y, int from, int to,
                 int offset) {
    if (from >= to) {
        return;
    }
    if (dtype == TF_Q8_0) {
        /* regrouped holds x quantized (tuneforge_q8_0_quantize_activation) */
        tuneforge_q8_0_row_pairs((const uint8_t *) w, cols, (const uint8_t *) regrouped, y, from, to, offset);
    } else if (dtype == TF_BF16) {
        tuneforge_bf16_row_pairs_by_halves((const uint16_t *) w, cols, regrouped, x, y, from, to, offset);
    } else {
        tuneforge_f32_row_pairs((const float *) w, cols, x, y, from, to, offset);
    }
}

/*
 * Where thread t's share of a product's row pairs begins: an equal part, rounded down to 16 rows so that the
 * threads' outputs meet at a cache line boundary (no line written by two cores).
 */
static inline int split(int half, int t, int threads) {
    return t == threads ? half : (int) (((int64_t) half * t / threads) & ~(int64_t) 15);
}

/*
 * The rows of thread t's fixed share of a product, as two ranges: a slice of the row pairs' first rows and the same
 * slice half the matrix on, where the last thread also takes an odd last row.
 */
static void share_ranges(int rows_count, int t, int threads, int range[4]) {
    int half = rows_count / 2;
    int from = split(half, t, threads), to = split(half, t + 1, threads);
    range[0] = from;
    range[1] = to;
    range[2] = from + half;
    range[3] = to + half + ((rows_count & 1) && t == threads - 1 ? 1 : 0);
}

/*
 * y = W x on the rows of a share (share_ranges): in pairs, row r with row r + half, and the odd last row alone. With
 * four_streams (bf16 only) the share's row pairs go two pairs at a time, the second from the middle of the share, so
 * that the core streams through four places in memory instead of two: a layer's products of Qwen2.5-0.5B (shares of
 * 0.8-4.4 MB a core) decoded 2.7% faster with the vCPUs far apart, SmolLM2's (0.3-1.8 MB) as fast; the head, a share
 * of 28-136 MB, 0.3-0.8% slower (bench/performance-log.md, "In the eighth session").
 */
static void share(const void *w, int dtype, int rows_count, int cols, const float *x, float *y, const int range[4],
                  scratch_t *s, int four_streams) {
    int half = rows_count / 2;
    int bf16 = dtype == TF_BF16;
    const float *regrouped = NULL;
    if (bf16) {
        tuneforge_even_odd(x, cols, s->regrouped);
        regrouped = s->regrouped;
    } else if (dtype == TF_Q8_0) {
        tuneforge_q8_0_quantize_activation(x, cols, (uint8_t *) s->regrouped);
        regrouped = s->regrouped;
    }
    int from = range[0];
    if (bf16 && four_streams) {
        int m = (range[1] - range[0]) / 2;
        const int32_t offsets[3] = {m, half, half + m};
        tuneforge_bf16_row_quads_by_halves((const uint16_t *) w, cols, regrouped, x, y, from, from + m, offsets);
        from += 2 * m; /* an odd pair left over */
    }
    rows(w, dtype, cols, x, regrouped, y, from, range[1], half);
    if (range[3] > range[1] + half) {
        rows(w, dtype, cols, x, regrouped, y, rows_count - 1, rows_count, 0);
    }
}

static inline exchange_slot_t *exchange_slot(int t) {
    return (exchange_slot_t *) (team.exchange + (size_t) t * team.exchange_stride);
}

/*
 * y[lo, hi) += up^T tm, y's rows from `offset` on being up's columns (up [rank, out], float32 or bf16 widened as it is
 * read): sixteen rows at a time, the rank rows read side by side.
 */
static inline __attribute__((always_inline)) void add_up_of(const void *up, int bf16, int rank, int out, int offset,
                                                            const float *tm, float *y, int lo, int hi) {
    int r = lo;
    for (; r + 16 <= hi; r += 16) {
        __m512 acc = _mm512_loadu_ps(y + r);
        for (int j = 0; j < rank; j++) {
            acc = _mm512_fmadd_ps(load16_of(up, bf16, (int64_t) j * out + r - offset), _mm512_set1_ps(tm[j]), acc);
        }
        _mm512_storeu_ps(y + r, acc);
    }
    for (; r < hi; r++) {
        float sum = y[r];
        for (int j = 0; j < rank; j++) {
            sum += load1_of(up, bf16, (int64_t) j * out + r - offset) * tm[j];
        }
        y[r] = sum;
    }
}

/*
 * One projection group's product: this thread's share of y = W x, then on the same rows the bias and each member's
 * low-rank update up^T t. Each thread computes its part of t = A x first and publishes it with a sequence number;
 * after its share of the product it collects the other threads' parts (long since written by then, so the wait
 * costs a cache line's transfer, not a barrier's) and adds up^T t to its rows.
 */
static void product(const tf_model_t *model, const tf_adapter_layer_t *adapter_layer, int group, const int *member_projections,
                    const int *member_offsets, int members, const void *w, const float *bias, int rows_count,
                    int cols, const float *x, float *y, scratch_t *s, int t, int threads) {
    const void *stacked = adapter_layer ? adapter_layer->groups[group].stacked : NULL;
    int low_rank_rows = stacked ? (int) adapter_layer->groups[group].rows : 0;
    if (stacked) {
        int lo = low_rank_rows * t / threads, hi = low_rank_rows * (t + 1) / threads;
        low_rank_rows_times_x(stacked, NULL, (int) adapter_layer->bf16, lo, hi - lo, cols, x, exchange_slot(t)->rows);
        atomic_store_explicit(&exchange_slot(t)->sequence, ++s->low_rank_sequence, memory_order_release);
    }
    int range[4];
    share_ranges(rows_count, t, threads, range);
    share(w, model->dtype, rows_count, cols, x, y, range, s, 1);
    for (int part = 0; bias && part < 2; part++) {
        for (int r = range[2 * part]; r < range[2 * part + 1]; r++) {
            y[r] += bias[r];
        }
    }
    if (!stacked) {
        return;
    }
    /* a thread's slot holds this group's part until the group's barrier, which it cannot pass before us */
    for (int p = 0; p < threads; p++) {
        while (atomic_load_explicit(&exchange_slot(p)->sequence, memory_order_acquire) != s->low_rank_sequence) {
            _mm_pause();
        }
        int lo = low_rank_rows * p / threads, hi = low_rank_rows * (p + 1) / threads;
        memcpy(s->low_rank + lo, exchange_slot(p)->rows, sizeof(float) * (hi - lo));
    }
    for (int part = 0; part < 2; part++) {
        int from = range[2 * part], to = range[2 * part + 1];
        int low_rank_at = 0;
        for (int m = 0; m < members; m++) {
            int p = member_projections[m];
            const void *up = adapter_layer->projections[p].up;
            int rank = (int) adapter_layer->projections[p].rank;
            if (!up || rank == 0) {
                continue;
            }
            int out = (m + 1 < members ? member_offsets[m + 1] : rows_count) - member_offsets[m];
            int lo = from > member_offsets[m] ? from : member_offsets[m];
            int hi = to < member_offsets[m] + out ? to : member_offsets[m] + out;
            if (adapter_layer->bf16) {
                add_up_of(up, 1, rank, out, member_offsets[m], s->low_rank + low_rank_at, y, lo, hi);
            } else {
                add_up_of(up, 0, rank, out, member_offsets[m], s->low_rank + low_rank_at, y, lo, hi);
            }
            low_rank_at += rank;
        }
    }
}


static void token(int t) {
    const job_t *job = &team.job;
    const tf_model_t *m = job->model;
    const int threads = team.threads;
    const int hidden = m->hidden, heads = m->heads, kv_heads = m->kv_heads;
    const int head_dim = m->head_dim, inter = m->inter, layers = m->layers;
    const int vocab = m->vocab;
    const double eps = m->eps;
    const int q_dim = heads * head_dim, kv_dim = kv_heads * head_dim, qkv_rows = q_dim + 2 * kv_dim;
    const int group = heads / kv_heads, half = head_dim / 2;
    const int position = job->position, positions = position + 1;
    const int64_t capacity = job->cache->capacity;
    const int bf16_cache = (int) job->cache->bf16;
    const float scale = m->attention_scale;
    scratch_t *s = &team.scratch[t];
    float *qkv = team.shared, *projected = qkv + up16(qkv_rows), *gate_up = projected + up16(hidden);
    /* per thread, on lines of its own: each head's largest score and sum of exponentials; its weighted sums */
    const int parts_stride = up16(2 * heads), out_stride = up16(q_dim);
    float *parts = gate_up + up16(2 * inter), *part_out = parts + threads * parts_stride;
    static const int qkv_members[] = {0, 1, 2}, o_members[] = {3}, gate_up_members[] = {4, 5}, down_members[] = {6};
    const int qkv_offsets[] = {0, q_dim, q_dim + kv_dim}, single_offset[] = {0}, gate_up_offsets[] = {0, inter};

    memcpy(s->hidden, job->hidden_in, sizeof(float) * hidden);
    for (int l = 0; l < layers; l++) {
        const tf_layer_t *lw = &m->layer[l];
        const tf_adapter_layer_t *aw = job->adapter ? &job->adapter[l] : NULL;
        const float *cos = job->cos + (int64_t) lw->rope * half, *sin = job->sin + (int64_t) lw->rope * half;
        /* this thread's positions of every head: its share of the layer's window */
        const int first = lw->window > 0 && positions > lw->window ? positions - lw->window : 0;
        const int from = first + (int) ((int64_t) (positions - first) * t / threads);
        const int to = first + (int) ((int64_t) (positions - first) * (t + 1) / threads);
        rms_norm(s->hidden, lw->input_norm, eps, hidden, s->normed);
        product(m, aw, 0, qkv_members, qkv_offsets, 3, lw->qkv, lw->qkv_bias, qkv_rows, hidden, s->normed, qkv, s, t,
                threads);
        barrier(t, threads);

        /* this position's keys (rotated) and values, kept privately; thread 0 stores them in the cache */
        void *keys_base = job->cache->layer[l].keys;
        void *values_base = job->cache->layer[l].values;
        float *keys_now = s->kv, *values_now = s->kv + kv_dim;
        memcpy(keys_now, qkv + q_dim, sizeof(float) * kv_dim);
        memcpy(values_now, qkv + q_dim + kv_dim, sizeof(float) * kv_dim);
        for (int h = 0; h < kv_heads; h++) {
            if (lw->k_norm) {
                rms_norm(keys_now + h * head_dim, lw->k_norm, eps, head_dim, keys_now + h * head_dim);
            }
            rotate(keys_now + h * head_dim, cos, sin, half);
        }
        if (bf16_cache) {
            /* attention reads this position as the cache holds it: rounded to bf16 */
            for (int i = 0; i < 2 * kv_dim; i++) {
                keys_now[i] = bf16_to_float(float_to_bf16(keys_now[i]));
            }
        }
        if (t == 0) {
            for (int h = 0; h < kv_heads; h++) {
                int64_t index = ((int64_t) h * capacity + position) * head_dim;
                if (bf16_cache) {
                    for (int d = 0; d < head_dim; d++) {
                        ((uint16_t *) keys_base)[index + d] = float_to_bf16(keys_now[h * head_dim + d]);
                        ((uint16_t *) values_base)[index + d] = float_to_bf16(values_now[h * head_dim + d]);
                    }
                } else {
                    memcpy((float *) keys_base + index, keys_now + h * head_dim, sizeof(float) * head_dim);
                    memcpy((float *) values_base + index, values_now + h * head_dim, sizeof(float) * head_dim);
                }
            }
        }
        /* attention over positions [from, to) for every head, unnormalised (combined below, as flash-decoding) */
        float *out = part_out + (int64_t) t * out_stride;
        const int n = to - from;
        for (int kv = 0; kv < kv_heads; kv++) {
            const int64_t head_base = (int64_t) kv * capacity * head_dim;
            /* the query heads sharing this key head, a few at a time: each key and value row is read once for them */
            for (int h0 = kv * group; h0 < (kv + 1) * group; h0 += QUERIES_AT_ONCE) {
                const int queries = (kv + 1) * group - h0 < QUERIES_AT_ONCE ? (kv + 1) * group - h0 : QUERIES_AT_ONCE;
                float *q = s->q;
                memset(q, 0, sizeof(float) * QUERIES_AT_ONCE * head_dim);
                for (int i = 0; i < queries; i++) {
                    memcpy(q + i * head_dim, qkv + (h0 + i) * head_dim, sizeof(float) * head_dim);
                    if (lw->q_norm) {
                        rms_norm(q + i * head_dim, lw->q_norm, eps, head_dim, q + i * head_dim);
                    }
                    rotate(q + i * head_dim, cos, sin, half);
                }
                float *scores = s->scores; /* [QUERIES_AT_ONCE, n] */
                for (int p = from; p < to; p++) {
                    float dots[QUERIES_AT_ONCE];
                    query_dots(p == position ? current_row(keys_now + kv * head_dim)
                                             : cached_row(keys_base, bf16_cache, head_base + (int64_t) p * head_dim),
                               q, head_dim, dots);
                    for (int i = 0; i < queries; i++) {
                        scores[i * n + p - from] = dots[i] * scale;
                    }
                }
                for (int i = 0; i < queries; i++) {
                    float max = -INFINITY;
                    for (int p = 0; p < n; p++) {
                        max = scores[i * n + p] > max ? scores[i * n + p] : max;
                    }
                    parts[t * parts_stride + h0 + i] = max;
                    parts[t * parts_stride + heads + h0 + i] = exp_minus(scores + i * n, n, max);
                    memset(out + (h0 + i) * head_dim, 0, sizeof(float) * head_dim);
                }
                for (int p = from; p < to; p++) {
                    add_weighted(p == position ? current_row(values_now + kv * head_dim)
                                               : cached_row(values_base, bf16_cache, head_base + (int64_t) p * head_dim),
                                 scores + p - from, n, queries, head_dim, out + h0 * head_dim);
                }
            }
        }
        barrier(t, threads);
        for (int h = 0; h < heads; h++) {
            float max = -INFINITY;
            for (int p = 0; p < threads; p++) {
                if (parts[p * parts_stride + h] > max) {
                    max = parts[p * parts_stride + h];
                }
            }
            float sum = 0;
            float *a = s->attention + h * head_dim;
            memset(a, 0, sizeof(float) * head_dim);
            for (int p = 0; p < threads; p++) {
                float part_sum = parts[p * parts_stride + heads + h];
                if (part_sum == 0) {
                    continue; /* a thread without positions */
                }
                float weight = expf(parts[p * parts_stride + h] - max);
                sum += weight * part_sum;
                const float *o = part_out + (int64_t) p * out_stride + h * head_dim;
                for (int d = 0; d < head_dim; d++) {
                    a[d] += weight * o[d];
                }
            }
            for (int d = 0; d < head_dim; d++) {
                a[d] /= sum;
            }
        }
        product(m, aw, 1, o_members, single_offset, 1, lw->o, lw->o_bias, hidden, q_dim, s->attention, projected, s,
                t, threads);
        barrier(t, threads);
        add_residual(s->hidden, projected, lw->attention_output_norm, eps, hidden, s->normed);
        rms_norm(s->hidden, lw->mlp_norm, eps, hidden, s->normed);
        product(m, aw, 2, gate_up_members, gate_up_offsets, 2, lw->gate_up, lw->gate_up_bias, 2 * inter, hidden,
                s->normed, gate_up, s, t, threads);
        barrier(t, threads);
        if (m->activation == TF_GELU_TANH) {
            geglu(gate_up, gate_up + inter, inter, s->activation);
        } else {
            swiglu(gate_up, gate_up + inter, inter, s->activation);
        }
        /* projected is free again: every thread added it to its hidden state before the gate/up barrier */
        product(m, aw, 3, down_members, single_offset, 1, lw->down, lw->down_bias, hidden, inter, s->activation,
                projected, s, t, threads);
        barrier(t, threads);
        add_residual(s->hidden, projected, lw->mlp_output_norm, eps, hidden, s->normed);
        /* the next layer's first write to projected (its o product) comes after two more barriers */
    }
    rms_norm(s->hidden, m->final_norm, eps, hidden, s->normed);
    if (t == 0) {
        memcpy(job->normed_out, s->normed, sizeof(float) * hidden);
    }
    int range[4];
    share_ranges(vocab, t, threads, range);
    share(m->lm_head, m->dtype, vocab, hidden, s->normed, job->logits, range, s, 0);
    barrier(t, threads);
}

static long futex(atomic_int *address, int op, int value) {
    return syscall(SYS_futex, (int *) address, op, value, NULL, NULL, 0);
}

static void *worker(void *arg) {
    int t = (int) (intptr_t) arg;
    /* the generation before the job that started this thread: that job is bumped after the thread exists */
    int seen = team.start_generation;
    for (;;) {
        int spins = 0;
        int g;
        while ((g = atomic_load_explicit(&team.generation, memory_order_acquire)) == seen) {
            if (++spins < atomic_load_explicit(&team.idle_spins, memory_order_relaxed)) {
                _mm_pause();
            } else {
                atomic_fetch_add(&team.sleepers, 1);
                futex(&team.generation, FUTEX_WAIT_PRIVATE, seen);
                atomic_fetch_sub(&team.sleepers, 1);
                spins = 0;
            }
        }
        seen = g;
        team.run(t);
    }
    return NULL;
}

/* The most low-rank rows of any projection group of the adapter (0 without one): each thread's A x scratch. */
static int most_low_rank_rows(const tf_model_t *m, const tf_adapter_layer_t *adapter) {
    int most = 0;
    for (int64_t l = 0; adapter && l < m->layers; l++) {
        for (int g = 0; g < GROUPS; g++) {
            int rows_count = (int) adapter[l].groups[g].rows;
            most = rows_count > most ? rows_count : most;
        }
    }
    return most;
}

static int grow(scratch_t *s, const tf_model_t *m, int positions, int low_rank_rows) {
    int hidden = m->hidden, q_dim = m->heads * m->head_dim;
    int kv_dim = m->kv_heads * m->head_dim, inter = m->inter;
    int widest = hidden > inter ? hidden : inter;
    widest = widest > q_dim ? widest : q_dim;
    size_t need = (size_t) 2 * hidden + q_dim + inter + QUERIES_AT_ONCE * m->head_dim + 2 * kv_dim
                  + (size_t) QUERIES_AT_ONCE * positions + low_rank_rows + widest
                  + widest / 2 + 48; /* regrouped also holds x quantized: 3 bytes a column and a pair's 192 */
    if (need > s->capacity_floats) {
        size_t capacity = need * 2;
        float *block = aligned_alloc(64, ((capacity * sizeof(float)) + 63) & ~(size_t) 63);
        if (!block) {
            return -1;
        }
        free(s->block);
        s->block = block;
        s->capacity_floats = capacity;
    }
    float *p = s->block;
    s->hidden = p; p += hidden;
    s->normed = p; p += hidden;
    s->attention = p; p += q_dim;
    s->activation = p; p += inter;
    s->q = p; p += QUERIES_AT_ONCE * m->head_dim;
    s->kv = p; p += 2 * kv_dim;
    s->scores = p; p += (size_t) QUERIES_AT_ONCE * positions;
    s->low_rank = p; p += low_rank_rows;
    s->regrouped = p;
    return 0;
}

void tf_team_barrier(int t, int threads) {
    barrier(t, threads);
}

int tf_team_enter(int wanted) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&team.busy, &expected, 1)) {
        return 0;
    }
    if (team.started == 0) {
        team.threads = wanted < 1 ? 1 : wanted > MAX_THREADS ? MAX_THREADS : wanted;
    }
    /* fixed once the workers run */
    team.start_generation = atomic_load(&team.generation);
    while (team.started < team.threads - 1) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker, (void *) (intptr_t) (team.started + 1)) != 0) {
            /* run with the threads that did start */
            team.threads = team.started + 1;
            break;
        }
        pthread_detach(thread);
        team.started++;
    }
    return team.threads;
}

void tf_team_run_resting(void (*job)(int t), int idle_spins) {
    atomic_store_explicit(&team.idle_spins, idle_spins, memory_order_relaxed);
    team.run = job;
    atomic_fetch_add_explicit(&team.generation, 1, memory_order_release);
    if (atomic_load(&team.sleepers) > 0) {
        futex(&team.generation, FUTEX_WAKE_PRIVATE, MAX_THREADS);
    }
    job(0);
}

void tf_team_run(void (*job)(int t)) {
    tf_team_run_resting(job, 1 << 18);
}

void tf_team_leave(void) {
    atomic_store(&team.busy, 0);
}

/*
 * Decodes one token; returns 0, or 1 when the team is busy with another sequence's token (the caller then decodes
 * this one itself), or -1 when scratch memory could not be allocated.
 */
int32_t tuneforge_team_decode(const tf_model_t *model, const tf_adapter_layer_t *adapter, const tf_cache_t *cache,
                              int32_t position, const float *cos, const float *sin, const float *hidden_in,
                              float *normed_out, float *logits) {
    int threads = tf_team_enter(model->threads);
    if (threads == 0) {
        return 1;
    }
    int failed = 0;
    int low_rank_rows = most_low_rank_rows(model, adapter);
    for (int t = 0; t < threads && !failed; t++) {
        failed = grow(&team.scratch[t], model, position + 1, low_rank_rows);
    }
    int hidden = model->hidden, heads = model->heads, q_dim = heads * model->head_dim;
    int qkv_rows = q_dim + 2 * model->kv_heads * model->head_dim;
    size_t shared = up16(qkv_rows) + up16(hidden) + up16(2 * model->inter)
                    + (size_t) threads * (up16(2 * heads) + up16(q_dim));
    if (!failed && shared > team.shared_floats) {
        float *block = aligned_alloc(64, ((shared * 2 * sizeof(float)) + 63) & ~(size_t) 63);
        if (block) {
            free(team.shared);
            team.shared = block;
            team.shared_floats = shared * 2;
        } else {
            failed = -1;
        }
    }
    /* the exchange slots of A x parts: a sequence number and a thread's rows, whole lines per thread */
    size_t stride = (sizeof(exchange_slot_t) + sizeof(float) * (size_t) low_rank_rows + 63) & ~(size_t) 63;
    if (!failed && stride * threads > team.exchange_bytes) {
        char *block = aligned_alloc(64, stride * threads);
        if (block) {
            free(team.exchange);
            team.exchange = block;
            team.exchange_bytes = stride * threads;
            team.exchange_stride = stride;
            /* a fresh slot must not look published: sequence numbers start from each thread's count */
            for (int t = 0; t < threads; t++) {
                atomic_init(&exchange_slot(t)->sequence, team.scratch[t].low_rank_sequence);
            }
        } else {
            failed = -1;
        }
    }
    if (failed) {
        tf_team_leave();
        return -1;
    }
    team.job = (job_t) { model, adapter, cache, position, cos, sin, hidden_in, normed_out, logits };
    tf_team_run(token);
    tf_team_leave();
    return 0;
}
