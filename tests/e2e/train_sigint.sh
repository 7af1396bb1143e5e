#!/usr/bin/env bash
# End-to-end: Ctrl-C during `cnndiag train` writes a checkpoint of the last finished step and
# exits 130; that checkpoint is readable (`cnndiag inspect` exits 0).
#   usage: train_sigint.sh CNNDIAG CONFIG OUT_DIR
# Robust on a busy machine: it waits for the first checkpoint by polling (not a blind sleep), and
# every wait is bounded (60 s), after which the training is killed and the test fails.
set -u
bin=$1 config=$2 out=$3
log="$out.log"
rm -rf "$out" "$log"
fail() { echo "FAIL: $*"; echo "--- cnndiag output:"; cat "$log"; exit 1; }

# A run far longer than the test: only SIGINT can end it.
"$bin" train --config "$config" --iterations 1000000000 --out "$out" >"$log" 2>&1 &
pid=$!

# The checkpoint of iteration 0 appears (atomically renamed into place) once training has begun,
# after the SIGINT handler is installed.
for _ in $(seq 600); do
  [[ -e "$out/ckpt-00000000.h5" ]] && break
  kill -0 "$pid" 2>/dev/null || fail "cnndiag exited before writing a checkpoint"
  sleep 0.1
done
if [[ ! -e "$out/ckpt-00000000.h5" ]]; then
  kill -KILL "$pid"
  fail "no checkpoint within 60 s"
fi

kill -INT "$pid"
for _ in $(seq 600); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid"
  fail "still running 60 s after SIGINT"
fi
wait "$pid"
rc=$?
[[ $rc -eq 130 ]] || fail "exit code $rc, expected 130"
grep -q "interrupted after iteration [0-9]*; checkpoint written to" "$log" ||
  fail "no 'interrupted after iteration N; checkpoint written to' message"

last=$(ls "$out"/ckpt-*.h5 | sort | tail -n 1)
[[ "$last" != "$out/ckpt-00000000.h5" ]] || fail "no checkpoint after iteration 0"
ls "$out" | grep -q '\.tmp$' && fail "a temporary file was left behind"
"$bin" inspect "$last" >"$out.inspect" 2>&1 || { cat "$out.inspect"; fail "cnndiag inspect $last failed"; }
echo "ok: exit 130, last checkpoint $(basename "$last") readable"
