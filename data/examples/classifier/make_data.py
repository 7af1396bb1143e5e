#!/usr/bin/python3
"""Writes data.h5: 96 grey 12x12 images of four kinds of stroke, with their class labels.

    0 horizontal bar   1 vertical bar   2 diagonal (\\)   3 anti-diagonal (/)

Each image draws its stroke at a random offset, width and brightness, over a noisy background,
so the labels are learnable from the pixels but not trivially by one pixel. Deterministic
(numpy default_rng(2024)) and byte-reproducible (no HDF5 timestamps).

Usage: /usr/bin/python3 make_data.py
"""
import h5py
import numpy as np

N, S = 96, 12
rng = np.random.default_rng(2024)
X = np.zeros((N, 1, S, S), dtype=np.float32)
labels = np.arange(N) % 4
rng.shuffle(labels)
yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
for n, k in enumerate(labels):
    offset = rng.uniform(-3, 3)
    width = rng.uniform(0.8, 1.8)
    bright = rng.uniform(0.6, 1.0)
    c = (S - 1) / 2 + offset
    if k == 0:
        d = yy - c
    elif k == 1:
        d = xx - c
    elif k == 2:
        d = (yy - xx - offset) / np.sqrt(2)
    else:
        d = (yy + xx - (S - 1) - offset) / np.sqrt(2)
    img = bright * np.exp(-0.5 * (d / width) ** 2) + 0.15 * rng.standard_normal((S, S))
    X[n, 0] = img.astype(np.float32)

with h5py.File("data.h5", "w", track_order=False) as f:
    f.create_dataset("X", data=X, track_times=False)
    f.create_dataset("labels", data=labels.astype(np.int64), track_times=False)
    f.attrs["layout"] = "nchw"
    f.attrs["origin"] = "data/examples/classifier/make_data.py"
print("data.h5:", X.shape, np.bincount(labels))
