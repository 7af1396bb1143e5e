#!/usr/bin/python3
"""Turns one bench/run.sh result folder into the Markdown table of docs/bench.md.

    /usr/bin/python3 bench/report.py RESULTS_DIR [--update-docs docs/bench.md]

Repeats of all rounds are pooled per (tool, network, threads): min / median / max of the step
loop's seconds. Throughput is from the median: B1 iterations/s, B2/B3 samples/s. The ratio is
cnndiag's median throughput over PyTorch's, both from the same interleaved run. GFLOP/s follows
BENCH.md's convention (train = 3 x forward conv/linear multiply-adds, 2 FLOPs each) and "of peak"
divides by the FMA peak measured by cnndiag_fma_peak at the same thread count.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys

TARGETS = {"b1": 20.0, "b2": 2.0, "b3": 1.3}
B4_TARGET = 20.0


def load(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    return rows


def pool(rows):
    """(bench, name, threads) -> merged row with all repeats."""
    out = {}
    for r in rows:
        key = (r["bench"], r.get("name", ""), r["threads"])
        m = out.setdefault(key, {"seconds": [], "others_load": [], "peak_rss_kib": 0, "row": r})
        m["seconds"] += r["seconds"]
        m["others_load"] += r.get("others_load", [])
        m["peak_rss_kib"] = max(m["peak_rss_kib"], r.get("peak_rss_kib", 0))
    for m in out.values():
        s = m["seconds"]
        m["min"], m["median"], m["max"] = min(s), statistics.median(s), max(s)
        m["quiet"] = sum(1 for x in m["others_load"] if x < 0.25)
    return out


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import torch  # noqa: F401 (version only)
        tv = torch.__version__
    except Exception:  # pragma: no cover - reported, not fatal
        tv = "not importable"
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return f"{model}, {os.cpu_count()} vCPUs, Linux {platform.release()}; {gxx}; PyTorch {tv}"


def fmt(x, digits=3):
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--update-docs")
    a = ap.parse_args()
    peaks = load(os.path.join(a.results, "fma_peak.jsonl")) or \
        [json.load(open(os.path.join(a.results, "fma_peak.json")))]
    peak = {"isa": peaks[0]["isa"], "gflops_1t": max(p["gflops_1t"] for p in peaks),
            "gflops_2t": max(p["gflops_2t"] for p in peaks),
            "range": "; ".join(f"{p['gflops_1t']}/{p['gflops_2t']}" for p in peaks)}
    ours = pool(load(os.path.join(a.results, "cnndiag.jsonl")))
    theirs = pool(load(os.path.join(a.results, "torch.jsonl")))
    blas = next((r["row"].get("blas") for r in theirs.values()), "unknown")

    lines = [f"Run `{os.path.basename(a.results.rstrip('/'))}` on {machine()}.",
             f"FMA peak (float32, {peak['isa']}): {peak['gflops_1t']} GFLOP/s at 1 thread, "
             f"{peak['gflops_2t']} at 2 (highest of the run's measurements, 1t/2t: {peak['range']}). "
             f"PyTorch BLAS: {blas}.", "",
             "| net | threads | metric | cnndiag median (min–max) | PyTorch median (min–max) "
             "| ratio | target | cnndiag GFLOP/s (of peak) | PyTorch GFLOP/s (of peak) | quiet repeats |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for (bench, name, threads), m in sorted(ours.items()):
        if bench in ("b4", "probe"):
            continue
        r = m["row"]
        t = theirs.get((bench, name, threads))
        per = r["steps"] * (1 if bench == "b1" else r["batch"])
        unit = "it/s" if bench == "b1" else "samples/s"
        flop = r["gflop_per_s"] * r["median_s"] / r["steps"] * 1e9  # per step
        pk = peak["gflops_1t"] if threads == 1 else peak["gflops_2t"]

        def cell(mm):
            return f"{fmt(per / mm['median'])} ({fmt(per / mm['max'])}–{fmt(per / mm['min'])})"

        def gf(mm):
            g = flop * r["steps"] / mm["median"] * 1e-9
            return f"{g:.1f} ({100 * g / pk:.0f} %)" if pk else f"{g:.1f}"

        ratio = t and t["median"] and m["median"] and (t["median"] / m["median"])
        target = TARGETS.get(bench)
        met = ratio and target and ratio >= target
        verdicts.append((bench, threads, ratio, target, met))
        quiet = f"{m['quiet']}/{len(m['others_load'])} · {t['quiet']}/{len(t['others_load'])}" if t else "–"
        lines.append(f"| {bench} {name} | {threads} | {unit} | {cell(m)} | {cell(t) if t else '–'} "
                     f"| {ratio:.2f}× | ≥ {target}× {'met' if met else 'NOT met'} | {gf(m)} "
                     f"| {gf(t) if t else '–'} | {quiet} |" if t else
                     f"| {bench} {name} | {threads} | {unit} | {cell(m)} | – | – | ≥ {target}× | {gf(m)} | – | – |")

    # Two threads never slower than one.
    lines.append("")
    for bench in sorted({k[0] for k in ours}):
        one = [m for k, m in ours.items() if k[0] == bench and k[2] == 1]
        two = [m for k, m in ours.items() if k[0] == bench and k[2] == 2]
        if one and two:
            speedup = one[0]["median"] / two[0]["median"]
            lines.append(f"- {bench}: 2 threads vs 1: {speedup:.2f}× "
                         f"({'not slower' if speedup >= 0.97 else 'SLOWER'})")
    rss = [(k, m["peak_rss_kib"]) for k, m in ours.items() if k[0] == "b3"]
    trss = [(k, m["peak_rss_kib"]) for k, m in theirs.items() if k[0] == "b3"]
    if rss:
        lines.append(f"- B3 peak RSS of the benchmark process: cnndiag {max(v for _, v in rss) / 1024:.0f} MiB, "
                     f"PyTorch {max(v for _, v in trss) / 1024:.0f} MiB (whole process, includes the "
                     f"interpreter and libtorch)" if trss else "")

    # B4
    b4 = {k[1]: m for k, m in theirs.items() if k[0] == "b4"}
    if b4:
        lines += ["", "| B4 gradient check (B1 loss, float64, 1634 params); cnndiag also: sampled check of "
                  "B2 (61,706 params), probe of one seed checkpoint | median s (min–max) |",
                  "|---|---|"]
        for name in ("gradcheck-full", "gradcheck-fast", "gradcheck-central"):
            if name in b4:
                m = b4[name]
                lines.append(f"| PyTorch {name.split('-')[1]} | {m['median']:.4g} "
                             f"({m['min']:.4g}–{m['max']:.4g}) |")
        ours_b4 = {k[1]: m for k, m in ours.items() if k[0] in ("b4", "probe")}
        for name, m in sorted(ours_b4.items()):
            lines.append(f"| cnndiag {name} | {m['median']:.4g} ({m['min']:.4g}–{m['max']:.4g}) |")
        if "gradcheck-exhaustive" in ours_b4 and "gradcheck-full" in b4:
            ratio = b4["gradcheck-full"]["median"] / ours_b4["gradcheck-exhaustive"]["median"]
            lines.append("")
            lines.append(f"- B4: cnndiag's exhaustive check is {ratio:.1f}× faster than "
                         f"torch.autograd.gradcheck (full) (target ≥ 20×: "
                         f"{'met' if ratio >= 20 else 'NOT met'})")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.update_docs:
        doc = open(a.update_docs).read()
        begin, end = "<!-- bench:latest:begin -->", "<!-- bench:latest:end -->"
        doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), begin + "\n" + text + end, doc,
                     flags=re.S)
        open(a.update_docs, "w").write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
