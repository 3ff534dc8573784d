"""The hostile corpus (tests/hostile/manifest.toml) as submissions: the cases, how each is
built from the complete example submission, and the grading settings they are graded with.
tests/test_hostile.py grades them on the local pool, tests/test_dask_grading.py on a Dask
cluster; both hold them to the same expected outcomes."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import tomllib
from pathlib import Path

import nbformat

from autograder import outcomes, submissions

A = "00_example"
HERE = Path(__file__).resolve().parent / "hostile"
CASES = tomllib.loads((HERE / "manifest.toml").read_text())["case"]
ENV = {"ACTIVATION_UNITS_CELL_TIMEOUT": "8", "ACTIVATION_UNITS_SANDBOX_MEMORY_MB": "2048",
       "ACTIVATION_UNITS_ISOLATION": "on"}


def cell(nb, grade_id):
    return next(c for c in nb.cells if submissions.grade_id(c) == grade_id)


def _split(nb, grade_id, first: str, second: str):
    """``grade_id``'s cell split in two, both halves keeping its metadata (as JupyterLab does)."""
    index = nb.cells.index(cell(nb, grade_id))
    head = copy.deepcopy(nb.cells[index])
    head.source, nb.cells[index].source = first, second
    if "id" in head:
        head["id"] = f"{head['id']}-split"
    nb.cells.insert(index, head)
    return nb


WRONG_SIGMOID = "def sigmoid(z):\n    return z"


def _edited_test(nb, d):
    cell(nb, "sigmoid_solution").source = WRONG_SIGMOID
    cell(nb, "sigmoid_values").source = "pass"
    return nb


def _ungraded_test(nb, d):
    cell(nb, "sigmoid_solution").source = WRONG_SIGMOID
    meta = cell(nb, "sigmoid_values").metadata.nbgrader
    meta.update(grade=False, locked=False)
    meta.pop("points", None)
    return nb


def _changed_points(nb, d):
    cell(nb, "sigmoid_values").metadata.nbgrader["points"] = 100
    return nb


def _huge_outputs(nb, d):
    cell(nb, "sigmoid_solution").outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text="x" * 120 + "\n" * 1 + ("y" * 99 + "\n") * 20_000)]
    return nb


def _split_test(nb, d):
    source = cell(nb, "sigmoid_values").source.split("\n", 1)
    return _split(nb, "sigmoid_values", source[0], source[1])


def _wrong_kernel(nb, d):
    nb.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia 1.9",
                                 "language": "julia"}
    return nb


def _deleted_test(nb, d):
    nb.cells.remove(cell(nb, "relu_grad_values"))
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
    cell(nb, "sigmoid_solution").metadata.nbgrader["grade_id"] = "sigmoid_answer_v0"
    old_test = copy.deepcopy(cell(nb, "relu_grad_values"))
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
                                           cell(nb, "sigmoid_solution").source),
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
        cell(nb, case["cell"]).source = (HERE / case["file"]).read_text()
    elif build == "extra_files":
        nb = _extra_files(nb, target, case)
    else:
        nb = TRANSFORMS[build](nb, target)
    if nb is not None:
        submissions.submit(course, case["name"], A, nb)


PG_URL = os.environ.get("ACTIVATION_UNITS_TEST_PG_URL", "")


def pg_admin(sql: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(sql))
    engine.dispose()


@contextlib.contextmanager
def grading_env():
    """The corpus's grading settings (``ENV``) in os.environ, restored afterwards."""
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def auto_scores(course) -> dict[str, dict[str, float]]:
    """{student: {grade id: auto score}} of the code cells of every graded submission."""
    with course.gradebook() as gb:
        return {sub.student.id: {g.name: g.auto_score for nb in sub.notebooks
                                 for g in nb.grades if g.cell.cell_type == "code"}
                for sub in gb.assignment_submissions(A)}


def check_case(course, case: dict, scores: dict) -> None:
    """Assert one case's expected outcome (graded with the re-check): its scores, what
    nbgrader gave before the re-check where that differs, its recorded reason, its folder."""
    expected = case["grades"]
    if "nbgrader_grades" in case:
        report = json.loads((course.root / "reports" / f"{A}_verify.json").read_text())
        cells = next(r["cells"] for r in report if r["student"] == case["name"])
        assert {c["grade_id"]: c["nbgrader_score"] for c in cells} == case["nbgrader_grades"]
    notes = " | ".join(n["message"] for n in outcomes.read_notes(course, A, case["name"]))
    assert scores[case["name"]] == expected, (
        f"{case['name']}: expected {expected}, got {scores[case['name']]} ({notes})")
    if case.get("reason"):
        assert case["reason"].lower() in notes.lower(), notes
    autograded = course.root / "autograded" / case["name"] / A / f"{A}.ipynb"
    assert autograded.exists() == (case["outcome"] == "graded")
    if case["outcome"] == "zero":
        assert notes.startswith("graded 0:") or "graded 0:" in notes
