#!/usr/bin/python3
"""Writes a cnndiag checkpoint's parameters as the seed post's MATLAB code holds them.

Independent of cnndiag's C++ (it shares only the checkpoint format): reads the checkpoint with
h5py and converts each tensor the way MATLAB/MatConvNet lays it out, then saves a MATLAB v5 .mat
with the post's variable names:

    w       conv filter, H×W×C×OC (MatConvNet); a 3×3×1×1 filter is stored as 3×3
    b       conv bias (scalar)
    theta1  4×400, multiplying reshape(x2, 400, 1): MATLAB flattens x2 (H×W×C) column-major,
            cnndiag flattens (C,H,W) row-major, so column h + H·w + H·W·c of theta1 is
            column c·H·W + h·W + w of cnndiag's fc1.weight
    beta1   4×1
    theta2  4×4
    beta2   4×1
plus X (20×20×1×32, raw, before mapminmax) and y (4×1×32) from minibatch.mat, so the file is
self-contained. `cnndiag probe --config data/examples/seed/matlab-weights.toml --weights FILE`
must then probe the same as the checkpoint itself (tests/e2e/weights.cmake).

Usage: /usr/bin/python3 export_matlab_weights.py CKPT.h5 MINIBATCH.mat OUT.mat
"""
import sys

import h5py
import numpy as np
import scipy.io


def main():
    ckpt, minibatch, out = sys.argv[1:4]
    with h5py.File(ckpt, "r") as f:
        p = {k: np.array(f["params/" + k.replace(".", "/")], dtype=np.float64)
             for k in f["params"].attrs["order"].split(",")}
    conv_w = p["conv1.weight"]                      # (OC, C, KH, KW)
    w = np.transpose(conv_w, (2, 3, 1, 0))          # KH×KW×C×OC
    w = np.squeeze(w, axis=(2, 3)) if w.shape[2:] == (1, 1) else w
    oc, c, h, wd = 1, 1, 20, 20                     # conv1 output (C,H,W) = (1,20,20)
    fc1 = p["fc1.weight"]                           # (4, 400) in (c,h,w) row-major order
    theta1 = np.empty_like(fc1)
    for ci in range(c):
        for hi in range(h):
            for wi in range(wd):
                theta1[:, hi + h * wi + h * wd * ci] = fc1[:, ci * h * wd + hi * wd + wi]
    m = scipy.io.loadmat(minibatch)
    out_vars = {
        "w": w.astype(np.float32),
        "b": np.float32(p["conv1.bias"][0]),
        "theta1": theta1,
        "beta1": p["fc1.bias"].reshape(4, 1).astype(np.float32),
        "theta2": p["fc2.weight"],
        "beta2": p["fc2.bias"].reshape(4, 1).astype(np.float32),
        "X": m["X"],
        "y": m["y"],
    }
    scipy.io.savemat(out, out_vars, format="5", do_compression=False, oned_as="column")
    # scipy stamps the creation time into the 116-byte header text: make it reproducible.
    with open(out, "r+b") as f:
        f.write(b"MATLAB 5.0 MAT-file, written by cnndiag tests/crosscheck/export_matlab_weights.py".ljust(116))
    print(f"{out}: w {w.shape}, theta1 {theta1.shape} from {ckpt}")


if __name__ == "__main__":
    main()
