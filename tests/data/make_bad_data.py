#!/usr/bin/python3
"""Writes the small data files the data-loading tests read (unit and end-to-end).

tests/data/bad/   files that must be refused, each with one clear message:
  fake.mat          a text file named .mat
  empty.mat         an empty file
  truncated.h5      a valid HDF5 file cut to its first 1000 bytes
  truncated.mat     a valid MATLAB v5 file cut in the middle of its second variable
  nan_x.h5          X (8,1,4,4) with NaN at (1,0,2,3) and (5,0,0,0) and +Inf at (6,0,3,1); y fine
  nan_x.mat         the same values in MATLAB layout: X 4×4×1×8, y 4×8 (NaN first at X(3,4,1,2))
  inf_y.h5          y (8,4) with -Inf at (2,3)
  wrong_count.h5    X (8,1,4,4) but y (7,4)
  renamed.h5        /images and /labels, no /X or /y
  string_x.h5       /X is a string, /y fine
  rank5_x.h5        /X has rank 5 (8,1,4,4,2)
  labels.h5         /X (6,1,4,4) and candidate class labels for 4 classes:
                    /y_ok [0 1 2 3 0 1], /y_frac [0 1 1.5 3 0 1], /y_big [0 1 2 4 0 1]
tests/data/good/  files written by other tools, that must be read:
  h5py_types.h5     datasets of many dtypes (int8, uint16, int64, float16, bool), nested groups,
                    a vlen str and a fixed-length bytes dataset, root attributes of several types
  v73.mat           a tiny MATLAB v7.3 file made with h5py (512-byte MAT header as userblock,
                    MATLAB_class attributes): A double 2×3 = [1 2 3; 4 5 6], L logical 1×3
  v4.mat            a MATLAB v4 file (scipy): A double 2×3 = [1 2 3; 4 5 6]

Deterministic: run it twice and the files are byte-identical (HDF5 without timestamps, fixed MAT
header text). Run with Debian's python: /usr/bin/python3 tests/data/make_bad_data.py
"""

import io
import os

import h5py
import numpy as np
import scipy.io

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "bad")
GOOD = os.path.join(HERE, "good")


def h5(path):
    return h5py.File(path, "w", libver="earliest")


def dataset(f, name, data, **kwargs):
    return f.create_dataset(name, data=data, track_times=False, **kwargs)


def small_batch(n=8):
    """(n,1,4,4) inputs with distinct values and (n,4) targets."""
    x = np.arange(n * 16, dtype=np.float32).reshape(n, 1, 4, 4) / 10
    y = (np.arange(n * 4, dtype=np.float32).reshape(n, 4) % 7) / 7
    return x, y


def matlab_class(obj, name):
    """Tags a dataset with MATLAB_class the way MATLAB writes it: a fixed-length, NUL-terminated
    ASCII string of exactly len(name) bytes (h5py's default would be NUL-padded, which readers
    such as matio convert by cutting the last character)."""
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(name))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    attr = h5py.h5a.create(obj.id, b"MATLAB_class", tid, h5py.h5s.create(h5py.h5s.SCALAR))
    attr.write(np.array(name.encode(), dtype="S%d" % len(name)), mtype=tid)


def fixed_header_mat(path, variables, fmt="5"):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, format=fmt, do_compression=False)
    data = bytearray(buffer.getvalue())
    if fmt == "5":  # replace scipy's "Created on: <now>" text (the first 116 bytes)
        data[:116] = b"MATLAB 5.0 MAT-file, Created by: cnndiag make_bad_data.py".ljust(116, b" ")
    with open(path, "wb") as f:
        f.write(bytes(data))
    return bytes(data)


def write_bad():
    with open(os.path.join(BAD, "fake.mat"), "w") as f:
        f.write("hello world, I am a text file and not a MAT file\n")
    open(os.path.join(BAD, "empty.mat"), "wb").close()

    x, y = small_batch()
    whole = os.path.join(BAD, "whole.tmp.h5")
    with h5(whole) as f:
        dataset(f, "X", x)
        dataset(f, "y", y)
    with open(whole, "rb") as f:
        content = f.read()
    os.remove(whole)
    with open(os.path.join(BAD, "truncated.h5"), "wb") as f:
        f.write(content[:1000])

    mat = fixed_header_mat(os.path.join(BAD, "truncated.mat"),
                           {"X": x.transpose(2, 3, 1, 0), "y": y.T})
    with open(os.path.join(BAD, "truncated.mat"), "wb") as f:
        f.write(mat[: 128 + 8 + len(mat) // 2])

    x_nan = x.copy()
    x_nan[1, 0, 2, 3] = np.nan
    x_nan[5, 0, 0, 0] = np.nan
    x_nan[6, 0, 3, 1] = np.inf
    with h5(os.path.join(BAD, "nan_x.h5")) as f:
        dataset(f, "X", x_nan)
        dataset(f, "y", y)
    fixed_header_mat(os.path.join(BAD, "nan_x.mat"),
                     {"X": np.ascontiguousarray(x_nan.transpose(2, 3, 1, 0)), "y": y.T})

    y_inf = y.copy()
    y_inf[2, 3] = -np.inf
    with h5(os.path.join(BAD, "inf_y.h5")) as f:
        dataset(f, "X", x)
        dataset(f, "y", y_inf)

    with h5(os.path.join(BAD, "wrong_count.h5")) as f:
        dataset(f, "X", x)
        dataset(f, "y", y[:7])

    with h5(os.path.join(BAD, "renamed.h5")) as f:
        dataset(f, "images", x)
        dataset(f, "labels", y)

    with h5(os.path.join(BAD, "string_x.h5")) as f:
        dataset(f, "X", "not numbers", dtype=h5py.string_dtype())
        dataset(f, "y", y)

    with h5(os.path.join(BAD, "rank5_x.h5")) as f:
        dataset(f, "X", np.zeros((8, 1, 4, 4, 2), dtype=np.float32))
        dataset(f, "y", y)

    x6, _ = small_batch(6)
    with h5(os.path.join(BAD, "labels.h5")) as f:
        dataset(f, "X", x6)
        dataset(f, "y_ok", np.array([0, 1, 2, 3, 0, 1], dtype=np.int32))
        dataset(f, "y_frac", np.array([0, 1, 1.5, 3, 0, 1], dtype=np.float64))
        dataset(f, "y_big", np.array([0, 1, 2, 4, 0, 1], dtype=np.int64))


def write_good():
    with h5(os.path.join(GOOD, "h5py_types.h5")) as f:
        f.attrs["title"] = "written by h5py"
        f.attrs["version"] = np.int64(3)
        f.attrs["scale"] = np.float64(0.25)
        f.attrs["fixed"] = np.bytes_(b"fixed-bytes")
        dataset(f, "ints/i8", np.array([-128, 0, 127], dtype=np.int8))
        dataset(f, "ints/u16", np.array([[0, 1], [65535, 7]], dtype=np.uint16))
        dataset(f, "ints/i64", np.array([-(2**40), 2**40], dtype=np.int64))
        dataset(f, "floats/f16", np.array([0.5, -2.0], dtype=np.float16))
        dataset(f, "floats/f64", np.array(3.5))  # scalar
        dataset(f, "flags", np.array([True, False, True]))
        dataset(f, "text", "héllo", dtype=h5py.string_dtype("utf-8"))
        dataset(f, "fixed_text", np.bytes_(b"abc"))

    # MATLAB v7.3: HDF5 with a 512-byte user block holding the MAT header; each variable a
    # dataset whose h5py shape is MATLAB's size reversed, tagged with a MATLAB_class attribute.
    path = os.path.join(GOOD, "v73.mat")
    with h5py.File(path, "w", userblock_size=512, libver="earliest") as f:
        a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)  # MATLAB 2×3
        d = dataset(f, "A", a.T)  # stored (3,2): column-major 2×3
        matlab_class(d, "double")
        lg = dataset(f, "L", np.array([[1], [0], [1]], dtype=np.uint8))  # MATLAB 1×3 logical
        matlab_class(lg, "logical")
        lg.attrs["MATLAB_int_decode"] = np.int32(1)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: cnndiag make_bad_data.py " \
             b"HDF5 schema 1.00 ."
    block = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    block = block.ljust(512, b"\x00")
    with open(path, "r+b") as f:
        f.write(block)

    fixed_header_mat(os.path.join(GOOD, "v4.mat"),
                     {"A": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)}, fmt="4")


def main():
    os.makedirs(BAD, exist_ok=True)
    os.makedirs(GOOD, exist_ok=True)
    write_bad()
    write_good()


if __name__ == "__main__":
    main()
