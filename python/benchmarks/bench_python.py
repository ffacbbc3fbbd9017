#!/usr/bin/env python3
"""engram's LSE and DrDAM steps called from Python, against the torch peers in the same process
on the same arrays, and against the same steps timed in C++ (the binding's overhead).

    cmake --build build --target bench_peers             # the C++ side (benchmarks/bench_peers)
    python python/benchmarks/bench_python.py --bench-peers build/benchmarks/bench_peers

Run it with a Python that has engram (pip install ./python), numpy and torch (the peers'
environment, benchmarks/peers/setup.sh, plus pip install ./python). For each case it

1. writes the case's arrays in bench_peers' format and times the step there (Google Benchmark,
   the energy's workspace kept across calls, as a C++ user would);
2. times the same step from Python: g = energy.gradient(X); X - eta * g, with numpy arrays in
   and out (the module keeps the energy's workspace too), first before torch is imported, then
   again once it is (torch brings its own OpenMP runtime into the process);
3. times the torch peers of benchmarks/peers/peers.py on the same arrays;
4. checks that every result matches engram's C++ step (largest absolute difference);
5. prints times (median and range of the repetitions), the binding's overhead (Python minus
   C++, and their ratio) and each peer's time over engram's from Python.

The step is x <- x - eta grad E(x) with the cases of benchmarks/peers/run.py (pixels in
[0, 1/sqrt(D)], beta 60, eta 0.1; DrDAM with the sincos map over a given omega).
"""

import argparse
import importlib
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bench-peers", default=str(ROOT / "build" / "benchmarks" / "bench_peers"),
                   help="the bench_peers binary (cmake --build build --target bench_peers)")
    p.add_argument("--data", default=str(ROOT / "build" / "python-bench-data"),
                   help="folder for the cases' arrays")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--repetitions", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per repetition")
    p.add_argument("--quick", action="store_true", help="the B = 1 and B = 1024 LSE cases only")
    return p.parse_args()


def main():
    args = parse()
    # Both OpenMP runtimes (engram's and torch's) read their thread counts at start.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np

    import engram

    run = importlib.import_module("run")
    rng = np.random.default_rng(20261203)
    cases = [run.lse_case(rng, b, 8192, 256) for b in (1, 1024)]
    if not args.quick:
        cases += [run.drdam_case(rng, b, 8192, 256) for b in (1, 256, 1024)]
    folder = Path(args.data)
    run.write_cases(cases, folder)
    binary = Path(args.bench_peers)
    if not binary.exists():
        sys.exit(f"bench_python.py: {binary} not found; build it with "
                 "cmake --build build --target bench_peers")
    cpp, _ = run.run_engram(binary, folder, args)

    def engram_step(c):
        if c.kind == "lse":
            energy = engram.LSE(engram.DenseMemory(c.patterns), beta=c.beta)
        else:
            phi = engram.RandomFeatures.from_omega(c.omega, beta=c.beta, map="sincos")
            energy = engram.DrDAM(engram.DistributedMemory(phi, c.patterns))
        eta, X = np.float32(c.eta), c.queries
        return lambda: X - eta * energy.gradient(X)

    def difference(c, result):
        reference = run.read_idx(folder / f"{c.name}.engram.idx").astype(np.float32)
        return float(np.abs(result - reference).max())

    # The fixed cost of a call: value() on one pattern of one coordinate, one query.
    tiny = engram.LSE(engram.DenseMemory(np.ones((1, 1), np.float32)), beta=1.0)
    x1 = np.ones((1, 1), np.float32)
    call = run.time_peer(lambda: tiny.value(x1), args)

    alone = {}
    for c in cases:
        step = engram_step(c)
        alone[c.name] = (run.time_peer(step, args), difference(c, step()))

    import torch

    peers = importlib.import_module("peers")
    torch.set_num_threads(args.threads)
    wanted = {"lse": ["torch naive", "torch lean addmm", "torch SDPA (augmented)"],
              "drdam": ["torch analytic"]}
    rows = []
    for c in cases:
        step = engram_step(c)
        results = [("engram from Python", *alone[c.name]),
                   ("  the same, torch imported", run.time_peer(step, args),
                    difference(c, step()))]
        for name, make in peers.PEERS[c.kind]:
            if name not in wanted[c.kind]:
                continue
            peer_step, fetch = make(c, args.threads)
            times = run.time_peer(peer_step, args)
            results.append((name, times, difference(c, fetch(peer_step()))))
        rows.append((c, cpp[f"{c.kind}/{c.name}"], cpp[f"gemm/{c.name}"], results))

    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    print(f"{model}, {os.cpu_count()} logical CPUs, {args.threads} threads; torch "
          f"{torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}; "
          f"median (range) of {args.repetitions} repetitions of >= {args.min_time} s")
    print(f"one call's fixed cost (LSE value, K = D = B = 1): {statistics.median(call) * 1e6:.2f} us")

    def ms(t):
        return f"{statistics.median(t) * 1e3:.3f} ({min(t) * 1e3:.3f}-{max(t) * 1e3:.3f})"

    for c, cpp_times, gemm_times, results in rows:
        shape = f"B={c.B} K={c.K} D={c.D}" + (f" Y={c.Y}" if c.kind == "drdam" else "")
        base = statistics.median(cpp_times)
        py = statistics.median(results[0][1])
        print(f"\n{c.kind} step, {shape}")
        print(f"  {'C++ (bench_peers)':<26} {ms(cpp_times):>28} ms")
        gemms = "the step's GEMMs (C++)"
        print(f"  {gemms:<26} {ms(gemm_times):>28} ms")
        for name, times, diff in results:
            t = statistics.median(times)
            if name.startswith("engram") or name.startswith("  the same"):
                extra = f"overhead {1e6 * (t - base):+.1f} us, {t / base:.3f}x C++"
            else:
                extra = f"{t / py:.2f}x engram from Python"
            print(f"  {name:<26} {ms(times):>28} ms  {extra}; max |diff| {diff:.1e}")


if __name__ == "__main__":
    main()
