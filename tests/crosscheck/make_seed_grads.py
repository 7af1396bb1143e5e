#!/usr/bin/env python3
"""The seed post's MATLAB forward and its BUGGY backward, re-implemented independently in NumPy.

Writes data/examples/seed/seed-grads.mat (MAT v5) and seed-grads-v73.mat (MAT v7.3: HDF5 with
MATLAB's 512-byte header), the "gradients computed elsewhere" that `cnndiag gradcheck --against`
compares with its own (DESIGN.md §7.3). Nothing here uses cnndiag: the point is a second,
independent implementation of what the post's author ran.

What the post does (original-post.txt, filtercnnDQN.m), reproduced line by line in MATLAB's
column-major terms (arrays are indexed [h, w, c, n] like MATLAB's; `reshape` is order="F"):

    X  = reshape(X,400,32); X = mapminmax(X',0,1); X = reshape(X',20,20,1,32)
    x2 = vl_nnconv(x1, w, b, 'pad', 1)                 correlation, no kernel flip
    x4(:,:,i) = sigmoid(theta1 * reshape(x2(:,:,i),400,1) + beta1)
    x5(:,:,i) = theta2 * x4(:,:,i) + beta2
    dzdx5 = x5 - y                                     (E = 1/(2N)·Σ‖x5 − y‖², not divided by N)
    dzdx4(:,:,i) = theta2' * dzdx5(:,:,i)
    dzdtheta2 += dzdx5(:,:,i) * x4(:,i)';  dzdbeta2 += dzdx5(:,:,i)
    dzdx2(:,:,1,i) = reshape((theta1' * dzdx4(:,:,i)) .* x2v .* (1 - x2v), 20, 20)   <- the bug:
                     the sigmoid derivative in output form, applied to x2 instead of x4
    dzdtheta1 += dzdx4(:,:,i) * x2v';  dzdbeta1 += dzdx4(:,:,i)                    <- and here it
                     is missing altogether (x2v = reshape(x2(:,:,:,i),400,1))
    [dzdx1, dzdw, dzdb] = vl_nnconv(x1, w, b, dzdx2, 'pad', 1)   summed over the batch

Every gradient is summed over the 32 samples (the post divides by n only in its update), so the
cnndiag config that reads them says grad_reduction = "sum" (data/examples/seed/against.toml).

Precision: the post runs in single; this script computes in float64 so that the comparison tests
the formulas, not float32 rounding. The parameters are drawn MATLAB-style (the post's own init
expressions) from a fixed NumPy seed.

Deterministic: run it twice and the files are byte-identical (fixed MAT header text; HDF5 without
timestamps). Run with Debian's python: /usr/bin/python3 tests/crosscheck/make_seed_grads.py
"""

import io
import os

import h5py
import numpy as np
import scipy.io

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "data", "examples", "seed"))
SEED = 20150921  # any fixed number; the post's date


def mapminmax_per_sample(x_hwcn):
    """MATLAB's mapminmax(X',0,1) on the 400×32 matrix: each sample (column) to [0, 1]."""
    n = x_hwcn.shape[3]
    cols = x_hwcn.astype(np.float64).reshape(-1, n, order="F")
    lo = cols.min(axis=0)
    hi = cols.max(axis=0)
    cols = (cols - lo) * (1.0 / (hi - lo))
    return cols.reshape(x_hwcn.shape, order="F")


def vl_nnconv_forward(x, w, b, pad):
    """x: H×W×C×N, w: KH×KW×C (one filter), b scalar → H'×W'×1×N. Correlation, as vl_nnconv."""
    h, wd, c, n = x.shape
    kh, kw = w.shape[0], w.shape[1]
    xp = np.zeros((h + 2 * pad, wd + 2 * pad, c, n))
    xp[pad:pad + h, pad:pad + wd] = x
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.full((oh, ow, 1, n), float(b))
    for i in range(kh):
        for j in range(kw):
            for ch in range(c):
                y[:, :, 0, :] += w[i, j, ch] * xp[i:i + oh, j:j + ow, ch, :]
    return y


def vl_nnconv_backward(x, w, dzdy, pad):
    """dzdw (KH×KW×C) and dzdb (scalar) of vl_nnconv, summed over the batch."""
    h, wd, c, n = x.shape
    kh, kw = w.shape[0], w.shape[1]
    xp = np.zeros((h + 2 * pad, wd + 2 * pad, c, n))
    xp[pad:pad + h, pad:pad + wd] = x
    oh, ow = dzdy.shape[0], dzdy.shape[1]
    dzdw = np.zeros((kh, kw, c))
    for i in range(kh):
        for j in range(kw):
            for ch in range(c):
                dzdw[i, j, ch] = np.sum(dzdy[:, :, 0, :] * xp[i:i + oh, j:j + ow, ch, :])
    return dzdw, float(np.sum(dzdy))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def post_gradients(x1, y, w, b, theta1, beta1, theta2, beta2):
    """filtercnnDQN's forward and buggy backward; returns every gradient it computes."""
    n = x1.shape[3]
    x2 = vl_nnconv_forward(x1, w, b, pad=1)
    d = x2.shape[0] * x2.shape[1]
    dzdtheta2 = np.zeros_like(theta2)
    dzdbeta2 = np.zeros_like(beta2)
    dzdtheta1 = np.zeros_like(theta1)
    dzdbeta1 = np.zeros_like(beta1)
    dzdx2 = np.zeros_like(x2)
    loss = 0.0
    for i in range(n):
        x2v = x2[:, :, :, i].reshape(d, 1, order="F")
        x4 = sigmoid(theta1 @ x2v + beta1)
        x5 = theta2 @ x4 + beta2
        dzdx5 = x5 - y[:, :, i]
        loss += float(dzdx5.T @ dzdx5)
        dzdx4 = theta2.T @ dzdx5
        dzdtheta2 += dzdx5 @ x4.T
        dzdbeta2 += dzdx5
        dzdx2[:, :, 0, i] = ((theta1.T @ dzdx4) * x2v * (1 - x2v)).reshape(
            x2.shape[0], x2.shape[1], order="F")
        dzdtheta1 += dzdx4 @ x2v.T
        dzdbeta1 += dzdx4
    dzdw, dzdb = vl_nnconv_backward(x1, w, dzdx2, pad=1)
    return {
        "dzdw": dzdw[:, :, 0], "dzdb": np.array([[dzdb]]),
        "dzdtheta1": dzdtheta1, "dzdbeta1": dzdbeta1,
        "dzdtheta2": dzdtheta2, "dzdbeta2": dzdbeta2,
        "dzdx2": dzdx2,
    }, loss / (2 * n)


def write_v5(path, variables):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, format="5", do_compression=False, oned_as="column")
    data = bytearray(buffer.getvalue())
    text = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: cnndiag make_seed_grads.py"
    data[:116] = text.ljust(116, b" ")  # scipy stamps the time here; keep the file reproducible
    with open(path, "wb") as f:
        f.write(bytes(data))


def matlab_class(obj, name):
    """MATLAB_class as MATLAB writes it: fixed-length NUL-terminated ASCII of len(name) bytes."""
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(name))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    attr = h5py.h5a.create(obj.id, b"MATLAB_class", tid, h5py.h5s.create(h5py.h5s.SCALAR))
    attr.write(np.array(name.encode(), dtype="S%d" % len(name)), mtype=tid)


def write_v73(path, variables):
    """MAT v7.3: HDF5 with a 512-byte user block holding the MAT header; each variable a dataset
    whose HDF5 (C-order) shape is MATLAB's size reversed — the same bytes as the column-major
    array — tagged with MATLAB_class."""
    with h5py.File(path, "w", userblock_size=512, libver="earliest") as f:
        for name in sorted(variables):
            value = np.asarray(variables[name])
            if value.ndim < 2:
                value = value.reshape(-1, 1)
            d = f.create_dataset(name, data=value.T, track_times=False)
            matlab_class(d, "single" if value.dtype == np.float32 else "double")
    header = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: cnndiag make_seed_grads.py "
              b"HDF5 schema 1.00 .")
    block = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(block.ljust(512, b"\x00"))


def main():
    mb = scipy.io.loadmat(os.path.join(SEED_DIR, "minibatch.mat"))
    x_raw = mb["X"]            # single 20×20×1×32, as the post's X before mapminmax
    y = mb["y"].astype(np.float64)  # 4×1×32
    x1 = mapminmax_per_sample(x_raw)

    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((3, 3, 1)) * 1 / 200 - 1 / 400   # randn(3,3,1)*1/200 - 1/400
    b = 0.0                                                   # single(0)
    theta1 = rng.random((4, 400)) * 1 / 200 - 1 / 400         # rand(4,400)*1/200 - 1/400
    beta1 = np.zeros((4, 1))
    theta2 = rng.random((4, 4)) * 1 / 2 - 1 / 4               # rand(4,4)*1/2 - 1/4
    beta2 = np.zeros((4, 1))

    grads, loss = post_gradients(x1, y, w, b, theta1, beta1, theta2, beta2)
    variables = {
        "X": x_raw, "y": mb["y"],
        "w": w[:, :, 0], "b": np.array([[b]]),   # MATLAB shows a 3×3×1 filter as 3×3
        "theta1": theta1, "beta1": beta1, "theta2": theta2, "beta2": beta2,
    }
    variables.update(grads)
    write_v5(os.path.join(SEED_DIR, "seed-grads.mat"), variables)
    write_v73(os.path.join(SEED_DIR, "seed-grads-v73.mat"), variables)
    print("E = %.10g; wrote seed-grads.mat and seed-grads-v73.mat in %s" % (loss, SEED_DIR))


if __name__ == "__main__":
    main()
