#!/usr/bin/python3
"""Regenerates the checkpoints of tests/data/checkpoints/ used by tests/e2e/train.cmake:

  good.h5                 a real checkpoint: tests/data/crosscheck/cls.toml after 3 iterations
  truncated.h5            good.h5 cut in half (a crash while copying, a full disk)
  missing_fc1_weight.h5   good.h5 with /params/fc1/weight deleted (h5py)
  wrong_version.h5        good.h5 claiming format_version 99

Usage: /usr/bin/python3 tests/data/checkpoints/make_bad_checkpoints.py [path/to/cnndiag]
       (default build/cnndiag; Debian's python3 with h5py)
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


def main():
    binary = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build/cnndiag"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([binary, "train", "--config", ROOT / "tests/data/crosscheck/cls.toml",
                        "--iterations", "3", "--out", tmp, "--quiet"], check=True)
        shutil.copyfile(Path(tmp) / "ckpt-00000003.h5", HERE / "good.h5")

    data = (HERE / "good.h5").read_bytes()
    (HERE / "truncated.h5").write_bytes(data[: len(data) // 2])

    shutil.copyfile(HERE / "good.h5", HERE / "missing_fc1_weight.h5")
    with h5py.File(HERE / "missing_fc1_weight.h5", "r+") as f:
        del f["params/fc1/weight"]

    shutil.copyfile(HERE / "good.h5", HERE / "wrong_version.h5")
    with h5py.File(HERE / "wrong_version.h5", "r+") as f:
        f.attrs["format_version"] = 99
    print(f"{HERE}: good.h5 ({len(data)} bytes), truncated.h5, missing_fc1_weight.h5, wrong_version.h5")


if __name__ == "__main__":
    main()
