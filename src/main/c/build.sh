#!/usr/bin/env bash
# Compiles the decoder's native matrix-vector loop (row_pairs.c) into OUT_DIR/libtuneforge-row-pairs.so, for
# x86-64 Linux with gcc. Anywhere else, or without gcc, it says so and builds nothing: the decoder then runs its
# Java loop. Never fails the build.
set -u
out_dir=$1
src_dir=$(cd "$(dirname "$0")" && pwd)
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "native row-pairs loop: not built ($(uname -s)-$(uname -m)); the decoder uses its Java loop"
  exit 0
fi
if ! command -v gcc >/dev/null 2>&1; then
  echo "native row-pairs loop: not built (no gcc); the decoder uses its Java loop"
  exit 0
fi
mkdir -p "$out_dir"
if gcc -O3 -std=c11 -mavx512f -mavx512bw -mavx512dq -shared -fPIC -Wall -Werror \
    -o "$out_dir/libtuneforge-row-pairs.so" "$src_dir/row_pairs.c" "$src_dir/team_decoder.c" -lm -lpthread; then
  echo "native row-pairs loop: built $out_dir/libtuneforge-row-pairs.so"
else
  rm -f "$out_dir/libtuneforge-row-pairs.so"
  echo "native row-pairs loop: gcc failed; the decoder uses its Java loop"
fi
exit 0
