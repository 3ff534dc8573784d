"""Speed of the NumPy reference against the naive NumPy formula and PyTorch.

The reference buys exactness on the whole float range (extra-precision arithmetic in the
Swish and Mish families); this table says what that costs. Times are medians of several
runs on one array of moderate values, measured side by side in one process.

    python benchmarks/speed.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from course_utils import reference as R


def naive_softplus(z):
    return np.log(1 + np.exp(z))


#: name -> (reference, naive NumPy, torch)
CASES = {
    "sigmoid": (R.sigmoid, lambda z: 1 / (1 + np.exp(-z)), torch.sigmoid),
    "relu": (R.relu, lambda z: np.maximum(z, 0), torch.relu),
    "softplus": (R.softplus, naive_softplus, F.softplus),
    "swish": (R.swish, lambda z: z / (1 + np.exp(-z)), F.silu),
    "mish": (R.mish, lambda z: z * np.tanh(naive_softplus(z)), F.mish),
    "swish_grad": (R.swish_grad,
                   lambda z: (s := 1 / (1 + np.exp(-z))) + z * s * (1 - s), None),
    "mish_grad": (R.mish_grad, None, None),
}


def median_seconds(fn, x, repeats: int) -> float:
    fn(x)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(quick: bool = False) -> list[dict]:
    n, repeats = (100_000, 3) if quick else (1_000_000, 7)
    z = np.random.default_rng(0).normal(scale=5.0, size=n)
    zt = torch.from_numpy(z)
    rows = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name, (ref, naive, native) in CASES.items():
            row = {"function": name, "reference": median_seconds(ref, z, repeats)}
            row["naive"] = median_seconds(naive, z, repeats) if naive else None
            row["torch"] = median_seconds(native, zt, repeats) if native else None
            row["n"] = n
            rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    def ms(seconds):
        return "—" if seconds is None else f"{1e3 * seconds:.1f}"

    def ratio(row, key):
        return "—" if row[key] is None else f"{row['reference'] / row[key]:.1f}×"

    out = [f"float64, {rows[0]['n']:,} values, median ms (no target: the reference is for "
           "checking, not training)\n",
           "| function | reference | naive NumPy | torch | reference / naive | reference / torch |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['function']} | {ms(r['reference'])} | {ms(r['naive'])} | "
                   f"{ms(r['torch'])} | {ratio(r, 'naive')} | {ratio(r, 'torch')} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer values and runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(markdown(measure(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
