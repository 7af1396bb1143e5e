#!/usr/bin/python3
"""Writes the benchmark networks' data: b1.h5, b2.h5, b3.h5 (one batch each, float32, nchw).

BENCH.md (shared) defines the networks; these files only let `cnndiag train --config bN.toml`
run the same network from the command line. The benchmark executable (bench/cnndiag_bench.cpp)
and the PyTorch peer (bench/peer_torch.py) pre-generate their own 16 batches in memory.

  b1.h5  /X (32,1,20,20) uniform [0,1)      /y (32,4) uniform [0,1)     (B1 "seed")
  b2.h5  /X (64,1,28,28) N(0,1)             /y (64,)  labels 0..9       (B2 "lenet")
  b3.h5  /X (64,3,32,32) N(0,1)             /y (64,)  labels 0..9       (B3 "convnet")

Deterministic (numpy's PCG64 with fixed seeds; HDF5 written without object timestamps), so the
files are byte-for-byte reproducible:  /usr/bin/python3 make_data.py
"""

import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, x, y, note):
    path = os.path.join(HERE, name)
    with h5py.File(path, "w", track_order=False) as f:
        f.create_dataset("X", data=x, track_times=False)
        f.create_dataset("y", data=y, track_times=False)
        f.attrs["layout"] = "nchw"
        f.attrs["origin"] = note


def main():
    rng = np.random.Generator(np.random.PCG64(20240601))
    write("b1.h5", rng.random((32, 1, 20, 20), dtype=np.float32),
          rng.random((32, 4), dtype=np.float32), "BENCH.md B1: inputs and targets uniform [0,1)")
    rng = np.random.Generator(np.random.PCG64(20240602))
    write("b2.h5", rng.standard_normal((64, 1, 28, 28), dtype=np.float32),
          rng.integers(0, 10, size=64).astype(np.float32), "BENCH.md B2: inputs N(0,1), labels 0..9")
    rng = np.random.Generator(np.random.PCG64(20240603))
    write("b3.h5", rng.standard_normal((64, 3, 32, 32), dtype=np.float32),
          rng.integers(0, 10, size=64).astype(np.float32), "BENCH.md B3: inputs N(0,1), labels 0..9")


if __name__ == "__main__":
    main()
