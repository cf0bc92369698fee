#!/usr/bin/env bash
# Remakes the Q8_0 GGUF fixtures with llama.cpp itself (not needed to build or test Tuneforge; see README.md).
# Usage: make_fixtures.sh LLAMA_CPP_DIR SHARED_MODELS_DIR
set -euo pipefail
llama=$1 models=$2 here=$(cd "$(dirname "$0")" && pwd) tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in stories260K tiny-qwen3 tiny-gemma3; do
  PYTHONPATH="$llama/gguf-py" python3 "$here/hf_to_gguf.py" "$models/$m/hf" "$models/stories260K/original/tok512.bin" "$tmp/$m-F32.gguf"
  "$llama/build/bin/llama-quantize" "$tmp/$m-F32.gguf" "$here/$m-Q8_0.gguf" Q8_0 1
done
# llama.cpp's own greedy continuations of the stories260K Q8_0 file (64 tokens, one thread), for GgufBaseTest
python3 - "$llama/build/bin/llama-completion" "$here/stories260K-Q8_0.gguf" "$here/stories260K-Q8_0.llama-cpp-greedy.json" <<'PY'
import json, subprocess, sys
exe, model, out = sys.argv[1:]
cases = []
for prompt in ["Once upon a time", "Lily wanted to", "1", "The cat", "Zoo"]:
    text = subprocess.run([exe, "-m", model, "-p", prompt, "-n", "64", "--temp", "0", "-t", "1", "-no-cnv",
                           "--no-warmup"], capture_output=True, text=True, check=True).stdout
    # llama.cpp prints the prompt as decoded, with SentencePiece's dummy-prefix space
    cases.append({"prompt": prompt, "text": text.removeprefix(" ").rstrip("\n")})
json.dump({"tool": "llama-completion -n 64 --temp 0 -t 1", "max_new_tokens": 64, "cases": cases}, open(out, "w"), indent=1)
PY
