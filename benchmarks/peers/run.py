#!/usr/bin/env python3
"""engram against its peers, on the same shapes and the same numbers, in one run.

    bash benchmarks/peers/setup.sh                                # once: the peers' venv
    benchmarks/peers/.venv/bin/python benchmarks/peers/run.py [--quick]

1. builds engram's bench_peers (Release, -march=native) in build-peers/;
2. writes every case's data as IDX files (float32, one row per sample) into
   build-peers/peers-data/, with Fashion-MNIST from Debian's dataset-fashion-mnist for the
   whole retrieval, and a manifest, cases.txt;
3. times engram's steps on them (Google Benchmark, with a GEMM of each step's shape as the
   baseline in the same binary), then each peer of benchmarks/peers/peers.py on the same arrays;
4. checks that every peer computed what engram computed (largest difference of the results);
5. prints the table of times and ratios (ratio = peer time / engram time: above 1, engram is
   faster), and, unless --quick without --write, rewrites the peer tables of
   benchmarks/RESULTS.md and draws the PNG charts of benchmarks/peers/charts/.

Every figure is the median of --repetitions timed runs (each at least --min-time seconds of
repeated calls, after one untimed warm-up call that compiles what the peer compiles); the
spread printed beside it is the range over the repetitions.
"""

import argparse
import datetime
import gzip
import importlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SETUP = "bash benchmarks/peers/setup.sh"
BEGIN, END = "<!-- peers: begin (benchmarks/peers/run.py rewrites this part) -->", "<!-- peers: end -->"


def require_environment():
    missing = []
    for module in ("numpy", "scipy", "torch", "jax"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        sys.exit(
            f"run.py: the peers' environment is missing ({', '.join(missing)} not importable from "
            f"{sys.executable}).\nCreate it with\n    {SETUP}\nand run this script with its "
            f"Python:\n    benchmarks/peers/.venv/bin/python benchmarks/peers/run.py"
        )


# ------------------------------------------------------------------------------------ cases


class Case:
    def __init__(self, kind, name, **fields):
        self.kind, self.name, self.fields = kind, name, fields
        for k, v in fields.items():
            setattr(self, k, v)

    def manifest(self):
        keys = [k for k in ("B", "K", "D", "Y", "beta", "eta", "tol", "steps") if k in self.fields]
        return " ".join([self.kind, f"name={self.name}"] + [f"{k}={self.fields[k]!r}" for k in keys])


def write_idx(path, rows):
    """rows: (N, D) float32 -> an IDX file of N items of D values (big-endian float32)."""
    import numpy as np

    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    header = bytes([0, 0, 0x0D, 2]) + np.array(rows.shape, dtype=">u4").tobytes()
    tmp = path.with_suffix(".part")
    tmp.write_bytes(header + rows.astype(">f4").tobytes())
    tmp.replace(path)


def read_idx(path):
    import numpy as np

    raw = path.read_bytes()
    opener = gzip.decompress if raw[:2] == b"\x1f\x8b" else (lambda b: b)
    raw = opener(raw)
    code, rank = raw[2], raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw[4 : 4 + 4 * rank], dtype=">u4"))
    dtype = {0x08: ">u1", 0x0D: ">f4", 0x0E: ">f8"}[code]
    return np.frombuffer(raw[4 + 4 * rank :], dtype=dtype).reshape(shape)


def lse_case(rng, b, k, d):
    # Pixels in [0, 1/sqrt(D)] as in bench_lse, beta 60 (seed 001), step 0.1.
    scale = 1 / math.sqrt(d)
    c = Case("lse", f"lse_B{b}_K{k}_D{d}", B=b, K=k, D=d, beta=60.0, eta=0.1)
    c.patterns = (rng.random((k, d), dtype="float32") * scale).astype("float32")
    c.queries = (rng.random((b, d), dtype="float32") * scale).astype("float32")
    return c


def drdam_case(rng, b, y, d, k=1024):
    # Patterns as for LSE, omega standard normal, beta 60 (seed 001's DrDAM setting).
    scale = 1 / math.sqrt(d)
    c = Case("drdam", f"drdam_B{b}_Y{y}_D{d}", B=b, K=k, Y=y, D=d, beta=60.0, eta=0.1)
    c.patterns = (rng.random((k, d), dtype="float32") * scale).astype("float32")
    noise = rng.standard_normal((b, d)).astype("float32")
    c.queries = (c.patterns[rng.integers(0, k, b)] + 0.02 * scale * noise).astype("float32")
    c.omega = rng.standard_normal((y, d)).astype("float32")
    return c


def lsr_case(rng, b, k, d):
    """bench_lsr's fixed-point workload: patterns uniform in [0,1]^D, the radius at the median
    distance to a pattern's 10th nearest neighbour (about ten memories in a support), queries at
    half that radius from a pattern."""
    import numpy as np

    patterns = rng.random((k, d), dtype="float32")
    tenth = []
    for s in range(64):
        d2 = ((patterns - patterns[s]) ** 2).sum(1)
        tenth.append(math.sqrt(np.partition(d2, 10)[10]))
    r = float(np.median(tenth))
    noise = rng.standard_normal((b, d)).astype("float32")
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    c = Case("lsr", f"lsr_K{k}_D{d}", B=b, K=k, D=d, beta=2.0 / (r * r))
    c.patterns = patterns
    c.queries = (patterns[np.arange(b) % k] + 0.5 * r * noise).astype("float32")
    return c


def retrieval_case(rng, data_dir, stored=10000, queries=20):
    """image_completion's retrieval: Fashion-MNIST training images stored, test images with the
    bottom 40% of rows hidden, beta 200, step 0.1, tolerance 1e-7, at most 1000 steps."""
    import numpy as np

    train = read_idx(data_dir / "train-images-idx3-ubyte.gz").reshape(-1, 784)
    test = read_idx(data_dir / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    scale = 1 / math.sqrt(784) / 255
    c = Case(
        "retrieval", f"retrieval_K{stored}_B{queries}_D784", B=queries, K=stored, D=784,
        beta=200.0, eta=0.1, tol=1e-7, steps=1000,
    )
    c.patterns = (train[rng.choice(len(train), stored, replace=False)] * scale).astype("float32")
    originals = (test[rng.choice(len(test), queries, replace=False)] * scale).astype("float32")
    visible_rows = round(0.6 * 28)
    c.visible = (np.arange(784) // 28 < visible_rows).astype("float32")
    c.queries = originals * c.visible
    return c


def make_cases(args):
    import numpy as np

    rng = np.random.default_rng(2026)
    cases = []
    if args.quick:
        lse_shapes = [(256, 1024, 256), (256, 8192, 256), (256, 65536, 64)]
        drdam_shapes = [(256, 8192, 256)]
        lsr_cells = [(k, d) for k in (1000, 10000) for d in (2, 8, 64)]
    else:
        lse_shapes = [(1024, k, 256) for k in (1024, 4096, 8192, 32768)]
        lse_shapes += [(256, k, 64) for k in (10000, 100000, 1000000)]
        drdam_shapes = [(256, 8192, 256), (16, 50000, 784)]
        lsr_cells = [(k, d) for k in (1000, 10000, 100000) for d in (2, 8, 64)]
    cases += [lse_case(rng, *s) for s in lse_shapes]
    cases += [drdam_case(rng, *s) for s in drdam_shapes]
    cases += [lsr_case(rng, 1024, k, d) for k, d in lsr_cells]
    fashion = Path(args.fashion_mnist)
    if (fashion / "train-images-idx3-ubyte.gz").exists():
        cases.append(retrieval_case(rng, fashion))
    else:
        print(f"run.py: no Fashion-MNIST under {fashion} (apt-get install dataset-fashion-mnist); "
              "the whole retrieval is left out", file=sys.stderr)
    return cases


def write_cases(cases, folder):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for c in cases:
        write_idx(folder / f"{c.name}.patterns.idx", c.patterns)
        write_idx(folder / f"{c.name}.queries.idx", c.queries)
        if c.kind == "drdam":
            write_idx(folder / f"{c.name}.omega.idx", c.omega)
        if c.kind == "retrieval":
            write_idx(folder / f"{c.name}.visible.idx", c.visible)
    (folder / "cases.txt").write_text("".join(c.manifest() + "\n" for c in cases))


# ---------------------------------------------------------------------------------- engram


def build_engram(build, blas):
    configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 "-DENGRAM_BUILD_TESTS=OFF", "-DENGRAM_BUILD_EXAMPLES=OFF",
                 "-DENGRAM_BUILD_BENCHMARKS=ON", "-DENGRAM_NATIVE=ON", f"-DENGRAM_BLAS={blas}"]
    subprocess.run(configure, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build), "--target", "bench_peers", "-j",
                    str(os.cpu_count() or 2)], check=True)
    binary = build / "benchmarks" / "bench_peers"
    if not binary.exists():
        sys.exit(f"run.py: {binary} was not built (engram::io needs zlib and stb: "
                 "bash tools/install-deps.sh)")
    return binary


def run_engram(binary, folder, args):
    out = folder / "engram.json"
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    subprocess.run([str(binary), f"--data={folder}", f"--benchmark_out={out}",
                    "--benchmark_out_format=json", f"--benchmark_repetitions={args.repetitions}",
                    f"--benchmark_min_time={args.min_time}", "--benchmark_report_aggregates_only=false"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    runs = {}
    report = json.loads(out.read_text())
    for b in report["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"].split("/real_time")[0]
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        runs.setdefault(name, []).append(b["real_time"] * unit)
    return runs, report.get("context", {})


# ----------------------------------------------------------------------------------- peers


def time_peer(step, args):
    """Seconds per call: the median and range over repetitions of at least min_time each."""
    step()  # warm-up: compiles, allocates, fills caches
    times = []
    for _ in range(args.repetitions):
        calls, t0 = 0, time.perf_counter()
        while True:
            step()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= args.min_time:
                break
        times.append(elapsed / calls)
    return times


def lsr_fixed_points(c, states):
    """How many of `states` are fixed points of the LSR map: equal, to float rounding, to the
    mean (in float64) of the patterns strictly within r, where r^2 = 2 / beta."""
    import numpy as np

    P = c.patterns.astype(np.float64)
    r2, good = 2.0 / c.beta, 0
    for start in range(0, len(states), 256):
        z = states[start : start + 256].astype(np.float64)
        d2 = ((z * z).sum(1)[:, None] - 2 * z @ P.T + (P * P).sum(1)).clip(min=0)
        inside = d2 < r2
        count = inside.sum(1)
        mean = (inside @ P) / np.maximum(count, 1)[:, None]
        # Rounding: float32 states (2^-24 relative) and float32 sums of ~10 terms.
        good += int(((np.abs(mean - z).max(1) <= 1e-5 * max(1.0, np.abs(P).max())) & (count > 0)).sum())
    return good


def run_peers(cases, folder, args):
    """Times every peer on every case and compares its result with engram's. A peer whose
    calls would exceed --cap seconds (predicted from a smaller K at the same D, linearly in K,
    from a call after the warm-up where the warm-up itself took longer than --cap) is skipped
    there and reported so."""
    import numpy as np
    import peers

    results, slow = {}, {}
    for c in cases:
        engram_out = read_idx(folder / f"{c.name}.engram.idx").astype(np.float64)
        steps_file = folder / f"{c.name}.engram_steps.idx"
        engram_steps = read_idx(steps_file).ravel() if steps_file.exists() else None
        for peer, make in peers.PEERS[c.kind]:
            if args.only and not re.search(args.only, peer):
                continue
            label = f"{c.kind}/{c.name} :: {peer}"
            seen = slow.get((peer, c.kind, c.D))
            if seen and seen[1] * c.K / seen[0] > args.cap:
                predicted = seen[1] * c.K / seen[0]
                results[(c.name, peer)] = dict(skipped=f"~{predicted:.0f} s a call (from K={seen[0]})")
                print(f"  {label}: skipped, ~{predicted:.0f} s a call predicted", file=sys.stderr)
                continue
            try:
                step, fetch = make(c, args.threads)
                t0 = time.perf_counter()
                out = fetch(step())  # the warm-up
                first = time.perf_counter() - t0
                if first > args.cap:  # the warm-up may have compiled (torch.compile): time a call
                    t0 = time.perf_counter()
                    step()
                    first = time.perf_counter() - t0
                slow[(peer, c.kind, c.D)] = (c.K, first)
                times = [first] if first > args.cap else time_peer(step, args)
            except Exception as e:  # a peer that cannot run this shape is reported, not fatal
                print(f"  {label}: failed ({type(e).__name__}: {e})", file=sys.stderr)
                results[(c.name, peer)] = dict(skipped=f"failed: {type(e).__name__}")
                continue
            states, steps = out if isinstance(out, tuple) else (out, None)
            states = np.asarray(states, dtype=np.float64)
            diff = np.abs(states - engram_out)
            scale = max(np.abs(engram_out).max(), 1e-30)
            r = dict(times=times, max_diff=float(diff.max()), rel_diff=float(diff.max() / scale),
                     # a different fixed point, not rounding: farther apart than 1e-5 of the scale
                     apart=int((diff.max(axis=1) > 1e-5 * scale).sum()), rows=len(engram_out))
            if steps is not None and engram_steps is not None:
                r["steps"] = float(np.mean(steps))
                r["engram_steps"] = float(np.mean(engram_steps))
            if c.kind == "lsr":
                r["fixed"] = lsr_fixed_points(c, states.astype(np.float32))
            results[(c.name, peer)] = r
            print(f"  {label}: {statistics.median(times) * 1e3:.3f} ms, "
                  f"max |peer - engram| = {diff.max():.2e}", file=sys.stderr)
        if c.kind == "lsr":
            results[(c.name, "engram")] = dict(fixed=lsr_fixed_points(c, engram_out.astype(np.float32)))
    return results


# ---------------------------------------------------------------------------------- report


def machine(args, context):
    import jax
    import numpy
    import scipy
    import torch

    model = ""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    vector = ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags)
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{model}, {os.cpu_count()} logical CPUs ({vector}); {args.threads} threads for "
            f"every framework; fp32. engram built by its CMake (Release, -march=native, "
            f"ENGRAM_BLAS={args.blas}) with "
            f"{compiler}; torch {torch.__version__}, jax {jax.__version__}, numpy "
            f"{numpy.__version__}, scipy {scipy.__version__} from PyPI; Python "
            f"{platform.python_version()}. {datetime.date.today().isoformat()}, "
            f"{'--quick' if args.quick else 'full'} run, each figure the median of "
            f"{args.repetitions} repetitions of at least {args.min_time} s.")


def fmt_ms(times):
    m = statistics.median(times) * 1e3
    lo, hi = min(times) * 1e3, max(times) * 1e3
    digits = 2 if m < 10 else 1 if m < 100 else 0
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def fmt_ratio(peer, ours):
    return f"{statistics.median(peer) / statistics.median(ours):.2f}x"


def tables(cases, engram_runs, peer_results, header):
    lines = [header, ""]
    sections = [
        ("lse", "LSE step, x - eta grad E (ms per step; ratio = time / engram's, above 1 engram is faster)"),
        ("drdam", "DrDAM sincos step over the same omega (ms per step)"),
        ("lsr", "LSR exact retrieval to the fixed point, B = 1024 (ms per batch; queries/s for engram)"),
        ("retrieval", "Whole retrieval: image_completion's shape to convergence (ms per batch)"),
    ]
    rows_by_kind = {}
    for kind, title in sections:
        group = [c for c in cases if c.kind == kind and f"{kind}/{c.name}" in engram_runs]
        if not group:
            continue
        names = [p for p, _ in __import__("peers").PEERS[kind]]
        lines += [f"**{title}**", ""]
        head = ["shape", "engram"]
        if kind in ("lse", "drdam"):
            head.append("2 GEMMs")
        head += names + ["best peer / engram"]
        head += (["fixed points verified (of B)", "fixed points apart from engram's (per peer)"]
                 if kind == "lsr" else ["largest difference from engram"])
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for c in group:
            ours = engram_runs[f"{kind}/{c.name}"]
            shape = ", ".join(f"{k}={c.fields[k]}" for k in ("B", "K", "Y", "D") if k in c.fields
                              and not (kind == "drdam" and k == "K"))
            row = [shape, fmt_ms(ours)]
            if kind in ("lse", "drdam"):
                gemm = engram_runs.get(f"gemm/{c.name}")
                row.append(f"{fmt_ms(gemm)} = {fmt_ratio(gemm, ours)}" if gemm else "-")
            if kind == "lsr":
                row[1] += f"; {c.B / statistics.median(ours):,.0f} q/s"
            best, diffs = None, []
            for p in names:
                r = peer_results.get((c.name, p))
                if r is None or "skipped" in r:
                    row.append(f"not timed ({r['skipped']})" if r else "not run")
                    continue
                one = " (one call)" if len(r["times"]) == 1 else ""
                row.append(f"{fmt_ms(r['times'])}{one} = {fmt_ratio(r['times'], ours)}")
                if best is None or statistics.median(r["times"]) < statistics.median(best[1]):
                    best = (p, r["times"])
                diffs.append(r)
            row.append(f"{fmt_ratio(best[1], ours)} ({best[0]})" if best else "-")
            if kind == "lsr":
                mine = peer_results.get((c.name, "engram"), {}).get("fixed", "-")
                row.append(f"engram {mine}, " + ", ".join(
                    f"{p.split()[0]} {peer_results[(c.name, p)]['fixed']}" for p in names
                    if "fixed" in peer_results.get((c.name, p), {})))
                row.append(", ".join(f"{r['apart']}" for r in diffs) or "-")
            elif kind == "retrieval":
                row.append(f"{max(r['rel_diff'] for r in diffs):.1e} relative; mean steps engram "
                           f"{diffs[0]['engram_steps']:.1f}, peer {diffs[0]['steps']:.1f}"
                           if diffs and "steps" in diffs[0] else "-")
            else:
                row.append(f"{max(r['rel_diff'] for r in diffs):.1e} relative" if diffs else "-")
            lines.append("| " + " | ".join(row) + " |")
            rows_by_kind.setdefault(kind, []).append((c, ours, best))
        lines.append("")
    return lines, rows_by_kind


def rewrite_results(path, lines, charts):
    text = path.read_text() if path.exists() else ""
    block = "\n".join([BEGIN, "# engram against its peers (benchmarks/peers/run.py)", ""] + lines
                      + [f"![{c.stem}](peers/charts/{c.name})" for c in charts] + [END])
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path.with_suffix(".part")
    tmp.write_text(text)
    tmp.replace(path)


def draw_charts(cases, engram_runs, peer_results, folder, data_folder):
    """GFLOP/s of the LSE step against K (engram, its GEMM baseline, every peer), and LSR
    queries/s per cell (engram and the two peers), drawn by gnuplot."""
    if shutil.which("gnuplot") is None:
        print("run.py: gnuplot not found (apt-get install gnuplot-nox); no charts", file=sys.stderr)
        return []
    import peers

    folder.mkdir(parents=True, exist_ok=True)
    charts = []
    lse = [c for c in cases if c.kind == "lse" and f"lse/{c.name}" in engram_runs]
    for d in sorted({c.D for c in lse}):
        group = sorted((c for c in lse if c.D == d), key=lambda c: c.K)
        series = [("engram", lambda c: engram_runs[f"lse/{c.name}"]),
                  ("2 Eigen GEMMs", lambda c: engram_runs.get(f"gemm/{c.name}"))]
        series += [(p, (lambda p: lambda c: (peer_results.get((c.name, p)) or {}).get("times"))(p))
                   for p, _ in peers.PEERS["lse"]]
        data = data_folder / f"lse_D{d}.dat"
        with data.open("w") as f:
            for i, (label, get) in enumerate(series):
                f.write(f'"{label}"\n')
                for c in group:
                    t = get(c)
                    if t and len(t) > 0:
                        f.write(f"{c.K} {4 * c.B * c.K * c.D / statistics.median(t) * 1e-9}\n")
                f.write("\n\n")
        png = folder / f"lse_gflops_D{d}.png"
        batch = group[0].B
        script = (f"set terminal pngcairo size 900,560 font ',10'; set output '{png}';"
                  f"set title 'LSE step, B = {batch}, D = {d}, fp32: GFLOP/s (4 B K D flops) vs K';"
                  "set logscale x; set xlabel 'K (memories)'; set ylabel 'GFLOP/s';"
                  "colors = '#0072B2 #E69F00 #009E73 #CC79A7 #56B4E9 #D55E00 #F0E442 #8E44AD "
                  "#17BECF #7F7F7F';"
                  "set key outside right; set grid; set autoscale xfix; set offsets graph 0.03, "
                  "graph 0.03, 0, 0;"
                  # engram in black and thick, the baseline dashed, the peers in colour
                  f"plot '{data}' index 0 with linespoints title columnheader(1) lw 4 lc "
                  f"'black' pt 7, '{data}' index 1 with linespoints title columnheader(1) lw 2 "
                  f"dt 2 lc 'gray40', for [i=2:{len(series) - 1}] '{data}' index i with "
                  "linespoints title columnheader(1) lw 1.5 lc rgb word(colors, i - 1)")
        subprocess.run(["gnuplot", "-e", script], check=True)
        charts.append(png)
    lsr = [c for c in cases if c.kind == "lsr" and f"lsr/{c.name}" in engram_runs]
    if lsr:
        data = data_folder / "lsr.dat"
        names = [p for p, _ in peers.PEERS["lsr"]]
        with data.open("w") as f:
            f.write("cell engram " + " ".join(f'"{n}"' for n in names) + "\n")
            for c in lsr:
                values = [c.B / statistics.median(engram_runs[f"lsr/{c.name}"])]
                for n in names:
                    r = peer_results.get((c.name, n)) or {}
                    values.append(c.B / statistics.median(r["times"]) if "times" in r else float("nan"))
                f.write(f'"K={c.K} D={c.D}" ' + " ".join(f"{v:.6g}" for v in values) + "\n")
        png = folder / "lsr_queries.png"
        script = (f"set terminal pngcairo size 900,560 font ',10'; set output '{png}';"
                  "set title 'LSR exact retrieval to the fixed point, B = 1024, fp32: queries/s';"
                  "set style data histograms; set style histogram clustered gap 1;"
                  "set style fill solid 0.8 border -1; set logscale y; set ylabel 'queries/s';"
                  "set xtics rotate by -30; set key top right; set grid y;"
                  f"plot for [i=2:{len(names) + 2}] '{data}' using i:xtic(1) title columnheader(i)")
        subprocess.run(["gnuplot", "-e", script], check=True)
        charts.append(png)
    return charts


# ------------------------------------------------------------------------------------ main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, a few minutes")
    parser.add_argument("--write", action="store_true",
                        help="with --quick, still rewrite RESULTS.md and the charts")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads for every framework (default: the CPUs this process may use)")
    parser.add_argument("--repetitions", type=int, default=None,
                        help="timed repetitions per figure (default 5, 3 with --quick)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds per repetition (default 0.5, 0.1 with --quick)")
    parser.add_argument("--cap", type=float, default=None,
                        help="seconds a peer's call may take; slower ones are timed once, and "
                        "skipped at larger K (default 30, 5 with --quick)")
    parser.add_argument("--only", default=None, help="regex: run only the peers it matches")
    parser.add_argument("--cases", default=None,
                        help="regex: run only the cases whose names it matches (their data stay "
                        "those of the full run); prints the table, rewrites nothing")
    parser.add_argument("--build", default=str(ROOT / "build-peers"), help="engram build folder")
    parser.add_argument("--blas", choices=["blis", "eigen"], default="blis",
                        help="engram's tile micro-kernels (CMake ENGRAM_BLAS)")
    parser.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args()
    args.repetitions = args.repetitions or (3 if args.quick else 5)
    args.min_time = args.min_time or (0.1 if args.quick else 0.5)
    args.cap = args.cap or (5.0 if args.quick else 30.0)
    if args.threads < 1:
        sys.exit(f"run.py: --threads is {args.threads}; it must be >= 1")
    if args.repetitions < 1 or args.min_time <= 0:
        sys.exit(f"run.py: --repetitions {args.repetitions} and --min-time {args.min_time} must "
                 "be positive")
    require_environment()

    # Every framework on the same CPUs: the process (and engram's, started from it) keeps the
    # first --threads of them, so that XLA's thread pool, sized by the CPUs it may use, agrees.
    cpus = sorted(os.sched_getaffinity(0))
    if args.threads > len(cpus):
        sys.exit(f"run.py: --threads is {args.threads} but this process may use {len(cpus)} CPUs")
    os.sched_setaffinity(0, cpus[: args.threads])
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))

    started = time.time()
    build = Path(args.build)
    print("== building engram's bench_peers", file=sys.stderr)
    binary = build_engram(build, args.blas)
    print("== writing the cases", file=sys.stderr)
    cases = make_cases(args)
    if args.cases:
        cases = [c for c in cases if re.search(args.cases, c.name)]
        if not cases:
            sys.exit(f"run.py: no case matches --cases {args.cases!r}")
    folder = build / "peers-data"
    write_cases(cases, folder)
    print(f"== engram ({len(cases)} cases)", file=sys.stderr)
    engram_runs, context = run_engram(binary, folder, args)
    print("== peers", file=sys.stderr)
    peer_results = run_peers(cases, folder, args)

    header = "Machine: " + machine(args, context)
    lines, _ = tables(cases, engram_runs, peer_results, header)
    print("\n".join(lines))
    if (not args.quick or args.write) and not args.cases:
        charts = draw_charts(cases, engram_runs, peer_results, HERE / "charts", folder)
        rewrite_results(Path(args.results), lines, charts)
        print(f"rewrote {args.results} and {len(charts)} charts in {HERE / 'charts'}",
              file=sys.stderr)
    print(f"== done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
