"""Memory and time of custom autograd Functions against native PyTorch and the plain composition.

    python benchmarks/torch_memory.py            # 8 layers on (4096, 4096) float32
    python benchmarks/torch_memory.py --quick    # 8 layers on (1024, 1024) float32

For 8 stacked layers of Mish and of Swish (beta = 1), four variants each:

- ``naive``: the composition of torch ops, ``x * torch.tanh(F.softplus(x))`` and
  ``x * torch.sigmoid(beta * x)``, differentiated by autograd;
- ``function``: ``MishFunction`` / ``SwishFunction`` of ``course_utils.reference_torch``;
- ``one block``: the same Functions with their blocked loop switched off (``BLOCK`` larger
  than the tensor): the plain recompute, with full-size temporaries;
- ``native``: ``F.mish`` / ``F.silu``.

Measured per variant:

(a) bytes saved for backward, from ``torch.autograd.graph.saved_tensors_hooks``, counting each
    storage once (a layer's saved input is the previous layer's output);
(b) peak memory of one forward + backward (``h.sum().backward()``, the input requiring grad):
    on CPU the high-water mark of the process's resident memory (``ru_maxrss``) of a fresh
    subprocess, minus that of a baseline subprocess that does the same warm-up and allocates
    the input but runs no layers; on CUDA (when available) also
    ``torch.cuda.max_memory_allocated`` above the memory allocated before the run;
(c) median time of forward + backward, all variants timed round-robin in one process so that
    load from other processes on the machine spreads over all of them alike; with torch's
    default number of threads, and with one thread (the cost of the arithmetic alone, less
    sensitive to other processes competing for the cores).

Prints a markdown table with ratios to the native variant; ``measure()`` returns its rows.
Targets (docs/COURSE_PLAN.md, benchmarks/README.md): ``MishFunction`` peak <= 1.1x native, time
<= 1.5x native.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import course_utils.torch_blocks as torch_blocks  # noqa: E402
from course_utils.reference_torch import MishFunction, SwishFunction  # noqa: E402

LAYERS = 8
FULL_SIZE, QUICK_SIZE = 4096, 1024
TARGETS = {"peak": 1.1, "seconds": 1.5}  # for the custom Functions, against native
_BETA = torch.tensor(1.0)


def _mish_naive(x):
    return x * torch.tanh(F.softplus(x))


def _swish_naive(x):
    return x * torch.sigmoid(_BETA * x)


def _swish_function(x):
    return SwishFunction.apply(x, _BETA)


#: (unit, variant) -> layer function. "one block" is the same Function with its blocked loop
#: switched off: the plain recompute, full-size temporaries (in place where possible).
VARIANTS: dict[tuple[str, str], Callable] = {
    ("Mish", "naive"): _mish_naive,
    ("Mish", "one block"): MishFunction.apply,
    ("Mish", "function"): MishFunction.apply,
    ("Mish", "native"): F.mish,
    ("Swish", "naive"): _swish_naive,
    ("Swish", "one block"): _swish_function,
    ("Swish", "function"): _swish_function,
    ("Swish", "native"): F.silu,
}
LABELS = {
    ("Mish", "naive"): "`x * tanh(softplus(x))`",
    ("Mish", "one block"): "`MishFunction`, `BLOCK` = all (plain recompute)",
    ("Mish", "function"): "`MishFunction`",
    ("Mish", "native"): "`F.mish`",
    ("Swish", "naive"): "`x * sigmoid(beta * x)`",
    ("Swish", "one block"): "`SwishFunction`, `BLOCK` = all (plain recompute)",
    ("Swish", "function"): "`SwishFunction`",
    ("Swish", "native"): "`F.silu`",
}


def forward_backward(layer: Callable, x: torch.Tensor, one_block: bool = False) -> None:
    """LAYERS stacked layers, then backward; keeps no reference to the intermediate outputs.
    ``one_block`` runs the custom Functions with a single block (no blocked loop)."""
    block = torch_blocks.BLOCK
    torch_blocks.BLOCK = 1 << 62 if one_block else block
    try:
        h = x
        for _ in range(LAYERS):
            h = layer(h)
        h.sum().backward()
    finally:
        torch_blocks.BLOCK = block


def _run_variant(key: tuple[str, str], x: torch.Tensor) -> None:
    forward_backward(VARIANTS[key], x, one_block=key[1] == "one block")


def _input(size: int, device: str = "cpu") -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(size, size, generator=generator).mul_(3.0).to(device)
    return x.requires_grad_()


def _warm_up(device: str) -> None:
    """Run every variant once on a small input: one-time allocations are not measured."""
    for key in VARIANTS:
        _run_variant(key, _input(64, device))


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def saved_bytes(layer: Callable, x: torch.Tensor) -> int:
    """Bytes autograd holds for backward through LAYERS layers, each storage counted once."""
    storages: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    h = x
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for _ in range(LAYERS):
            h = layer(h)
    del h
    return sum(storages.values())


def _child(key: str, size: int) -> dict:
    """In a fresh process: the peak memory of one forward+backward (or of the baseline)."""
    _warm_up("cpu")
    x = _input(size)
    result = {"key": key}
    if key != "baseline":
        unit, variant = key.split("/")
        _run_variant((unit, variant), x)
    result["maxrss"] = _maxrss_bytes()
    if torch.cuda.is_available():
        _warm_up("cuda")
        xc = _input(size, "cuda")
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        if key != "baseline":
            _run_variant((unit, variant), xc)
        torch.cuda.synchronize()
        result["cuda_peak"] = torch.cuda.max_memory_allocated() - before
    return result


def _run_child(key: str, size: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", key, "--size", str(size)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _times(size: int, repeats: int, threads: int | None = None,
           ) -> dict[tuple[str, str], float]:
    """Median seconds of forward + backward per variant, with ``threads`` intra-op threads
    (torch's default when None), the variants interleaved."""
    default = torch.get_num_threads()
    torch.set_num_threads(threads or default)
    try:
        x = _input(size)
        samples: dict[tuple[str, str], list[float]] = {k: [] for k in VARIANTS}
        for _ in range(repeats):
            for key in VARIANTS:
                x.grad = None
                start = time.perf_counter()
                _run_variant(key, x)
                samples[key].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(default)
    return {k: statistics.median(v) for k, v in samples.items()}


def measure(quick: bool = False, size: int | None = None,
            repeats: int | None = None) -> list[dict]:
    """One row per (unit, variant): saved bytes, peak bytes (CPU; CUDA if present), median
    seconds, and their ratios to the native variant of the same unit."""
    size = size or (QUICK_SIZE if quick else FULL_SIZE)
    repeats = repeats or (3 if quick else 5)
    _warm_up("cpu")
    baseline = _run_child("baseline", size)
    peaks = {k: _run_child("/".join(k), size) for k in VARIANTS}
    times = _times(size, repeats)
    times_1 = _times(size, repeats, threads=1)
    x = _input(size)
    rows = []
    for key in VARIANTS:
        row = {
            "unit": key[0], "variant": key[1], "label": LABELS[key],
            "size": size, "layers": LAYERS,
            "tensor_bytes": x.numel() * x.element_size(),
            "saved_bytes": saved_bytes(VARIANTS[key], x),
            "peak_bytes": peaks[key]["maxrss"] - baseline["maxrss"],
            "threads": torch.get_num_threads(),
            "seconds": times[key],
            "seconds_1_thread": times_1[key],
        }
        if "cuda_peak" in peaks[key]:
            row["cuda_peak_bytes"] = peaks[key]["cuda_peak"]
        rows.append(row)
    for row in rows:
        native = next(r for r in rows if r["unit"] == row["unit"] and r["variant"] == "native")
        for field in ("saved_bytes", "peak_bytes", "seconds", "seconds_1_thread",
                      "cuda_peak_bytes"):
            if field in row:
                row[field.replace("_bytes", "") + "_ratio"] = row[field] / native[field]
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a markdown table; a custom Function over its target is marked."""
    cuda = any("cuda_peak_bytes" in r for r in rows)
    mib = 2.0 ** 20
    head = ["unit", "variant", "saved for backward", "peak (CPU RSS)",
            f"time ({rows[0]['threads']} threads)", "time (1 thread)"]
    if cuda:
        head.append("peak (CUDA)")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        mark = {}
        for what, target in TARGETS.items():
            over = r["variant"] == "function" and r[f"{what}_ratio"] > target
            mark[what] = f" **over {target}x**" if over else ""
        cells = [
            r["unit"], r["label"],
            f"{r['saved_bytes'] / mib:.0f} MiB ({r['saved_ratio']:.2f}x)",
            f"{r['peak_bytes'] / mib:.0f} MiB ({r['peak_ratio']:.2f}x){mark['peak']}",
            f"{r['seconds'] * 1e3:.0f} ms ({r['seconds_ratio']:.2f}x){mark['seconds']}",
            f"{r['seconds_1_thread'] * 1e3:.0f} ms ({r['seconds_1_thread_ratio']:.2f}x)",
        ]
        if cuda:
            cells.append(f"{r['cuda_peak_bytes'] / mib:.0f} MiB ({r['cuda_peak_ratio']:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    size, tensor = rows[0]["size"], rows[0]["tensor_bytes"] / mib
    lines.append("")
    lines.append(f"{LAYERS} stacked layers on a ({size}, {size}) float32 input ({tensor:.0f} MiB "
                 f"a tensor); ratios to the native function of the same unit. Targets for the "
                 f"custom Functions (marked where missed): peak <= {TARGETS['peak']}x, "
                 f"time <= {TARGETS['seconds']}x.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a (1024, 1024) input")
    parser.add_argument("--size", type=int, help="side of the square input (overrides --quick)")
    parser.add_argument("--repeats", type=int, help="timed repetitions per variant")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.size)))
        return 0
    rows = measure(args.quick, args.size, args.repeats)
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
