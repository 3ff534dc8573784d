"""Grading throughput: submissions autograded per minute with 1 and with 2 worker processes,
with the isolated kernel (bubblewrap sandbox) and without it.

    .venv/bin/python benchmarks/grading.py            # N = 8 copies, largest assignment
    .venv/bin/python benchmarks/grading.py --quick    # N = 4 copies of the example assignment
    .venv/bin/python benchmarks/grading.py --isolation on   # only the sandboxed kernel

Each run grades N copies of the demo's complete submission in a fresh scratch course (its
own SQLite gradebook), through ``autograder.grading.grade``, as ``python -m autograder
grade`` does. The issue asks for a speed-up of at least 1.8 with 2 workers; it needs 2 free
cores, so measure on an otherwise idle machine. Results go in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from autograder import submissions
from autograder.course import REPO, Course, example_assignments, make_scratch
from autograder.grading import grade

TARGET = 1.8


def largest_assignment(course: Course) -> str | None:
    """The real assignment whose source notebook is the largest file."""
    names = course.assignments()
    return max(names, key=lambda n: course.notebook(n).stat().st_size) if names else None


def measure(source: dict[str, Path], assignment: str, n: int, workers: int,
            isolation: str = "on") -> float:
    """Seconds to grade ``n`` copies of the complete submission with ``workers`` workers,
    with isolation ``on`` or ``off`` (ACTIVATION_UNITS_ISOLATION)."""
    previous = os.environ.get("ACTIVATION_UNITS_ISOLATION")
    os.environ["ACTIVATION_UNITS_ISOLATION"] = isolation
    try:
        return _measure(source, assignment, n, workers)
    finally:
        if previous is None:
            os.environ.pop("ACTIVATION_UNITS_ISOLATION", None)
        else:
            os.environ["ACTIVATION_UNITS_ISOLATION"] = previous


def _measure(source: dict[str, Path], assignment: str, n: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        course = make_scratch(Path(tmp) / "course", source)
        course.generate(assignment)
        nb = submissions.build(course, assignment, "complete")
        students = [f"student{i:02d}" for i in range(n)]
        for student in students:
            submissions.submit(course, student, assignment, nb)
        t0 = time.perf_counter()
        outcomes = grade(course, assignment, students, workers=workers, progress=False)
        seconds = time.perf_counter() - t0
        failed = [o.student for o in outcomes if not o.success]
        if failed:
            raise RuntimeError(f"{len(failed)} submission(s) failed to grade: {failed}")
        return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="4 copies of the small example assignment")
    parser.add_argument("-n", type=int, default=None, help="number of submissions (default 8)")
    parser.add_argument("--assignment", default=None,
                        help="assignment to grade (default: the largest in source/)")
    parser.add_argument("--isolation", choices=("on", "off", "both"), default="both",
                        help="grade in the sandboxed kernel, the plain one, or both (default)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    course = Course(REPO)
    if args.quick:
        source = example_assignments()
        assignment = next(iter(source))
    else:
        assignment = args.assignment or largest_assignment(course)
        if assignment is None:
            source = example_assignments()
            assignment = next(iter(source))
        else:
            source = {assignment: course.source / assignment}
    n = args.n or (4 if args.quick else 8)
    load = os.getloadavg()[0]
    print(f"grading {n} complete submissions of {assignment} ...", file=sys.stderr, flush=True)
    modes = ("on", "off") if args.isolation == "both" else (args.isolation,)
    seconds = {(mode, workers): measure(source, assignment, n, workers, mode)
               for mode in modes for workers in (1, 2)}
    print(f"{n} complete submissions of `{assignment}`, each in a fresh scratch course; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after.\n")
    print("| isolation | workers | wall time (s) | submissions / min |")
    print("| --- | ---: | ---: | ---: |")
    for (mode, workers), s in seconds.items():
        print(f"| {mode} | {workers} | {s:.1f} | {60 * n / s:.1f} |")
    for mode in modes:
        speedup = seconds[mode, 1] / seconds[mode, 2]
        mark = "met" if speedup >= TARGET else "**missed**"
        print(f"\nIsolation {mode}: speed-up with 2 workers **{speedup:.2f}x** (target >= "
              f"{TARGET}x: {mark}; it needs two otherwise idle cores).")
    if len(modes) == 2:
        for workers in (1, 2):
            extra = (seconds["on", workers] - seconds["off", workers]) / n
            print(f"Isolation overhead with {workers} worker(s): {extra:+.2f} s per submission "
                  f"({100 * (seconds['on', workers] / seconds['off', workers] - 1):+.0f}%).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
