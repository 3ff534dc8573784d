"""Run every benchmark on this machine and rewrite the results in benchmarks/README.md.

    python benchmarks/run.py            # full mode (minutes)
    python benchmarks/run.py --quick    # CI-sized
    python benchmarks/run.py --only accuracy notebooks --no-write

Each benchmark is a script of this folder that prints a markdown table (targets beside the
figures, a clear mark where one is missed); this runner adds the machine, versions and
date, and replaces the text between the RESULTS markers of the README.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- RESULTS:BEGIN -->", "<!-- RESULTS:END -->"

#: name -> (script, what it measures)
BENCHMARKS = {
    "accuracy": ("accuracy.py", "Accuracy of the NumPy reference against mpmath (max ULP error)"),
    "torch_memory": ("torch_memory.py",
                     "Custom autograd Functions against native PyTorch: memory and time"),
    "speed": ("speed.py", "Speed of the NumPy reference against naive NumPy and PyTorch"),
    "notebooks": ("notebooks.py", "Source notebooks, top to bottom"),
    "grading": ("grading.py", "Grading throughput"),
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        info = []
    for line in info:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    # Hosts sold under one name differ (vector width, clock): name the vector width, so that
    # runs on different hosts are not compared as if alike.
    flags = next((line.split() for line in info if line.startswith("flags")), [])
    if flags:
        cpu += " (AVX-512)" if "avx512f" in flags else " (AVX2, no AVX-512)"
    versions = ", ".join(f"{p} {version(p)}" for p in ("numpy", "torch", "nbgrader"))
    return (f"{datetime.date.today().isoformat()} · {cpu}, {os.cpu_count()} cores · "
            f"Python {platform.python_version()}, {versions}")


def run(name: str, quick: bool) -> str:
    script, title = BENCHMARKS[name]
    command = [sys.executable, str(HERE / script)] + (["--quick"] if quick else [])
    print(f"benchmarks: running {script} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    body = done.stdout.strip() if done.returncode == 0 else (
        f"**failed** (exit {done.returncode}):\n\n```\n{done.stderr.strip()[-2000:]}\n```")
    shown = " ".join(["python", f"benchmarks/{script}"] + command[2:])
    return f"### {title}\n\n`{shown}`\n\n{body}\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized runs")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="a subset")
    parser.add_argument("--no-write", action="store_true", help="print, leave the README")
    args = parser.parse_args(argv)
    names = [n for n in BENCHMARKS if n in (args.only or BENCHMARKS)
             and (HERE / BENCHMARKS[n][0]).exists()]
    mode = "quick" if args.quick else "full"
    sections = [f"Measured {machine()} ({mode} mode).\n"] + [run(n, args.quick) for n in names]
    results = "\n".join(sections)
    print(results)
    if not args.no_write:
        text = README.read_text()
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{BEGIN}\n{results}\n{END}{tail}")
    return 0 if "**failed**" not in results else 1


if __name__ == "__main__":
    raise SystemExit(main())
