#!/usr/bin/python3
"""Writes tests/data/crosscheck/cls-data.h5: a small, learnable 3-class image set for the
classification cross-check (24 samples of 1x8x8, layout nchw, labels 0..2).

Class 0 holds a horizontal bar, class 1 a vertical bar, class 2 a bright square, each at a random
position and brightness on a noisy background, so conv + pooling features separate them. The
output is byte-for-byte reproducible: numpy's default_rng with a fixed seed, and HDF5 written
without object timestamps.

Usage: /usr/bin/python3 tests/crosscheck/make_classification_data.py [OUT]
"""
import sys
from pathlib import Path

import h5py
import numpy as np

N, H, W, CLASSES = 24, 8, 8, 3


def sample(rng, label):
    img = 0.1 * rng.standard_normal((H, W))
    level = rng.uniform(0.6, 1.2)
    r, c = rng.integers(1, 7, size=2)
    if label == 0:
        img[r, max(c - 2, 0):c + 2] += level
    elif label == 1:
        img[max(r - 2, 0):r + 2, c] += level
    else:
        img[r - 1:r + 1, c - 1:c + 1] += level
    return img


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[1] / "data/crosscheck/cls-data.h5"
    rng = np.random.default_rng(20240601)
    labels = np.arange(N, dtype=np.int64) % CLASSES
    rng.shuffle(labels)
    x = np.stack([sample(rng, int(l)) for l in labels])[:, None, :, :]
    with h5py.File(out, "w", track_order=False) as f:
        f.create_dataset("X", data=x.astype(np.float64), track_times=False)
        f.create_dataset("labels", data=labels, track_times=False)
        f.attrs["origin"] = "tests/crosscheck/make_classification_data.py"
    print(f"{out}: X {x.shape}, labels {np.bincount(labels).tolist()} per class")


if __name__ == "__main__":
    main()
