#!/usr/bin/python3
"""Regenerates the golden files of tests/unit/golden_test.cpp (see README.md beside this file).

Trains data/examples/seed/net.toml with cnndiag for 100 iterations on one thread (float32, seed
1, as the config says), then writes from the last checkpoint:
  seed-losses.txt       the first 10 losses, as exact hex floats (and decimals for people)
  seed-params-100.h5    every parameter after 100 steps, float32 as trained (exact)

Usage: /usr/bin/python3 tests/data/golden/make_golden.py [path/to/cnndiag]  (default build/cnndiag)
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
ITERATIONS, LOSSES = 100, 10


def main():
    binary = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build/cnndiag"
    version = subprocess.run([binary, "--version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([binary, "train", "--config", ROOT / "data/examples/seed/net.toml",
                        "--iterations", str(ITERATIONS), "--threads", "1", "--out", tmp,
                        "--quiet"], check=True)
        with h5py.File(Path(tmp) / f"ckpt-{ITERATIONS:08d}.h5", "r") as f:
            assert f.attrs["dtype"] in ("float32", b"float32")
            iterations = np.array(f["history/iteration"])[:LOSSES]
            losses = np.array(f["history/loss"], dtype=np.float64)[:LOSSES]
            order = f["params"].attrs["order"]
            keys = (order.decode() if isinstance(order, bytes) else order).split(",")
            params = {k: np.array(f["params/" + k.replace(".", "/")]) for k in keys}

    with open(HERE / "seed-losses.txt", "w") as out:
        out.write("# The first 10 losses of data/examples/seed/net.toml: float32, 1 thread, seed 1.\n")
        out.write(f"# Made by tests/data/golden/make_golden.py with {version}.\n")
        out.write("# iteration, loss as an exact hex float (the double cnndiag computes), decimal\n")
        for it, loss in zip(iterations, losses):
            out.write(f"{int(it)} {float(loss).hex()} {float(loss):.17g}\n")
    with h5py.File(HERE / "seed-params-100.h5", "w") as f:
        f.attrs["source"] = "tests/data/golden/make_golden.py"
        f.attrs["cnndiag_version"] = version
        f.attrs["iteration"] = ITERATIONS
        f.attrs["order"] = ",".join(keys)
        for k, v in params.items():
            assert v.dtype == np.float32
            f.create_dataset("params/" + k.replace(".", "/"), data=v, track_times=False)
    print(f"{HERE}: losses {losses[0]:.9g} .. {losses[-1]:.9g}; {len(params)} parameter tensors")


if __name__ == "__main__":
    main()
