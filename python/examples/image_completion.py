#!/usr/bin/env python3
"""image_completion.py: the flagship example (examples/image_completion.cpp) from Python.

Stores N Fashion-MNIST training images in a log-sum-exp memory, hides the bottom part of M query
images, and completes them by descending the energy with the visible pixels clamped (seed 001
App. D: pixels scaled to [0, 1/sqrt(D)], step 0.1). It chooses the same images from the same
seed as the C++ program (engram.Philox draws the same numbers) and runs the same retrieval, so
with the same arguments both write the same grid.png and energy.csv.

--from test (the default) completes test images the memory has never seen; --from train
completes stored images. With --energy drdam the queries are also completed by a random-feature
memory (DrDAM, sincos features, beta 60 by default).

Writes grid.png (rows: occluded, retrieved, [DrDAM retrieved,] nearest stored image, original)
and energy.csv (model, step, query, energy) into --out, and prints each query's labels and
error.
"""

import argparse
import os
import sys

import numpy as np

import engram

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def choose(n, count, rng, stream):
    """`count` distinct indices of 0..n-1 chosen by the seed: the partial Fisher-Yates shuffle
    of examples/completion.hpp, on the same Philox numbers."""
    order = list(range(n))
    u = rng.uniform(count, stream)
    for i in range(count):
        span = float(n - i)
        j = i + min(int(u[i] * span), int(span) - 1)
        order[i], order[j] = order[j], order[i]
    return np.array(order[:count])


def nearest(stored, states):
    """For each row of states, the row of stored nearest in Euclidean distance."""
    norms = (stored * stored).sum(1)
    return np.argmin(norms[:, None] - 2 * stored @ states.T, axis=0)


def write_grid(path, rows, scale, per_block=20, most_drawn=100):
    """Blocks of up to 20 queries, each block one row of images per array of `rows`."""
    count = rows[0].shape[0]
    drawn = min(count, most_drawn)
    columns = min(drawn, per_block)
    blocks = (drawn + columns - 1) // columns
    grid = np.ones((blocks * len(rows) * columns, rows[0].shape[1]), np.float32)
    for q in range(drawn):
        base = (q // columns) * len(rows) * columns + q % columns
        for r, images in enumerate(rows):
            grid[base + columns * r] = images[q] / scale
    engram.write_png_grid(path, grid, columns=columns, zoom=2)


def progress_line(label, quiet, total=None):
    """A progress callback printing `label: step/total` on stderr, or None when quiet."""
    if quiet or not sys.stderr.isatty():
        return None

    def report(p):
        done = p.step if hasattr(p, "step") else p.done
        whole = total if total is not None else p.total
        print(f"\r{label}: {done}/{whole}", end="", file=sys.stderr, flush=True)

    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stored", type=int, default=10000, help="training images stored")
    parser.add_argument("--queries", type=int, default=20, help="images occluded and completed")
    parser.add_argument("--from", dest="source", choices=["test", "train"], default="test")
    parser.add_argument("--beta", type=float, default=None,
                        help="inverse temperature (default 200; 60 with --energy drdam)")
    parser.add_argument("--step", type=float, default=0.1, help="gradient descent step size")
    parser.add_argument("--max-steps", type=int, default=1000, help="step limit per image")
    parser.add_argument("--tolerance", type=float, default=1e-7,
                        help="stop once the energy changes by less than this")
    parser.add_argument("--occlude", type=float, default=0.4,
                        help="fraction of image rows hidden, from the bottom")
    parser.add_argument("--seed", type=int, default=1, help="chooses the images (and omega)")
    parser.add_argument("--energy", choices=["lse", "drdam"], default="lse")
    parser.add_argument("--features", type=int, default=100000, help="DrDAM's Y")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="image_completion_out")
    parser.add_argument("--quiet", action="store_true")
    a = parser.parse_args()
    drdam = a.energy == "drdam"
    beta = a.beta if a.beta is not None else (60.0 if drdam else 200.0)
    if not 0 <= a.occlude <= 1:
        parser.error(f"--occlude is {a.occlude}; it must lie in [0, 1]")

    def dataset(name):
        path = os.path.join(a.data, name)
        if not os.path.exists(path):
            sys.exit(f"image_completion.py: cannot find {path}: install Debian's Fashion-MNIST "
                     "(apt-get install dataset-fashion-mnist) or point --data at a folder "
                     "holding it")
        return path

    train = engram.read_idx_images(dataset("train-images-idx3-ubyte.gz"))
    train_labels = engram.read_idx_labels(dataset("train-labels-idx1-ubyte.gz"))
    side, dim = 28, 28 * 28
    unseen = a.source == "test"
    if a.stored > len(train):
        parser.error(f"--stored is {a.stored} but the training set holds {len(train)} images")
    if not unseen and a.queries > a.stored:
        parser.error("--queries exceeds --stored: with --from train the queries are stored "
                     "images")

    rng = engram.Philox(a.seed)
    stored_index = choose(len(train), a.stored, rng, 0)
    scale = np.float32(1) / np.sqrt(np.float32(dim))  # pixels in [0, 1/sqrt(D)]
    images = scale * train[stored_index]
    labels = train_labels[stored_index]
    if unseen:
        test = engram.read_idx_images(dataset("t10k-images-idx3-ubyte.gz"))
        test_labels = engram.read_idx_labels(dataset("t10k-labels-idx1-ubyte.gz"))
        if a.queries > len(test):
            parser.error(f"--queries is {a.queries} but the test set holds {len(test)} images")
        query_index = choose(len(test), a.queries, rng, 1)
        originals = scale * test[query_index]
        query_labels = test_labels[query_index]
    else:
        query_index = stored_index[: a.queries]
        originals = images[: a.queries]
        query_labels = labels[: a.queries]

    memory = engram.DenseMemory(images)
    energy = engram.LSE(memory, beta=beta)

    # Hide the bottom rows: zero them in the queries and let only them move.
    visible_rows = round((1 - a.occlude) * side)
    visible = np.arange(dim) // side < visible_rows
    queries = np.where(visible, originals, np.float32(0))
    stop = engram.stop.energy_change(a.tolerance) | engram.stop.after(a.max_steps)
    step = engram.GradientDescent(a.step)

    result = engram.retrieve(energy, queries, step, stop, clamp=visible, record_trace=True,
                             progress=progress_line("retrieval", a.quiet, a.max_steps))
    approx = None
    if drdam:
        phi = engram.RandomFeatures(dim, a.features, beta, seed=a.seed, map="sincos")
        tensor = engram.DistributedMemory(
            phi, images, progress=progress_line("encoding DrDAM's tensor", a.quiet))
        approx = engram.retrieve(engram.DrDAM(tensor), queries, step, stop, clamp=visible,
                                 record_trace=True,
                                 progress=progress_line("DrDAM retrieval", a.quiet, a.max_steps))
        print(f"parameters: MrDAM stores K x D = {a.stored} x {dim} = {a.stored * dim} numbers; "
              f"DrDAM's tensor holds F = 2Y = {phi.size}")
    if not a.quiet and sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)

    found = nearest(images, result.states)
    os.makedirs(a.out, exist_ok=True)
    rows = [queries, result.states] + ([approx.states] if approx else [])
    rows += [images[found], originals]
    png, csv = os.path.join(a.out, "grid.png"), os.path.join(a.out, "energy.csv")
    write_grid(png, rows, scale)
    with open(csv, "w") as f:
        f.write("model,step,query,energy\n")
        for model, r in [("mrdam", result)] + ([("drdam", approx)] if approx else []):
            for t, row in enumerate(r.energy_trace):
                f.writelines(f"{model},{t},{b},{float(e):.12g}\n" for b, e in enumerate(row))

    hidden = dim - visible_rows * side

    def error(states, b):
        return float(np.abs(states[b] - originals[b]).sum() / scale) / hidden if hidden else 0.0

    print(f"{a.stored} training images stored, {a.queries} "
          f"{'unseen test' if unseen else 'stored training'} images completed, beta {beta:g}, "
          f"step {a.step:g}, {hidden} of {dim} pixels hidden")
    print(f"query  {'test' if unseen else 'train':<5} index  label        steps  converged  "
          "nearest stored (label)      same class  |error| hidden")
    agree = 0
    for b in range(a.queries):
        n = found[b]
        same = labels[n] == query_labels[b]
        agree += same
        print(f"{b:5d}  {query_index[b]:10d}  {CLASS_NAMES[query_labels[b]]:<11}  "
              f"{result.steps[b]:5d}  {'yes' if result.converged[b] else 'no':>9}  "
              f"{stored_index[n]:6d} ({CLASS_NAMES[labels[n]]:<11})         "
              f"{'yes' if same else 'no':<3}  {error(result.states, b):.4f}")
    print(f"class agreement: {agree} of {a.queries} completions settled nearest a stored image "
          f"of the query's class ({100.0 * agree / a.queries:.0f}%)")
    if not unseen:
        recovered = int((found == np.arange(a.queries)).sum())
        print(f"stored images recovered: {recovered} of {a.queries} completions are nearest "
              "their own image")
    print("mean absolute pixel error over hidden pixels: "
          f"{sum(error(result.states, b) for b in range(a.queries)) / a.queries:.4f}")
    if approx and hidden:
        approx_found = nearest(images, approx.states)
        gap = sum(float(np.abs(approx.states[b] - result.states[b]).sum() / scale) / hidden
                  for b in range(a.queries)) / a.queries
        print(f"DrDAM mean absolute pixel error over hidden pixels: "
              f"{sum(error(approx.states, b) for b in range(a.queries)) / a.queries:.4f} "
              f"({gap:.4f} from MrDAM's); class agreement "
              f"{int((labels[approx_found] == query_labels).sum())} of {a.queries}")
    if a.queries > 100:
        print(f"grid.png shows the first 100 of the {a.queries} queries")
    print(f"wrote {png} and {csv}")


if __name__ == "__main__":
    main()
