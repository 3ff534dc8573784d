"""The hostile corpus (tests/hostile/manifest.toml), graded end to end.

One scratch course with the example assignment; every case becomes one submission; the whole
corpus is graded by ONE ``python -m autograder grade`` run with 2 workers, in the isolated
kernel (bubblewrap) with a 5 s cell limit, on a SQLite gradebook (with the independent
re-check, which must leave every expected grade as it is) and, when .ci/run provides a
server (``ACTIVATION_UNITS_TEST_PG_URL``), on PostgreSQL (``--no-verify``). Each case is
then checked against its expected outcome in the gradebook (``nbgrader.api.Gradebook``) and
the recorded reason. One more case grades a real assignment (02) whose kernel dies
half-way; four run again with isolation off. docs/GRADING.md explains each one.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from pathlib import Path

import nbformat
import pytest
from examples import example_course

from autograder import outcomes, sandbox, submissions
from autograder.cli import main
from autograder.course import REPO, Course, make_scratch

A = "00_example"
HERE = Path(__file__).resolve().parent / "hostile"
CASES = tomllib.loads((HERE / "manifest.toml").read_text())["case"]
ENV = {"ACTIVATION_UNITS_CELL_TIMEOUT": "5", "ACTIVATION_UNITS_SANDBOX_MEMORY_MB": "2048",
       "ACTIVATION_UNITS_ISOLATION": "on"}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    bool(sandbox.unavailable()), reason=f"no sandbox here: {sandbox.unavailable()}")]


def _cell(nb, grade_id):
    return next(c for c in nb.cells if submissions.grade_id(c) == grade_id)


def _split(nb, grade_id, first: str, second: str):
    """``grade_id``'s cell split in two, both halves keeping its metadata (as JupyterLab does)."""
    index = nb.cells.index(_cell(nb, grade_id))
    head = copy.deepcopy(nb.cells[index])
    head.source, nb.cells[index].source = first, second
    if "id" in head:
        head["id"] = f"{head['id']}-split"
    nb.cells.insert(index, head)
    return nb


WRONG_SIGMOID = "def sigmoid(z):\n    return z"


def _edited_test(nb, d):
    _cell(nb, "sigmoid_solution").source = WRONG_SIGMOID
    _cell(nb, "sigmoid_values").source = "pass"
    return nb


def _ungraded_test(nb, d):
    _cell(nb, "sigmoid_solution").source = WRONG_SIGMOID
    meta = _cell(nb, "sigmoid_values").metadata.nbgrader
    meta.update(grade=False, locked=False)
    meta.pop("points", None)
    return nb


def _changed_points(nb, d):
    _cell(nb, "sigmoid_values").metadata.nbgrader["points"] = 100
    return nb


def _huge_outputs(nb, d):
    _cell(nb, "sigmoid_solution").outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text="x" * 120 + "\n" * 1 + ("y" * 99 + "\n") * 20_000)]
    return nb


def _split_test(nb, d):
    source = _cell(nb, "sigmoid_values").source.split("\n", 1)
    return _split(nb, "sigmoid_values", source[0], source[1])


def _wrong_kernel(nb, d):
    nb.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia 1.9",
                                 "language": "julia"}
    return nb


def _deleted_test(nb, d):
    nb.cells.remove(_cell(nb, "relu_grad_values"))
    return nb


def _extra_files(nb, d, case):
    d.mkdir(parents=True, exist_ok=True)
    (d / "numpy.py").write_text((HERE / case["file"]).read_text())
    (d / "data.csv").write_text("z,sigmoid\n0,0.5\n")
    return nb


def _older_release(nb, d):
    """The notebook as nbformat 3 (an old Jupyter), i.e. a file written by an older release."""
    d.mkdir(parents=True, exist_ok=True)
    old = nbformat.convert(nb, 3)
    (d / f"{A}.ipynb").write_text(json.dumps(old))
    return None


def _older_release_ids(nb, d):
    """Grade ids of another release: the solution cell under an old id, and a test cell that
    the current release no longer has."""
    _cell(nb, "sigmoid_solution").metadata.nbgrader["grade_id"] = "sigmoid_answer_v0"
    old_test = copy.deepcopy(_cell(nb, "relu_grad_values"))
    old_test.metadata.nbgrader["grade_id"] = "relu_grad_old_test"
    old_test["id"] = "old-test"
    nb.cells.append(old_test)
    return nb


def _renamed(nb, d):
    d.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(d / "my_work.ipynb"))
    return None


def _symlink(nb, d):
    """The notebook is a link to the source notebook (the solutions) of the course."""
    d.mkdir(parents=True, exist_ok=True)
    source = d.parents[2] / "source" / A / f"{A}.ipynb"
    (d / f"{A}.ipynb").symlink_to(source)
    return None


def _missing(nb, d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "notes.txt").write_text("I could not finish.\n")
    return None


TRANSFORMS = {
    "complete": lambda nb, d: nb,
    "edited_test": _edited_test, "ungraded_test": _ungraded_test,
    "changed_points": _changed_points, "huge_outputs": _huge_outputs,
    "split_solution": lambda nb, d: _split(nb, "sigmoid_solution", "_unused = 1",
                                           _cell(nb, "sigmoid_solution").source),
    "split_test": _split_test, "wrong_kernel": _wrong_kernel, "deleted_test": _deleted_test,
    "older_release": _older_release, "renamed": _renamed, "missing": _missing,
    "symlink": _symlink, "older_release_ids": _older_release_ids,
}


def submit_case(course, case) -> None:
    complete = submissions.build(course, A, "complete")
    target = course.submitted(case["name"], A)
    build = case["build"]
    if build == "raw":
        submissions.submit(course, case["name"], A, HERE / case["file"])
        return
    nb = copy.deepcopy(complete)
    if build == "replace":
        _cell(nb, case["cell"]).source = (HERE / case["file"]).read_text()
    elif build == "extra_files":
        nb = _extra_files(nb, target, case)
    else:
        nb = TRANSFORMS[build](nb, target)
    if nb is not None:
        submissions.submit(course, case["name"], A, nb)


@pytest.fixture(scope="module")
def env():
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


PG_URL = os.environ.get("ACTIVATION_UNITS_TEST_PG_URL", "")


def _pg_admin(sql: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(sql))
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def graded(request, tmp_path_factory, env):
    """The corpus graded by one `grade` run (2 workers): (exit code, course, re-checked), on a
    SQLite gradebook and, where .ci/run provides a server (ACTIVATION_UNITS_TEST_PG_URL), on
    PostgreSQL through ACTIVATION_UNITS_DB_URL as a deployment would."""
    import uuid

    root = tmp_path_factory.mktemp(f"hostile-{request.param}") / "course"
    course = example_course(root)
    saved = os.environ.get("ACTIVATION_UNITS_DB_URL")
    database = ""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("ACTIVATION_UNITS_TEST_PG_URL is not set (.ci/run sets it)")
        database = f"au_hostile_{uuid.uuid4().hex[:12]}"
        _pg_admin(f'CREATE DATABASE "{database}"')
        os.environ["ACTIVATION_UNITS_DB_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + database
        course = Course(root)
    else:
        os.environ.pop("ACTIVATION_UNITS_DB_URL", None)
    try:
        assert main(["--root", str(root), "build"]) == 0
        for case in CASES:
            submit_case(course, case)
        # SQLite: `grade` as an instructor runs it, re-check included (it must agree with
        # every outcome below). PostgreSQL: the gradebook is what differs; the re-check's
        # revocations there are proved by tests/test_postgres.py, so it is skipped (~25 s).
        recheck = [] if request.param == "sqlite" else ["--no-verify"]
        code = main(["--root", str(root), "grade", A, "--workers", "2", *recheck])
        yield code, course, not recheck
    finally:
        if saved is None:
            os.environ.pop("ACTIVATION_UNITS_DB_URL", None)
        else:
            os.environ["ACTIVATION_UNITS_DB_URL"] = saved
        if database:
            _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def gradebook(graded):
    _, course, _ = graded
    with course.gradebook() as gb:
        out = {}
        for sub in gb.assignment_submissions(A):
            out[sub.student.id] = {g.name: g.auto_score for nb in sub.notebooks
                                   for g in nb.grades if g.cell.cell_type == "code"}
        return out


def test_every_submission_has_a_grade(graded, gradebook):
    code, _, _ = graded
    assert sorted(gradebook) == sorted(c["name"] for c in CASES)
    assert all(score is not None for grades in gradebook.values() for score in grades.values())
    # Exit 1 flags the submissions that could not run (their 0 is recorded nonetheless).
    assert code == (1 if any(c["outcome"] == "zero" for c in CASES) else 0)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_outcome(case, graded, gradebook):
    _, course, rechecked = graded
    expected = case["grades"] if rechecked else case.get("nbgrader_grades", case["grades"])
    assert gradebook[case["name"]] == expected
    notes = " | ".join(n["message"] for n in outcomes.read_notes(course, A, case["name"]))
    if case.get("reason"):
        assert case["reason"].lower() in notes.lower(), notes
    autograded = course.root / "autograded" / case["name"] / A / f"{A}.ipynb"
    assert autograded.exists() == (case["outcome"] == "graded")
    if case["outcome"] == "zero":
        assert notes.startswith("graded 0:") or "graded 0:" in notes


def test_the_summary_shows_the_reasons(graded, capsys):
    _, course, _ = graded
    assert main(["--root", str(course.root), "grade", A, "--student", "os_exit",
                 "truncated_json"]) == 1
    out = capsys.readouterr().out
    assert "NOT RUN, 0 recorded: not valid JSON" in out
    assert "exit code 3" in out and "os_exit" in out


def test_feedback_shows_the_reason(graded, capsys):
    _, course, _ = graded
    main(["--root", str(course.root), "feedback", A, "--student", "segfault", "ignores_interrupt",
          "missing_notebook"])
    html = course.feedback_html("segfault", A).read_text()
    assert "How this submission was graded" in html and "SIGSEGV" in html
    assert "_probe_kink" not in html  # still no hidden tests
    assert "did not stop within" in course.feedback_html("ignores_interrupt", A).read_text()
    assert "missing notebook" in course.feedback_html("missing_notebook", A).read_text()


def test_regrading_is_idempotent(graded, gradebook):
    _, course, _ = graded
    students = ["complete", "os_exit", "truncated_json", "renamed_notebook"]
    main(["--root", str(course.root), "grade", A, "--workers", "1", "--student", *students])
    with course.gradebook() as gb:
        again = {s: {g.name: g.auto_score for nb in gb.find_submission(A, s).notebooks
                     for g in nb.grades if g.cell.cell_type == "code"} for s in students}
    assert again == {s: gradebook[s] for s in students}


def test_isolation_refuses_without_the_sandbox(graded, monkeypatch, capsys):
    _, course, _ = graded
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
    cell = _cell(nb, "relu_grad_solution")
    cell.source = "import os\n\n\ndef relu_grad(z):\n    os._exit(7)"
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
