"""The benchmarks' quick mode runs in CI: every script works and prints its table.

Nothing here asserts a time (timings on a shared CI machine mean little); the figures
recorded in benchmarks/README.md come from a full run on a quiet machine. The notebook
benchmark is left out: CI executes every notebook several times already.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmarks_run_and_print_their_tables():
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--no-write",
         "--only", "accuracy", "speed", "torch_memory", "grading"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for title in ("Accuracy of the NumPy reference", "Speed of the NumPy reference",
                  "Custom autograd Functions", "Grading throughput"):
        assert f"### {title}" in done.stdout
    assert "**failed**" not in done.stdout
    assert "The re-check alone" in done.stdout and "passes every re-checked cell" in done.stdout
    assert done.stdout.count("| ---") >= 4  # a markdown table from each
