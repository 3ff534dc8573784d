"""The gradebook on PostgreSQL: end-to-end grading of the example assignment through
``ACTIVATION_UNITS_DB_URL``, as a multi-user deployment runs it.

``.ci/run`` starts a PostgreSQL server on 127.0.0.1 and exports
``ACTIVATION_UNITS_TEST_PG_URL`` (a user allowed to create databases); each test works in
a database of its own, dropped afterwards. Scores are read through nbgrader's
``Gradebook`` on that URL. Proved here: serial and parallel grading give the same scores,
grading again changes nothing and adds no row, a grading run killed half-way and started
again completes with nothing lost or doubled, and the re-check's corrections (by `grade`
itself, and by `verify`) land in PostgreSQL too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from examples import example_course

from autograder import submissions, verify
from autograder.cli import main
from autograder.course import REPO, Course

URL = os.environ.get("ACTIVATION_UNITS_TEST_PG_URL", "")
A = "00_example"
STUDENTS = ("complete", "mistakes", "blank")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not URL, reason="ACTIVATION_UNITS_TEST_PG_URL is not set: .ci/run "
                                       "starts a PostgreSQL server on loopback and sets it"),
]


def _admin(sql: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(sql))
    engine.dispose()


@pytest.fixture
def database():
    """A fresh database on the test server; its URL."""
    name = f"au_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield URL.rsplit("/", 1)[0] + "/" + name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def course(tmp_path, database, monkeypatch):
    """A scratch course whose nbgrader_config.py reads the PostgreSQL URL from the
    environment, as the real course does; built, with the example submissions."""
    root = tmp_path / "course"
    example_course(root)
    # make_scratch made the scratch's own SQLite gradebook; grading must not touch one.
    (root / "gradebook.db").unlink()
    monkeypatch.setenv("ACTIVATION_UNITS_DB_URL", database)
    course = Course(root)
    assert course.db_url == database
    assert main(["--root", str(root), "build"]) == 0
    for kind in STUDENTS:
        submissions.submit(course, kind, A, submissions.build(course, A, kind))
    return course


def snapshot(course: Course) -> dict:
    """Scores per student and per test, and the number of rows nbgrader keeps."""
    import sqlalchemy

    with course.gradebook() as gb:
        scores = {sub.student.id: (sub.score, {g.name: g.score for nb in sub.notebooks
                                                for g in nb.grades})
                  for sub in gb.assignment_submissions(A)}
    engine = sqlalchemy.create_engine(course.db_url)
    with engine.connect() as conn:
        rows = {t: conn.execute(sqlalchemy.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("submitted_assignment", "submitted_notebook", "grade", "comment")}
    engine.dispose()
    return {"scores": scores, "rows": rows}


def grade(course: Course, workers: int) -> int:
    return main(["--root", str(course.root), "grade", A, "--workers", str(workers)])


def test_grades_land_in_postgresql(course):
    assert grade(course, 1) == 0
    snap = snapshot(course)
    assert course.db_url.startswith("postgresql")
    assert not (course.root / "gradebook.db").exists()
    assert snap["scores"]["complete"][0] == 3 and snap["scores"]["blank"][0] == 0
    tests = snap["scores"]["mistakes"][1]
    assert tests["sigmoid_values"] == 0 and tests["relu_grad_values"] == 0
    assert snap["rows"]["submitted_assignment"] == len(STUDENTS)


def test_parallel_equals_serial_and_regrading_is_idempotent(course, tmp_path, monkeypatch):
    assert grade(course, 2) == 0
    parallel = snapshot(course)
    assert grade(course, 2) == 0           # again: nothing doubled, nothing changed
    assert snapshot(course) == parallel
    assert grade(course, 1) == 0           # serially, on the same gradebook
    assert snapshot(course) == parallel
    assert parallel["rows"]["grade"] == len(STUDENTS) * 3


def test_an_interrupted_run_resumes_with_nothing_lost_or_doubled(course):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", "--root", str(course.root), "grade", A,
         "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with course.gradebook() as gb:
                if len(gb.assignment_submissions(A)) >= 1:
                    break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run dies mid-way, kernels and all
        proc.wait()
    with course.gradebook() as gb:
        assert len(gb.assignment_submissions(A)) < len(STUDENTS) or proc.returncode == 0
    assert grade(course, 2) == 0  # resume: grade the assignment again
    resumed = snapshot(course)
    assert set(resumed["scores"]) == set(STUDENTS)
    assert resumed["rows"]["submitted_assignment"] == len(STUDENTS)
    assert resumed["rows"]["grade"] == len(STUDENTS) * 3
    assert resumed["scores"]["complete"][0] == 3 and resumed["scores"]["blank"][0] == 0


def test_grade_alone_corrects_scores_in_postgresql(course):
    """`grade` re-checks: the cheat's points are revoked in PostgreSQL by the grading run
    itself, again after a re-grade; `--no-verify` leaves nbgrader's; `verify` revokes."""
    complete = submissions.build(course, A, "complete")
    for cell in complete.cells:
        if submissions.grade_id(cell) == "sigmoid_solution":
            cell.source = ("np.allclose = lambda *a, **k: True\n\n\n"
                           "def sigmoid(z):\n    return np.zeros(np.shape(z))\n")
    submissions.submit(course, "cheater", A, complete)

    def score(student):
        with course.gradebook() as gb:
            return gb.find_submission(A, student).score

    for workers in (2, 1):  # graded, then graded again: revoked both times
        assert grade(course, workers) == 0
        assert score("cheater") == 1 and score("complete") == 3
    assert main(["--root", str(course.root), "grade", A, "--no-verify",
                 "--student", "cheater"]) == 0
    assert score("cheater") == 3  # what nbgrader gives
    reports = {r.student: r for r in verify.verify(course, A)}
    assert [c.grade_id for c in reports["cheater"].revoked] == ["sigmoid_values"]
    assert not reports["complete"].revoked
    assert score("cheater") == 1 and score("complete") == 3
