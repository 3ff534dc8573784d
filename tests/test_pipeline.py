"""End-to-end tests of the instructor commands, in temporary course directories.

Most tests use the small example assignment (autograder/examples/assignments/); one runs the demo
on the real course. Scores are read through nbgrader's ``Gradebook``, never from logs.
Nothing here writes into the repository's own course directories.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from examples import example_course

from autograder import outcomes, submissions
from autograder.cli import main
from autograder.course import REPO, Course, make_scratch, sqlite_url
from autograder.demo import MAIN_ASSIGNMENTS, demo_assignments

A = "00_example"
HIDDEN = ("_probe_extremes", "_probe_kink", "BEGIN HIDDEN", "Full marks", "MARK SCHEME")

pytestmark = pytest.mark.slow


def autograded_scores(course: Course, assignment: str = A) -> dict:
    """{student: (score, {test: auto_score}, needs_manual_grade)} from the gradebook."""
    with course.gradebook() as gb:
        out = {}
        for sub in gb.assignment_submissions(assignment):
            grades = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
            out[sub.student.id] = (sub.score, grades, bool(sub.needs_manual_grade))
        return out


def without_cell(nb, grade_id):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells = [c for c in nb.cells if submissions.grade_id(c) != grade_id]
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with the example assignment built by `build` and five submissions."""
    root = tmp_path_factory.mktemp("pipeline") / "course"
    course = example_course(root)
    assert main(["--root", str(root), "build"]) == 0
    for kind in ("complete", "blank", "mistakes"):
        submissions.submit(course, kind, A, submissions.build(course, A, kind))
    complete = submissions.build(course, A, "complete")
    submissions.submit(course, "deleted_test", A, without_cell(complete, "relu_grad_values"))
    broken = root / "broken.ipynb"
    broken.write_text('{"cells": [ this is not json')
    submissions.submit(course, "broken", A, broken)
    return course


@pytest.fixture(scope="module")
def graded(course):
    """Grade with 2 workers (exit 1: one submission is broken); keep the scores."""
    code = main(["--root", str(course.root), "grade", A, "--workers", "2"])
    return code, autograded_scores(course)


def test_build_writes_the_release(course):
    release = course.notebook(A, released=True)
    assert release.is_file()
    text = release.read_text()
    assert "raise NotImplementedError()" in text and "_probe_kink" not in text


def test_grade_scores_every_good_submission(graded, capsys):
    code, scores = graded
    assert code == 1  # the broken submission
    assert scores["complete"][0] == 3.0 and scores["complete"][2]  # written answer pending
    assert scores["complete"][1]["sigmoid_values"] == 2.0
    assert scores["blank"][0] == 0.0 and not scores["blank"][2]
    assert scores["mistakes"][1]["sigmoid_values"] == 0.0
    assert scores["mistakes"][1]["relu_grad_values"] == 0.0


def test_deleted_test_cell_is_restored_and_graded(graded):
    _, scores = graded
    assert scores["deleted_test"][1]["relu_grad_values"] == 1.0
    assert scores["deleted_test"][0] == 3.0


def test_broken_submission_is_reported_and_the_rest_graded(course, graded, capsys):
    code, scores = graded
    assert "broken" not in scores or scores["broken"][0] == 0.0
    assert {"complete", "blank", "mistakes", "deleted_test"} <= set(scores)
    # Grading only the broken one again: a full-sentence error on stderr, exit 1.
    assert main(["--root", str(course.root), "grade", A, "--student", "broken"]) == 1
    out, err = capsys.readouterr()
    assert "not valid JSON" in out and "could not be graded" in err


def test_two_workers_give_the_same_scores_as_one(course, graded):
    _, parallel = graded
    students = ["complete", "blank", "mistakes", "deleted_test"]
    assert main(["--root", str(course.root), "grade", A, "--workers", "1",
                 "--student", *students]) == 0
    serial = autograded_scores(course)
    assert {s: parallel[s] for s in students} == {s: serial[s] for s in students}


def test_feedback_hides_hidden_tests_and_mark_schemes(course, graded, capsys):
    assert main(["--root", str(course.root), "feedback", A]) == 0
    for student in ("complete", "mistakes", "deleted_test"):
        html = course.feedback_html(student, A).read_text()
        assert "relu_grad: away from the kink" in html  # the visible test is there
        for secret in HIDDEN:
            assert secret not in html, (student, secret)
    mistakes = course.feedback_html("mistakes", A).read_text()
    assert "relu_grad is wrong at the kink" in mistakes  # the check's message stays


def test_feedback_names_each_test_reads_written_answers_and_renders_math_offline(course, graded):
    """The summary names each test cell by what it checks, a written answer no person has
    graded reads as such (not 0 points), and the math is MathML: no MathJax, no CDN."""
    assert main(["--root", str(course.root), "feedback", A, "--student", "complete"]) == 0
    html = course.feedback_html("complete", A).read_text()
    toc = html[html.index('id="toc"'):html.index("</ol>", html.index('id="toc"'))]
    assert ">Test cell<" not in toc and "relu_grad: away from the kink" in toc
    assert "Written answer" in toc and "awaiting a person" in toc
    assert "<math" in html and "mathjax" not in html.lower() and "cdn" not in html.lower()
    assert "white-space: pre-wrap" in html  # long failure lines wrap in the page


def test_the_recheck_failing_costs_no_points(course, graded, monkeypatch, capsys):
    """The re-check's own failures (its child cannot start, the verifier breaks) are a
    note and a line in the summary; nbgrader's scores stand, the exit status is 0. One
    student: graded in this process, where the failures can be staged."""
    from autograder.verify import batch, replay

    _, scores = graded
    monkeypatch.setattr(replay, "sandboxed",
                        lambda argv, cwd: (["/nonexistent/bwrap", *argv], None, "none"))
    for staged in ("child", "verifier"):
        assert main(["--root", str(course.root), "grade", A, "--student", "complete"]) == 0
        out = capsys.readouterr().out
        assert "not re-checked (nbgrader's scores stand, see the notes): complete" in out
        assert autograded_scores(course)["complete"] == scores["complete"]
        notes = [n for n in outcomes.read_notes(course, A, "complete") if n["kind"] == "verify"]
        assert len(notes) == 1 and "not re-checked independently" in notes[0]["message"]
        assert ("could not start" if staged == "child" else "the verifier failed") in \
            notes[0]["message"]

        def broken(*args, **kwargs):
            raise RuntimeError("a bug in the verifier")
        monkeypatch.setattr(batch, "verify_submission", broken)


def test_stock_nbgrader_commands_use_the_course_config(course, graded):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("ACTIVATION_UNITS_DB_URL", None)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    run = subprocess.run([str(nbgrader), "generate_feedback", A, "--student", "mistakes",
                          "--force"], cwd=course.root, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    html = course.feedback_html("mistakes", A).read_text()
    assert not any(secret in html for secret in HIDDEN)
    run = subprocess.run([str(nbgrader), "export", "--to", "stock.csv"], cwd=course.root,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "complete" in (course.root / "stock.csv").read_text()


def test_export_says_what_needs_manual_grading(course, graded, capsys):
    target = course.root / "grades.csv"
    assert main(["--root", str(course.root), "export", "--to", str(target)]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(target.open())}
    assert rows["complete"]["status"] == "needs manual grading"
    assert float(rows["complete"]["score"]) == 3.0 and float(rows["complete"]["max_score"]) == 4
    assert rows["blank"]["status"] == "final"


def test_report_prints_pass_rates_and_writes_a_chart(course, graded, capsys):
    png = course.root / "rates.png"
    assert main(["--root", str(course.root), "report", A, "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "relu_grad_values" in out and "sigmoid" in out and "%" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_collect_from_an_lms_zip(tmp_path, capsys):
    course = example_course(tmp_path / "course")
    course.generate(A)
    nb = nbformat.writes(submissions.build(course, A, "complete"))
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"alice_{A}.ipynb", nb)
        z.writestr(f"bob/{A}.ipynb", nb)
    assert main(["--root", str(course.root), "collect", A, "--zip", str(archive)]) == 0
    assert (course.submitted("alice", A) / f"{A}.ipynb").is_file()
    assert (course.submitted("bob", A) / f"{A}.ipynb").is_file()


def test_collect_from_the_exchange(tmp_path, capsys):
    course = example_course(tmp_path / "course")
    course.generate(A)
    inbound = Path(course.config.Exchange.root) / "activation-units" / "inbound"
    folder = inbound / f"carol+{A}+2026-01-01 10:00:00.000000 UTC"
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text("2026-01-01 10:00:00.000000 UTC")
    submissions.submit(course, "tmp", A, submissions.build(course, A, "blank"))
    (folder / f"{A}.ipynb").write_bytes((course.submitted("tmp", A) / f"{A}.ipynb").read_bytes())
    assert main(["--root", str(course.root), "collect", A]) == 0
    assert (course.submitted("carol", A) / f"{A}.ipynb").is_file()


def test_selfgrade_prints_scores_and_the_feedback(tmp_path, capsys):
    course = example_course(tmp_path / "course")
    course.generate(A)
    mine = tmp_path / f"{A}.ipynb"
    nbformat.write(submissions.build(course, A, "mistakes"), str(mine))
    work = tmp_path / "selfgrade"
    assert main(["--root", str(course.root), "selfgrade", str(mine), "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "relu_grad_values: relu_grad" in out and "0 / 1" in out and "overflow_answer" in out
    assert "exercises pass." in out and "Total: " in out
    assert str(work / "feedback") in out
    scratch = Course(work, db_url=sqlite_url(work / "gradebook.db"))
    assert autograded_scores(scratch)["me"][1]["relu_grad_values"] == 0.0


def test_selfgrade_explains_an_unknown_notebook(tmp_path, capsys):
    stray = tmp_path / "notes.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(stray))
    course = example_course(tmp_path / "course")
    assert main(["--root", str(course.root), "selfgrade", str(stray)]) == 1
    err = capsys.readouterr().err
    assert "--assignment" in err and "notes.ipynb" in err


def test_cli_usage_errors(tmp_path, capsys):
    assert main([]) == 2
    course = example_course(tmp_path / "course")
    assert main(["--root", str(course.root), "grade", "99_nothing"]) == 1
    assert "not an assignment" in capsys.readouterr().err
    assert main(["--root", str(tmp_path), "build"]) == 1
    assert "no nbgrader_config.py" in capsys.readouterr().err


def test_gradebook_url_comes_from_the_environment(monkeypatch, tmp_path):
    url = "postgresql://grader:secret@db.example.org:5432/activation_units"
    monkeypatch.setenv("ACTIVATION_UNITS_DB_URL", url)
    assert Course(REPO).db_url == url
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL")
    assert Course(REPO).db_url == sqlite_url(REPO / "gradebook.db")
    # Scratch courses never follow the environment into a real gradebook.
    monkeypatch.setenv("ACTIVATION_UNITS_DB_URL", url)
    scratch = make_scratch(tmp_path / "course")
    assert scratch.db_url == sqlite_url(tmp_path / "course" / "gradebook.db")


#: Test cells the demo's "mistakes" submission of 05 must lose points on.
MISTAKES_05 = {"gelu_values", "elu_values", "selu_values"}


def test_demo_on_the_real_course(tmp_path, capsys):
    """The demo grades 02 and 05 by default. It runs here on 05 alone (`--assignment`):
    02's example submissions are graded by tests/test_verify.py's corpus (complete: every
    point; mistakes: the points the demo shows lost), and the demo of 02 alone by the
    instructor's browser test."""
    missing = [a for a in MAIN_ASSIGNMENTS if a not in Course(REPO).assignments()]
    if missing:
        pytest.skip(f"{', '.join(missing)} has not landed; the example runs above")
    assert list(demo_assignments(Course(REPO))) == list(MAIN_ASSIGNMENTS)
    work = tmp_path / "demo"
    assignment = "05_beyond_the_note"
    assert main(["demo", "--workdir", str(work), "--assignment", assignment]) == 0
    out = capsys.readouterr().out
    assert "Grades (from the gradebook)" in out and "Pass rates" in out and "lab" in out
    assert f"Pass rates per exercise, {assignment}" in out
    demo = Course(work, db_url=sqlite_url(work / "gradebook.db"))
    scores = autograded_scores(demo, assignment)
    tests = scores["complete"][1]
    with demo.gradebook() as gb:
        code_max = {c.name: c.max_score for c in gb.find_assignment(assignment)
                    .notebooks[0].grade_cells if c.cell_type == "code"}
    assert all(tests[t] == code_max[t] for t in code_max)  # complete: every test passes
    assert all(scores["blank"][1][t] == 0 for t in code_max)
    wrong = {t for t in code_max if scores["mistakes"][1][t] < code_max[t]}
    assert MISTAKES_05 <= wrong, wrong
