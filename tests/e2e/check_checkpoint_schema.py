#!/usr/bin/python3
"""End-to-end: `cnndiag train --config data/examples/seed/net.toml` (10000 iterations) writes
checkpoints at 0, 1000, ..., 10000 that h5py reads with the names and shapes documented in
include/cnndiag/checkpoint.hpp and DESIGN.md section 5.

Usage: check_checkpoint_schema.py CNNDIAG CONFIG OUT_DIR
Exits 77 (ctest SKIP_RETURN_CODE) when this Python has no h5py or numpy; 1 on any mismatch.
"""
import subprocess
import sys
import tomllib
from pathlib import Path

try:
    import h5py
    import numpy as np
except ImportError as e:  # not an error of cnndiag: the test cannot run here
    print(f"skipped: {e}")
    sys.exit(77)

errors = []


def expect(condition, what):
    if not condition:
        errors.append(what)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


# The seed network's documented tensors: (OC, C, KH, KW) conv weights, (out, in) linear weights.
PARAMS = {"conv1/weight": (1, 1, 3, 3), "conv1/bias": (1,), "fc1/weight": (4, 400),
          "fc1/bias": (4,), "fc2/weight": (4, 4), "fc2/bias": (4,)}


def check(path, iteration):
    name = path.name
    with h5py.File(path, "r") as f:
        a = f.attrs
        expect(text(a.get("format")) == "cnndiag-checkpoint", f"{name}: / format = {a.get('format')}")
        expect(int(a.get("format_version", -1)) == 1, f"{name}: / format_version")
        expect(text(a.get("cnndiag_version", "")).strip() != "", f"{name}: / cnndiag_version")
        expect(int(a.get("iteration", -1)) == iteration, f"{name}: / iteration = {a.get('iteration')}")
        expect(int(a.get("seed", -1)) == 1, f"{name}: / seed")
        expect(text(a.get("created_utc", "")).endswith("Z"), f"{name}: / created_utc")
        expect(text(a.get("dtype")) == "float32", f"{name}: / dtype")

        config = tomllib.loads(text(f["config"][()]))
        expect([l["name"] for l in config["layer"]] == ["conv1", "fc1", "sig1", "fc2"],
               f"{name}: /config layers")
        expect(config["optimizer"]["weight_decay"] == 500.0, f"{name}: /config weight_decay")

        for group in ("params", "grads"):
            expect(sorted(text(f[group].attrs["order"]).split(",")) ==
                   sorted(k.replace("/", ".") for k in PARAMS), f"{name}: /{group} order")
            for key, shape in PARAMS.items():
                obj = f"/{group}/{key}"
                if obj not in f:
                    errors.append(f"{name}: {obj} missing")
                    continue
                expect(f[obj].shape == shape, f"{name}: {obj} shape {f[obj].shape}, documented {shape}")
                expect(f[obj].dtype == np.float32, f"{name}: {obj} dtype {f[obj].dtype}")
                expect(np.all(np.isfinite(f[obj][()])), f"{name}: {obj} not finite")
        opt = f["optimizer"].attrs
        expect(text(opt.get("type")) == "sgd", f"{name}: /optimizer type")
        expect(abs(float(opt.get("lr", 0)) - 0.003) < 1e-12, f"{name}: /optimizer lr")
        expect(int(opt.get("step", -1)) == iteration, f"{name}: /optimizer step")

        its, losses = f["history/iteration"][()], f["history/loss"][()]
        expect(its.shape == (iteration,) and losses.shape == (iteration,),
               f"{name}: /history shapes {its.shape} {losses.shape}")
        expect(np.array_equal(its, np.arange(1, iteration + 1)), f"{name}: /history/iteration")
        expect(np.all(np.isfinite(losses)), f"{name}: /history/loss not finite")

        expect(f["probe/inputs"].shape == (32, 1, 20, 20), f"{name}: /probe/inputs shape")
        expect(f["probe/targets"].shape == (32, 4), f"{name}: /probe/targets shape")
        x = f["probe/inputs"][()]
        expect(abs(x.min()) < 1e-6 and abs(x.max() - 1) < 1e-6, f"{name}: /probe/inputs not minmax-normalised")
        expect(f["rng"].dtype == np.uint64 and f["rng"].ndim == 1, f"{name}: /rng")
        expect(sorted(f["train/order"][()]) == list(range(32)), f"{name}: /train/order")
        expect(f["train/cursor"].size == 1, f"{name}: /train/cursor")


def main():
    binary, config, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if out.exists():
        for old in out.glob("ckpt-*"):
            old.unlink()
    run = subprocess.run([binary, "train", "--config", config, "--out", str(out)],
                         capture_output=True, text=True)
    print(run.stdout[-2000:], run.stderr[-2000:])
    if run.returncode != 0:
        print(f"cnndiag train exited {run.returncode}")
        return 1
    files = sorted(p.name for p in out.iterdir())
    # every 1000 and the early ones of net.toml's `[checkpoint] at`
    iterations = sorted(set(range(0, 10001, 1000)) | {1, 2, 3, 5, 10, 20, 50, 100, 200, 500})
    expected = [f"ckpt-{i:08d}.h5" for i in iterations]
    expect(files == expected, f"checkpoint files {files}, expected {expected}")
    for i in iterations:
        path = out / f"ckpt-{i:08d}.h5"
        if path.exists():
            check(path, i)
    for e in errors:
        print("MISMATCH:", e)
    print(f"{len(expected)} checkpoints checked, {len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
