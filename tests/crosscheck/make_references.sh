#!/usr/bin/env bash
# Regenerates the cross-check files under tests/data/crosscheck/ (see README.md beside this file):
# the initial checkpoints written by cnndiag, and PyTorch's float64 training from them.
#   usage: tests/crosscheck/make_references.sh [path/to/cnndiag]     (default: build/cnndiag)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/build/cnndiag}"
data="$root/tests/data/crosscheck"
py=/usr/bin/python3   # Debian's python3 with numpy, h5py and python3-torch
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$py" "$root/tests/crosscheck/make_classification_data.py" "$data/cls-data.h5"

# name  config  steps
while read -r name config steps; do
  "$bin" train --config "$data/$config" --iterations 0 --out "$tmp/$name" --quiet
  cp "$tmp/$name/ckpt-00000000.h5" "$data/$name-ckpt-0.h5"
  "$py" "$root/tests/crosscheck/torch_reference.py" "$data/$name-ckpt-0.h5" --steps "$steps" \
        --out "$data/$name-torch.h5"
done <<'LIST'
seed-f64 seed-f64.toml 100
cls cls.toml 50
LIST
