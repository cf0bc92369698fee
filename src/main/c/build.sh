#!/usr/bin/env bash
# Compiles the decoder's native code (row_pairs.c: the matrix-vector loops; q8_rows.c: those of Q8_0 weights;
# team_decoder.c: the team decoder; team_batch.c: the batched team decoder; log_sum_exp.c: log-probabilities' normaliser) into
# OUT_DIR/libtuneforge-decoder.so, for x86-64 Linux with gcc. Anywhere else, or without gcc, it says so and builds
# nothing: the Java decoder then runs, with its Java loop. Never fails the build.
set -u
out_dir=$1
src_dir=$(cd "$(dirname "$0")" && pwd)
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "native decoder: not built ($(uname -s)-$(uname -m)); the Java decoder runs"
  exit 0
fi
if ! command -v gcc >/dev/null 2>&1; then
  echo "native decoder: not built (no gcc); the Java decoder runs"
  exit 0
fi
mkdir -p "$out_dir"
if gcc -O3 -std=c11 -mavx512f -mavx512bw -mavx512dq -shared -fPIC -Wall -Werror \
    -o "$out_dir/libtuneforge-decoder.so" "$src_dir/row_pairs.c" "$src_dir/q8_rows.c" "$src_dir/team_decoder.c" "$src_dir/team_batch.c" "$src_dir/log_sum_exp.c" -lm -lpthread; then
  echo "native decoder: built $out_dir/libtuneforge-decoder.so"
else
  rm -f "$out_dir/libtuneforge-decoder.so"
  echo "native decoder: gcc failed; the Java decoder runs"
fi
exit 0
