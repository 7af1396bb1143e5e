#!/usr/bin/python3
"""The PyTorch peer of cnndiag_bench: BENCH.md's networks B1-B3 trained on the CPU, and B4
(torch.autograd.gradcheck of B1's loss in float64), timed by the same rules, one JSON line each.

    /usr/bin/python3 bench/peer_torch.py [--bench b1,b2,b3,b4] [--threads 1,2] [--repeats 5]
                                         [--quiet-wait 30]

Run it through bench/run.sh, which pins the BLAS (OpenBLAS's pthread build, or Debian's reference
BLAS when OpenBLAS is not installed) and its thread count with environment variables and raises
glibc's mmap/trim thresholds (BENCH.md: big allocations are fresh mmaps with page faults that cost
a lot on these VMs; PyTorch allocates its tensors every step, so this is its fairest setting).

Timing: time.perf_counter() around the timed loop only; 16 pre-generated batches cycled; warm-up
of 10 % of the steps (>= 5) before the first repeat; every repeat restarts from the same initial
parameters and optimizer state; others_load is the CPU time other processes used, in cores.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn

# B1-B3: (batch, steps per repeat, train FLOP per step by BENCH.md's "3 x forward" convention).
NETS = {
    "b1": ("seed", 32, 10000, 1001472.0),
    "b2": ("lenet", 64, 300, 159943680.0),
    "b3": ("convnet", 64, 40, 2167406592.0),
}


# ---------------------------------------------------------------------------------------------
# others_load, as bench/machine_load.hpp computes it
def cpu_sample():
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (float(x) for x in fields[:7])
    tick = os.sysconf("SC_CLK_TCK")
    t = os.times()
    return ((user + nice + system + irq + softirq) / tick, t.user + t.system, time.monotonic())


def others_load(a, b):
    wall = b[2] - a[2]
    others = (b[0] - a[0]) - (b[1] - a[1])
    return max(others, 0.0) / wall if wall > 0 else 0.0


def wait_until_quiet(max_wait, quiet=0.25):
    start = time.monotonic()
    while True:
        a = cpu_sample()
        time.sleep(0.25)
        b = cpu_sample()
        waited = b[2] - start
        if others_load(a, b) < quiet or waited >= max_wait:
            return waited


# ---------------------------------------------------------------------------------------------
# The networks
def b1_model():
    return nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Flatten(), nn.Linear(400, 4),
                         nn.Sigmoid(), nn.Linear(4, 4))


def b2_model():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def b3_model():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4096, 10))


def b1_loss(out, target):
    # L = 0.5 * mean_over_samples(sum_k (out_k - target_k)^2)
    return 0.5 * ((out - target) ** 2).sum(dim=1).mean()


def make_setup(bench):
    """Model, optimizer factory, loss, batches."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(12345)
    if bench == "b1":
        model = b1_model()
        weights = [model[0].weight, model[2].weight, model[4].weight]
        biases = [model[0].bias, model[2].bias, model[4].bias]

        # Coupled L2 on the weights only: g_w += 500 w, then w -= lr g (torch's SGD weight_decay
        # is exactly that coupled form, applied per parameter group).
        def make_opt():
            return torch.optim.SGD([{"params": weights, "weight_decay": 500.0},
                                    {"params": biases, "weight_decay": 0.0}], lr=0.003)

        batches = [(torch.rand(32, 1, 20, 20, generator=g), torch.rand(32, 4, generator=g))
                   for _ in range(16)]
        return model, make_opt, b1_loss, batches
    model = b2_model() if bench == "b2" else b3_model()
    shape = (64, 1, 28, 28) if bench == "b2" else (64, 3, 32, 32)

    def make_opt():
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    batches = [(torch.randn(*shape, generator=g), torch.randint(0, 10, (64,), generator=g))
               for _ in range(16)]
    return model, make_opt, nn.CrossEntropyLoss(), batches


def run_train(bench, threads, repeats, quiet_wait):
    torch.set_num_threads(threads)
    name, batch, steps, flop = NETS[bench]
    model, make_opt, loss_fn, batches = make_setup(bench)
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    def train(opt, n):
        loss = None
        for t in range(n):
            x, y = batches[t % 16]
            opt.zero_grad(set_to_none=False)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        return float(loss)

    train(make_opt(), max(5, steps // 10))
    seconds, loads, waits, final = [], [], [], 0.0
    for _ in range(repeats):
        model.load_state_dict(initial)
        opt = make_opt()
        waits.append(wait_until_quiet(quiet_wait))
        a = cpu_sample()
        start = time.perf_counter()
        final = train(opt, steps)
        stop = time.perf_counter()
        b = cpu_sample()
        seconds.append(stop - start)
        loads.append(others_load(a, b))
    med = sorted(seconds)[len(seconds) // 2] if len(seconds) % 2 else \
        0.5 * (sorted(seconds)[len(seconds) // 2 - 1] + sorted(seconds)[len(seconds) // 2])
    return {"tool": "torch", "bench": bench, "name": name, "threads": threads, "batch": batch,
            "steps": steps, "seconds": seconds, "min_s": min(seconds), "median_s": med,
            "max_s": max(seconds), "it_per_s": steps / med, "samples_per_s": steps * batch / med,
            "gflop_per_s": flop * steps / med * 1e-9, "others_load": loads,
            "quiet_wait_s": waits, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "final_loss": final}


# ---------------------------------------------------------------------------------------------
# B4: gradient checks of B1's data loss (no decay term), float64, all 1634 parameters
def run_gradcheck(threads, repeats, quiet_wait):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(12345)
    model = b1_model().double()
    x = torch.rand(32, 1, 20, 20, generator=g, dtype=torch.float64)
    t = torch.rand(32, 4, generator=g, dtype=torch.float64)
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def f(*ps):
        out = torch.func.functional_call(model, dict(zip(names, ps)), (x,)) \
            if hasattr(torch, "func") else _call(model, names, ps, x)
        return b1_loss(out, t)

    def full():
        return torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-5, rtol=1e-3,
                                        fast_mode=False)

    def fast():
        return torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-5, rtol=1e-3,
                                        fast_mode=True)

    def central():
        # Hand-written central differences over every parameter: 3268 forwards + 1 backward.
        h = 1e-6
        with torch.no_grad():
            numeric = []
            for p in params:
                flat = p.view(-1)
                grad = torch.empty_like(flat)
                for i in range(flat.numel()):
                    old = float(flat[i])
                    flat[i] = old + h
                    up = float(f(*params))
                    flat[i] = old - h
                    down = float(f(*params))
                    flat[i] = old
                    grad[i] = (up - down) / (2 * h)
                numeric.append(grad)
        analytic = torch.autograd.grad(f(*params), params)
        err = max(float((a.reshape(-1) - n).abs().max()) for a, n in zip(analytic, numeric))
        rel = max(float(((a.reshape(-1) - n).abs() / n.abs().clamp_min(1e-12)).max())
                  for a, n in zip(analytic, numeric))
        return err, rel

    results = []
    for case, fn in (("full", full), ("fast", fast), ("central", central)):
        fn()  # warm-up
        seconds, loads, extra = [], [], {}
        for _ in range(repeats):
            wait_until_quiet(quiet_wait)
            a = cpu_sample()
            start = time.perf_counter()
            out = fn()
            seconds.append(time.perf_counter() - start)
            loads.append(others_load(a, cpu_sample()))
            if case == "central":
                extra = {"max_abs_err": out[0], "max_rel_err": out[1]}
            else:
                extra = {"passed": bool(out)}
        s = sorted(seconds)
        med = s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])
        row = {"tool": "torch", "bench": "b4", "name": "gradcheck-" + case, "threads": threads,
               "params": sum(p.numel() for p in params), "seconds": seconds, "min_s": min(seconds),
               "median_s": med, "max_s": max(seconds), "others_load": loads}
        row.update(extra)
        results.append(row)
    return results


def _call(model, names, ps, x):
    from torch.nn.utils import stateless  # torch 1.13: torch.func does not exist yet
    return stateless.functional_call(model, dict(zip(names, ps)), (x,))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="b1,b2,b3,b4")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quiet-wait", type=float, default=30.0)
    a = ap.parse_args()
    for bench in a.bench.split(","):
        for threads in (int(t) for t in a.threads.split(",")):
            rows = run_gradcheck(threads, a.repeats, a.quiet_wait) if bench == "b4" else \
                [run_train(bench, threads, a.repeats, a.quiet_wait)]
            for row in rows:
                row["blas"] = os.environ.get("CNNDIAG_BENCH_BLAS", "unknown")
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
