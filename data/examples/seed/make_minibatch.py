#!/usr/bin/python3
"""Writes the seed example's minibatch: minibatch.h5 (nchw) and minibatch.mat (MATLAB v5).

The story (../../../README, DESIGN.md §1): someone trains a small CNN for regression on 32
single-channel 20×20 images with 4 targets per image, and every output comes out the same.
This script makes a minibatch of that shape that looks like something a person would feed a
CNN: each image is a dim background with one to three smooth Gaussian blobs and sometimes a
soft bar, at random positions, widths and brightnesses, plus a little sensor noise, on a
0..255 intensity scale (so that the post's mapminmax normalisation has work to do).

The targets are the post's `y = single(rand(4,1,32))`: uniform in [0, 1) and drawn
independently of the images. That is the point of the story: no model can predict them, and a
constant output is the best one can do.

Both files hold the same float32 values:
  minibatch.h5   /X (32,1,20,20) N×C×H×W row-major, /y (32,4); attributes say layout and origin
  minibatch.mat  X single 20×20×1×32 (H×W×C×N, MATLAB's column-major), y single 4×1×32, and
                 the struct `minibatch` with field `a` (double 400×32) — what the post loads:
                 `X = single(reshape(minibatch.a,20,20,1,32))` gives back X.

Run with Debian's python (numpy, h5py, scipy): /usr/bin/python3 make_minibatch.py
The output is byte-for-byte reproducible: HDF5 without object timestamps, and the .mat header's
"Created on" text fixed instead of today's date.
"""

import io
import os

import h5py
import numpy as np
import scipy.io

SEED = 20150901  # the post's year and month; any fixed number would do
N, C, H, W, K = 32, 1, 20, 20, 4
HERE = os.path.dirname(os.path.abspath(__file__))


def make_images(rng):
    """(N, C, H, W) float32 images on a 0..255 scale."""
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    images = np.empty((N, C, H, W), dtype=np.float64)
    for n in range(N):
        img = np.full((H, W), rng.uniform(10.0, 40.0))  # background level
        for _ in range(rng.integers(1, 4)):  # 1..3 blobs
            r0, c0 = rng.uniform(2.0, H - 3.0), rng.uniform(2.0, W - 3.0)
            sigma = rng.uniform(1.5, 4.0)
            amplitude = rng.uniform(60.0, 180.0)
            img += amplitude * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * sigma**2))
        if rng.random() < 0.5:  # a soft bar through a random point at a random angle
            angle = rng.uniform(0.0, np.pi)
            r0, c0 = rng.uniform(5.0, H - 6.0), rng.uniform(5.0, W - 6.0)
            distance = np.abs((rows - r0) * np.cos(angle) - (cols - c0) * np.sin(angle))
            img += rng.uniform(40.0, 100.0) * np.exp(-(distance**2) / (2 * 1.0**2))
        img += rng.normal(0.0, 3.0, size=(H, W))  # sensor noise
        images[n, 0] = np.clip(img, 0.0, 255.0)
    return images.astype(np.float32)


def write_h5(path, x_nchw, y_nk):
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        f.attrs["layout"] = "nchw"
        f.attrs["origin"] = (
            "cnndiag seed example: 32 synthetic 20x20x1 images (blobs, bars, noise) and targets "
            "rand(4,1,32) independent of the images; made by make_minibatch.py, seed %d" % SEED)
        f.create_dataset("X", data=x_nchw, track_times=False)
        f.create_dataset("y", data=y_nk, track_times=False)
        f["X"].attrs["dims"] = "N,C,H,W (row-major)"
        f["y"].attrs["dims"] = "N,K (row-major)"


def write_mat(path, x_nchw, y_nk):
    # MATLAB keeps X as H×W×C×N, and the post's y = rand(4,1,32) is K×1×N.
    x_hwcn = np.ascontiguousarray(x_nchw.transpose(2, 3, 1, 0))  # (20,20,1,32)
    y_k1n = np.ascontiguousarray(y_nk.T[:, np.newaxis, :])  # (4,1,32)
    # minibatch.a: 400×32 double whose column n is image n flattened column-major, so that
    # reshape(minibatch.a,20,20,1,32) == X in MATLAB.
    a = x_hwcn.reshape(H * W * C, N, order="F").astype(np.float64)
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": x_hwcn, "y": y_k1n, "minibatch": {"a": a}},
                     format="5", do_compression=False, oned_as="column")
    data = bytearray(buffer.getvalue())
    # The first 116 bytes are descriptive text that scipy stamps with the current time; replace it
    # with a fixed text so the file is reproducible. Bytes 116..127 (subsystem offset, version,
    # endian indicator) are kept.
    text = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: cnndiag make_minibatch.py"
    data[:116] = text.ljust(116, b" ")
    with open(path, "wb") as f:
        f.write(bytes(data))


def main():
    rng = np.random.default_rng(SEED)
    x = make_images(rng)
    # Targets from their own stream: independent of the images by construction.
    y = np.random.default_rng([SEED, 1]).random((N, K)).astype(np.float32)
    write_h5(os.path.join(HERE, "minibatch.h5"), x, y)
    write_mat(os.path.join(HERE, "minibatch.mat"), x, y)


if __name__ == "__main__":
    main()
