#!/usr/bin/python3
"""Independent cross-check of cnndiag's training engine with PyTorch (Debian's python3-torch).

Reads a cnndiag checkpoint (the initial one, ckpt-00000000.h5) with h5py: the TOML config it
stores, the initial parameters and the probe batch. Rebuilds the same network with torch.nn,
trains it for --steps steps in float64 with the config's loss and optimizer written out by hand
from DESIGN.md (coupled L2 decay on the decayed tensors, bias_lr_scale, PyTorch-form momentum),
and writes the losses of every step and the final parameters to an HDF5 reference file.

tests/unit/crosscheck_test.cpp then trains the same checkpoint with cnndiag and compares.
Nothing here imports cnndiag code: the two implementations share only the file formats.

Usage: /usr/bin/python3 torch_reference.py CKPT0 --steps 100 --out reference.h5
"""
import argparse
import tomllib

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def layer_forward(spec, params, x):
    kind = spec["type"]
    if kind == "conv2d":
        kh, kw = spec["kernel_h"], spec["kernel_w"]
        return F.conv2d(x, params["weight"], params.get("bias"),
                        stride=(spec["stride_h"], spec["stride_w"]), padding=(spec["pad_h"], spec["pad_w"]))
    if kind == "linear":
        return F.linear(x.reshape(x.shape[0], -1), params["weight"], params.get("bias"))
    if kind == "maxpool":
        return F.max_pool2d(x, (spec["size_h"], spec["size_w"]), (spec["stride_h"], spec["stride_w"]),
                            (spec["pad_h"], spec["pad_w"]))
    if kind == "avgpool":
        return F.avg_pool2d(x, (spec["size_h"], spec["size_w"]), (spec["stride_h"], spec["stride_w"]),
                            (spec["pad_h"], spec["pad_w"]), count_include_pad=True)
    if kind == "relu":
        return torch.relu(x)
    if kind == "leaky_relu":
        return F.leaky_relu(x, spec.get("negative_slope", 0.01))
    if kind == "sigmoid":
        return torch.sigmoid(x)
    if kind == "tanh":
        return torch.tanh(x)
    raise SystemExit(f"torch_reference.py: layer type {kind!r} is not reproduced here")


def pair(layer, key, default):
    v = layer.get(key, default)
    return (v, v) if isinstance(v, int) else tuple(v)


def normalise_layer(layer):
    spec = dict(layer)
    spec["kernel_h"], spec["kernel_w"] = pair(layer, "kernel", 1)
    spec["size_h"], spec["size_w"] = pair(layer, "size", 1)
    default_stride = layer.get("size", 1) if layer["type"] in ("maxpool", "avgpool") else 1
    spec["stride_h"], spec["stride_w"] = pair(layer, "stride", default_stride)
    spec["pad_h"], spec["pad_w"] = pair(layer, "pad", 0)
    return spec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with h5py.File(args.checkpoint, "r") as f:
        text = f["config"][()]
        config = tomllib.loads(text.decode() if isinstance(text, bytes) else text)
        if f.attrs.get("dtype", b"float32") not in ("float64", b"float64"):
            print(f"{args.checkpoint}: note: trained in {f.attrs.get('dtype')}; the reference runs in float64")
        order = f["params"].attrs["order"]
        order = order.decode() if isinstance(order, bytes) else order
        keys = order.split(",")
        init = {k: torch.tensor(np.array(f["params/" + k.replace(".", "/")]), dtype=torch.float64) for k in keys}
        x = torch.tensor(np.array(f["probe/inputs"]), dtype=torch.float64)
        labels = torch.tensor(np.array(f["probe/labels"]), dtype=torch.int64) if "probe/labels" in f else None
        targets = torch.tensor(np.array(f["probe/targets"]), dtype=torch.float64) if "probe/targets" in f else None

    layers = [normalise_layer(l) for l in config["layer"]]
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    by_layer = {}
    for k, v in params.items():
        layer, name = k.split(".")
        by_layer.setdefault(layer, {})[name] = v

    loss_cfg = config.get("loss", {})
    opt = config.get("optimizer", {})
    if opt.get("type", "sgd") != "sgd":
        raise SystemExit("torch_reference.py reproduces sgd only")
    if config.get("train", {}).get("batch_size", 0) not in (0, x.shape[0]):
        raise SystemExit("torch_reference.py reproduces full-batch training only")
    lr, mu = opt.get("lr", 0.01), opt.get("momentum", 0.0)
    nesterov = opt.get("nesterov", False)
    lam, bias_decay = opt.get("weight_decay", 0.0), opt.get("bias_decay", False)
    bias_scale = opt.get("bias_lr_scale", 1.0)
    velocity = {k: torch.zeros_like(v) for k, v in params.items()}
    scale = loss_cfg.get("scale", 1.0)
    mean = loss_cfg.get("reduction", "mean") == "mean"

    losses = []
    for _ in range(args.steps):
        h = x
        for spec in layers:
            h = layer_forward(spec, by_layer.get(spec["name"], {}), h)
        if loss_cfg.get("type", "mse") == "mse":
            per_sample = ((h - targets) ** 2).reshape(h.shape[0], -1).sum(dim=1)
        else:
            per_sample = F.cross_entropy(h, labels, reduction="none")
        e = scale * (per_sample.mean() if mean else per_sample.sum())
        losses.append(e.item())
        grads = torch.autograd.grad(e, list(params.values()))
        with torch.no_grad():
            for (k, p), g in zip(params.items(), grads):
                is_bias = k.endswith(".bias")
                g = g + (lam * p if lam > 0 and (not is_bias or bias_decay) else 0)
                step_lr = lr * (bias_scale if is_bias else 1.0)
                if mu > 0:
                    # PyTorch's form (torch.optim.SGD, dampening 0): v <- mu*v + g, then
                    # w <- w - lr*v, or w <- w - lr*(g + mu*v) with Nesterov.
                    velocity[k] = mu * velocity[k] + g
                    g = g + mu * velocity[k] if nesterov else velocity[k]
                p -= step_lr * g

    with h5py.File(args.out, "w") as f:
        f.attrs["source"] = "tests/crosscheck/torch_reference.py with torch " + torch.__version__
        f.attrs["checkpoint"] = args.checkpoint.split("/")[-1]
        f.attrs["steps"] = args.steps
        f["losses"] = np.array(losses)
        for k, p in params.items():
            f["params/" + k.replace(".", "/")] = p.detach().numpy()
    print(f"{args.out}: {args.steps} steps, loss {losses[0]:.10g} -> {losses[-1]:.10g}")


if __name__ == "__main__":
    main()
