#!/usr/bin/env python3
"""Write a float32 GGUF of a Hugging Face model folder the way llama.cpp's convert_hf_to_gguf.py does (--outtype f32),
for machines without torch/transformers (that script imports torch): same tensor names, the same q/k row permutation
for llama-architecture models (LlamaModel.permute), Gemma 3's norms stored as 1 + w (Gemma3Model.norm_shift), the
same hyperparameter keys. llama-quantize then makes the Q8_0 file (make_fixtures.sh).

The tokenizer: the fixtures share stories260K's SentencePiece-style vocabulary, written as llama.cpp's "llama"
tokenizer with the piece scores of stories260K's original tok512.bin (as convert_llama2c_to_gguf.py does); tokens past
512 are the folder's added tokens (CONTROL).

Usage: PYTHONPATH=llama.cpp/gguf-py python3 hf_to_gguf.py HF_DIR TOK512_BIN OUT.gguf
Supported: LlamaForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM, float32 safetensors (one file).
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(info["shape"])
    return out


def read_tok512(path):
    """llama2.c's tokenizer file: max_token_length, then per token: float score, int length, bytes."""
    raw = Path(path).read_bytes()
    at = 4
    pieces, scores = [], []
    while at < len(raw):
        score, length = struct.unpack("<fi", raw[at:at + 8])
        at += 8
        pieces.append(raw[at:at + length].decode("utf-8"))
        scores.append(score)
        at += length
    return pieces, scores


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: each head's rotary halves interleaved back into pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    hf, tok512, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    cfg = json.loads((hf / "config.json").read_text())
    tok = json.loads((hf / "tokenizer.json").read_text())
    arch = {"LlamaForCausalLM": "llama", "Qwen3ForCausalLM": "qwen3", "Gemma3ForCausalLM": "gemma3"}[cfg["architectures"][0]]
    E, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim") or E // H
    V = cfg["vocab_size"]

    w = gguf.GGUFWriter(out, arch)
    w.add_name(hf.parent.name if hf.name == "hf" else hf.name)
    w.add_block_count(L)
    w.add_context_length(cfg.get("max_position_embeddings", 4096))
    w.add_embedding_length(E)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_key_length(D)
    w.add_value_length(D)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if arch == "llama":
        w.add_vocab_size(V)
        w.add_rope_dimension_count(D)
    if arch == "gemma3":
        w.add_sliding_window(cfg["sliding_window"])
        w.add_rope_freq_base_swa(float(cfg.get("rope_local_base_freq", 10000.0)))

    pieces, scores = read_tok512(tok512)
    vocab = {v: k for k, v in tok["model"]["vocab"].items()}
    for t in tok["added_tokens"]:
        vocab[t["id"]] = t["content"]
    tokens, token_scores, types = [], [], []
    for i in range(V):
        text = vocab[i]
        tokens.append(text)
        token_scores.append(scores[i] if i < len(scores) else -1000.0)
        if i == 0:
            types.append(gguf.TokenType.UNKNOWN)
        elif i in (1, 2) or i >= len(scores):
            types.append(gguf.TokenType.CONTROL)
        elif text.startswith("<0x") and len(text) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(token_scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(cfg["bos_token_id"])
    eos = cfg["eos_token_id"]
    w.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    w.add_add_bos_token(True)

    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    layer = {
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
    }
    if arch == "gemma3":
        layer.update({"post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
                      "post_feedforward_layernorm": "post_ffw_norm"})
    else:
        layer["post_attention_layernorm"] = "ffn_norm"

    for name, t in read_safetensors(hf / "model.safetensors").items():
        if name.startswith("model.layers."):
            parts = name.split(".")
            module, kind = ".".join(parts[3:-1]), parts[-1]
            new = f"blk.{parts[2]}.{layer[module]}.{kind}"
        else:
            new = names[name]
        t = t.astype(np.float32)
        if arch == "llama" and name.endswith("q_proj.weight"):
            t = permute(t, H)
        if arch == "llama" and name.endswith("k_proj.weight"):
            t = permute(t, KV)
        if arch == "gemma3" and name.endswith("norm.weight"):
            t = t + np.float32(1.0)
        w.add_tensor(new, np.ascontiguousarray(t))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
