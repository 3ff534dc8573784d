"""The hostile corpus (tests/hostile/manifest.toml), graded end to end.

One scratch course with the example assignment; every case becomes one submission; the whole
corpus is graded by ONE ``python -m autograder grade`` run with 2 workers, in the isolated
kernel (bubblewrap) with an 8 s cell limit, on a SQLite gradebook, with the independent
re-check, which must leave every expected grade as it is (tests/test_dask_grading.py grades
the same corpus on a Dask cluster, on PostgreSQL where .ci/run provides one). Each case is
then checked against its expected outcome in the gradebook (``nbgrader.api.Gradebook``) and
the recorded reason. One more case grades a real assignment (02) whose kernel dies
half-way; four run again with isolation off. docs/GRADING.md explains each one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus import (
    CASES,
    A,
    auto_scores,
    cell,
    check_case,
    grading_env,
    submit_case,
)
from examples import example_course

from autograder import outcomes, sandbox, submissions
from autograder.cli import main
from autograder.course import REPO, make_scratch

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    bool(sandbox.unavailable()), reason=f"no sandbox here: {sandbox.unavailable()}")]


@pytest.fixture(scope="module")
def env():
    with grading_env():
        yield


@pytest.fixture(scope="module")
def graded(tmp_path_factory, env):
    """The corpus graded by one `grade` run (2 workers) as an instructor runs it, re-check
    included (it must agree with every outcome): (exit code, course). On SQLite:
    the same corpus on PostgreSQL is graded on a Dask cluster (tests/test_dask_grading.py)."""
    root = tmp_path_factory.mktemp("hostile") / "course"
    saved = os.environ.pop("ACTIVATION_UNITS_DB_URL", None)
    try:
        course = example_course(root)
        assert main(["--root", str(root), "build"]) == 0
        for case in CASES:
            submit_case(course, case)
        code = main(["--root", str(root), "grade", A, "--workers", "2"])
        yield code, course
    finally:
        if saved is not None:
            os.environ["ACTIVATION_UNITS_DB_URL"] = saved


@pytest.fixture(scope="module")
def gradebook(graded):
    return auto_scores(graded[1])


def test_every_submission_has_a_grade(graded, gradebook):
    code, _ = graded
    assert sorted(gradebook) == sorted(c["name"] for c in CASES)
    assert all(score is not None for grades in gradebook.values() for score in grades.values())
    # Exit 1 flags the submissions that could not run (their 0 is recorded nonetheless).
    assert code == (1 if any(c["outcome"] == "zero" for c in CASES) else 0)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_outcome(case, graded, gradebook):
    check_case(graded[1], case, gradebook)


def test_the_summary_shows_the_reasons(graded, capsys):
    _, course = graded
    assert main(["--root", str(course.root), "grade", A, "--student", "os_exit",
                 "truncated_json"]) == 1
    out = capsys.readouterr().out
    assert "NOT RUN, 0 recorded: not valid JSON" in out
    assert "exit code 3" in out and "os_exit" in out


def test_feedback_shows_the_reason(graded, capsys):
    _, course = graded
    main(["--root", str(course.root), "feedback", A, "--student", "segfault", "ignores_interrupt",
          "missing_notebook"])
    html = course.feedback_html("segfault", A).read_text()
    assert "How this submission was graded" in html and "SIGSEGV" in html
    assert "_probe_kink" not in html  # still no hidden tests
    assert "did not stop within" in course.feedback_html("ignores_interrupt", A).read_text()
    assert "missing notebook" in course.feedback_html("missing_notebook", A).read_text()


def test_regrading_is_idempotent(graded, gradebook):
    _, course = graded
    students = ["complete", "os_exit", "truncated_json", "renamed_notebook"]
    main(["--root", str(course.root), "grade", A, "--workers", "1", "--student", *students])
    with course.gradebook() as gb:
        again = {s: {g.name: g.auto_score for nb in gb.find_submission(A, s).notebooks
                     for g in nb.grades if g.cell.cell_type == "code"} for s in students}
    assert again == {s: gradebook[s] for s in students}


def test_isolation_refuses_without_the_sandbox(graded, monkeypatch, capsys):
    _, course = graded
    monkeypatch.setattr(sandbox, "_PROBE", "bubblewrap (bwrap) is not installed")
    assert main(["--root", str(course.root), "grade", A, "--student", "complete"]) == 1
    err = capsys.readouterr().err
    assert "bubblewrap (bwrap) is not installed" in err and "ACTIVATION_UNITS_ISOLATION=off" in err
    monkeypatch.setenv("ACTIVATION_UNITS_ISOLATION", "off")
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    sandbox.require()  # the explicit opt-out


def test_a_real_assignment_keeps_the_scores_before_the_kernel_died(tmp_path, env, monkeypatch):
    """02: the kernel dies in relu_grad; every test before it keeps its points, also after
    the re-check (its child, dying in the same cell, keeps the cells before it)."""
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    name = "02_activation_units"
    course = make_scratch(tmp_path / "course", {name: REPO / "source" / name})
    course.generate(name)
    nb = submissions.build(course, name, "complete")
    solution = cell(nb, "relu_grad_solution")
    solution.source = "import os\n\n\ndef relu_grad(z):\n    os._exit(7)"
    submissions.submit(course, "dies", name, nb)
    assert main(["--root", str(course.root), "grade", name, "--student", "dies"]) == 0
    with course.gradebook() as gb:
        grades = [(g.cell.notebook.name, g.name, g.auto_score, g.max_score)
                  for g in gb.find_submission(name, "dies").notebooks[0].grades
                  if g.cell.cell_type == "code"]
    order = [submissions.grade_id(c) for c in nb.cells]
    first_relu = min(order.index(g[1]) for g in grades if g[1].startswith("relu_grad"))
    for _, gid, score, max_score in grades:
        expected = max_score if order.index(gid) < first_relu else 0
        assert score == expected, (gid, score, expected)
    notes = " ".join(n["message"] for n in outcomes.read_notes(course, name, "dies"))
    assert "exit code 7" in notes


def test_outcomes_hold_without_isolation(tmp_path, env, monkeypatch):
    """The explicit opt-out (plain kernel): dead and stubborn kernels are still graded."""
    monkeypatch.setenv("ACTIVATION_UNITS_ISOLATION", "off")
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    names = ["os_exit", "segfault", "ignores_interrupt", "infinite_loop"]
    cases = [c for c in CASES if c["name"] in names]
    course = example_course(tmp_path / "course")
    course.generate(A)
    for case in cases:
        submit_case(course, case)
    # About the kernel, not the re-check (whose child would wait out the cell timeout again
    # on the two loops); the SQLite corpus above runs these cases re-checked.
    assert main(["--root", str(course.root), "grade", A, "--workers", "2", "--no-verify"]) == 0
    with course.gradebook() as gb:
        for case in cases:
            grades = {g.name: g.auto_score for nb in gb.find_submission(A, case["name"]).notebooks
                      for g in nb.grades if g.cell.cell_type == "code"}
            assert grades == case["grades"], case["name"]
            notes = " ".join(n["message"] for n in outcomes.read_notes(course, A, case["name"]))
            assert case["reason"].lower() in notes.lower(), notes


def test_a_killed_grader_leaves_no_kernel(tmp_path):
    """A grading process SIGKILLed mid-kernel (a Dask worker, the OOM killer) takes its
    sandboxed kernel with it: the launcher dies with its parent, bwrap with the launcher."""
    import signal
    import subprocess
    import sys
    import time

    from jupyter_client.connect import write_connection_file

    conn, _ = write_connection_file(str(tmp_path / "kernel.json"), ip="127.0.0.1")
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         f"p = subprocess.Popen([sys.executable, {str(sandbox.__file__)!r}, '-f', {conn!r}])\n"
         "print(p.pid, flush=True)\ntime.sleep(120)\n"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True)

    def children(pid: int) -> list[int]:
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
        except FileNotFoundError:
            return False

    launcher = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while not children(launcher) and time.monotonic() < deadline:
        time.sleep(0.1)
    kernel_side = children(launcher)
    assert kernel_side, "the launcher started no bwrap within 30 s"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(map(alive, [launcher, *kernel_side])) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in [launcher, *kernel_side] if alive(pid)]
    assert not left, (f"the grading process was killed, but the launcher {launcher} or its "
                      f"bwrap {kernel_side} still runs: {left}")
