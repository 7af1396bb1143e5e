#!/usr/bin/env bash
# One command for the whole benchmark suite (BENCH.md): builds what is missing, then runs cnndiag
# and the PyTorch peer interleaved (cnndiag, torch, cnndiag, torch, …) at 1 and 2 threads, and
# prints the table of medians, ratios, GFLOP/s and fraction of the measured FMA peak. Raw JSON
# lines go to bench/results/<timestamp>/, the table also to docs/bench.md's "Latest run" section
# when --update-docs is given.
#
#   bench/run.sh [--rounds 3] [--repeats 2] [--quiet-wait 30] [--bench b1,b2,b3] [--update-docs]
#
# Each round runs every (network, threads) once per tool with --repeats timed repeats, so a tool
# gets rounds × repeats repeats in all (default 3 × 2 = 6 ≥ 5), spread over the run's time window.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${CNNDIAG_BUILD_DIR:-$root/build}"
rounds=3 repeats=2 quiet_wait=30 benches="b1,b2,b3" update_docs=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --quiet-wait) quiet_wait="$2"; shift 2 ;;
    --bench) benches="$2"; shift 2 ;;
    --update-docs) update_docs=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

py=/usr/bin/python3   # Debian's python, with python3-torch
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "run.sh: PyTorch is missing: apt-get install -y python3-torch" >&2
  exit 2
fi

# Build (Release) if the binaries are missing or stale.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target cnndiag_bench cnndiag_fma_peak >/dev/null

# The peer's BLAS, pinned per command: OpenBLAS (pthread build) when installed, one thread per
# torch thread via torch.set_num_threads and OPENBLAS_NUM_THREADS; else Debian's reference BLAS
# (what libblas.so.3 points to by default here).
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [[ -f "$openblas/libblas.so.3" ]]; then
  blas_path="$openblas" blas_name="openblas-pthread"
else
  blas_path="" blas_name="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || echo unknown)"
  echo "run.sh: OpenBLAS not installed (apt-get install -y libopenblas0-pthread); torch uses $blas_name" >&2
fi
# glibc: keep freed memory in the heap instead of returning it (mmap/munmap on every step).
tunables="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456"

out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "results: $out" >&2

run_cnndiag() {  # bench threads
  "$build/bench/cnndiag_bench" --bench "$1" --threads "$2" --repeats "$repeats" \
    --quiet-wait "$quiet_wait" >> "$out/cnndiag.jsonl"
}
run_torch() {  # bench threads
  env LD_LIBRARY_PATH="$blas_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    OPENBLAS_NUM_THREADS="$2" OMP_NUM_THREADS="$2" MKL_NUM_THREADS="$2" \
    GLIBC_TUNABLES="$tunables" CNNDIAG_BENCH_BLAS="$blas_name" \
    "$py" "$here/peer_torch.py" --bench "$1" --threads "$2" --repeats "$repeats" \
    --quiet-wait "$quiet_wait" >> "$out/torch.jsonl"
}

IFS=, read -r -a bench_list <<< "$benches"
for round in $(seq 1 "$rounds"); do
  # The FMA peak moves with host load like everything else: measured every round, the report
  # uses the highest value seen.
  "$build/bench/cnndiag_fma_peak" >> "$out/fma_peak.jsonl"
  for b in "${bench_list[@]}"; do
    for t in 1 2; do
      echo "round $round/$rounds: $b, $t thread(s)" >&2
      run_cnndiag "$b" "$t"
      run_torch "$b" "$t"
    done
  done
  # B4 (gradient checks), interleaved like the rest; then the probe of a seed checkpoint.
  echo "round $round/$rounds: b4 (gradient checks)" >&2
  "$build/bench/cnndiag_bench" --bench b4,probe --threads 1 --repeats "$repeats" \
    --quiet-wait "$quiet_wait" >> "$out/cnndiag.jsonl"
  run_torch b4 1
done

if ((update_docs)); then
  "$py" "$here/report.py" "$out" --update-docs "$root/docs/bench.md"
else
  "$py" "$here/report.py" "$out"
fi
