"""The independent re-check (autograder/verify/): cheating cannot turn a wrong answer into
points, and honest work, right or wrong, is scored exactly as nbgrader scored it.

The fast tests drive the verifier directly (no nbgrader); the slow ones grade a corpus of
cheating and honest submissions end to end in a scratch course (`grade`, which re-checks
each submission itself; then `verify` again, which changes nothing) and read the scores
back through nbgrader's Gradebook.
"""

from __future__ import annotations

import copy
import html as htmllib
import json
import os
import subprocess
import sys
import textwrap

import nbformat
import numpy as np
import pytest
from examples import example_course

from autograder import outcomes, submissions, verify
from autograder.cli import main
from autograder.course import REPO, Course
from autograder.verify import replay

EXAMPLE = "00_example"
UNITS = "02_activation_units"

# --------------------------------------------------------------------------------------
# The corpus: (grade id of a solution cell, its new source). Each entry says what nbgrader
# gives and what the verifier must do.

WRONG_SIGMOID = "def sigmoid(z):\n    return np.zeros(np.shape(z))\n"
WRONG_RELU_GRAD = "def relu_grad(z):\n    return (np.asarray(z) > 0).astype(float)\n"

#: Example assignment: cheats that nbgrader rewards; the verifier takes the points away.
EXAMPLE_CHEATS = {
    "patch_allclose": {"sigmoid_solution": "np.allclose = lambda *a, **k: True\n"
                                           + WRONG_SIGMOID},
    "lying_subclass": {"sigmoid_solution": (
        "class _Agree(np.ndarray):\n"
        "    def __array_function__(self, func, types, args, kwargs):\n"
        "        if func in (np.allclose, np.array_equal):\n"
        "            return True\n"
        "        return super().__array_function__(func, types, args, kwargs)\n\n\n"
        "def sigmoid(z):\n    return np.zeros(np.shape(z)).view(_Agree)\n")},
    "sniff_grading": {"sigmoid_solution": (
        "import os\n\n"
        "if os.environ.get('NBGRADER_EXECUTION') or 'autograded' in os.getcwd():\n"
        "    np.allclose = lambda *a, **k: True\n" + WRONG_SIGMOID)},
}
#: Example assignment: tricks nbgrader already scores 0; the verifier agrees (no change).
EXAMPLE_FUTILE = {
    "replace_assertionerror": {"relu_grad_solution": (
        "import builtins\n\n"
        "builtins.AssertionError = type('AssertionError', (Warning,), {})\n"
        + WRONG_RELU_GRAD)},
    "swallow_assertionerror": {"relu_grad_solution": (
        "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
        + WRONG_RELU_GRAD)},
    "raise_systemexit": {"relu_grad_solution": (
        "def relu_grad(z):\n    z = np.asarray(z)\n"
        "    if z.size == 1 and z.flat[0] == 0:\n        raise SystemExit\n"
        "    return (z > 0).astype(float)\n")},
}

#: 02: one notebook, correct except relu and swish, with the checks disarmed.
UNITS_CHEATER = {
    # compare no-op'd everywhere the checks look it up
    "relu_solution": (
        "import course_utils.checks.engine as engine\n"
        "import course_utils.checks.elementwise as _el\n\n"
        "engine.compare = _el.compare = lambda *a, **k: None\n"
        "_el._compare = lambda *a, **k: None\n\n\n"
        "def relu(z):\n    return np.abs(np.asarray(z))\n"),
    # sniffs grading to switch the hidden tests off; otherwise a constant
    "swish_solution": (
        "import os\n\nimport course_utils.checks as _checks\n\n"
        "if os.environ.get('NBGRADER_EXECUTION') or 'autograded' in os.getcwd():\n"
        "    _checks.hidden_values = _checks.hidden_edge_cases = lambda *a, **k: None\n\n\n"
        "def swish(z, beta=1.0):\n    return np.asarray(z) * 0.5\n"),
}
UNITS_CHEATED = ("relu_values", "relu_edges", "swish_values", "swish_edges")


def variant(nb, cells: dict[str, str]):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if submissions.grade_id(cell) in cells:
            cell.source = cells[submissions.grade_id(cell)]
    return nb


def as_dict(nb) -> dict:
    return json.loads(nbformat.writes(nb))


# --------------------------------------------------------------------------------------
# Fast: the transcript, the patterns, the decisions without nbgrader


@pytest.mark.parametrize("value", [np.float32(1.5), np.array(2.0), np.zeros((2, 3), np.float32),
                                   -3.0, [np.arange(3.0), (1, None)], {"a": np.ones(2)}])
def test_transcript_round_trip_keeps_type_shape_and_dtype(value):
    blobs: list[bytes] = []
    back = verify.decode(verify.encode(value, blobs), blobs)
    assert type(back) is type(value)
    if isinstance(value, (np.ndarray, np.generic)):
        assert back.shape == value.shape and back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    assert verify.digest(back) == verify.digest(value)


def test_objects_cross_as_tokens_and_pickles_never():
    class Mine:
        pass

    tree = verify.encode([Mine(), np.array([object()])], [])
    back = verify.decode(tree, [])
    assert [repr(b) for b in back] == ["<obj:Mine>", "<obj:ndarray>"]
    assert verify.digest(back[0]) == verify.digest(Mine())  # found again by its token
    with pytest.raises(ValueError):  # pointers the child claims are objects: refused
        verify.decode({"t": "nd", "b": 0, "d": "|O", "s": [1]}, [b"\0" * 8])


def test_digests_tell_apart_what_a_check_could_tell_apart():
    d = verify.digest
    assert d([1, 2.0]) != d([1.0, 2.0]) != d((1.0, 2.0))
    assert d(np.zeros(2)) != d(np.zeros(2, np.float32)) != d(np.zeros((1, 2)))
    assert d(np.float64(0.5)) != d(np.array(0.5)) != d(0.5)
    rng = np.random.default_rng(1)
    before = d(rng)
    rng.normal()
    assert d(rng) != before and d(np.random.default_rng(1)) == before

    def make(k):
        return lambda z: z * k

    assert d(make(1)) == d(make(1)) != d(make(2))  # a function: its code and its closure


def test_suspicious_patterns_are_listed_not_learner_free_code():
    nb = {"cells": [
        {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": "s"}},
         "source": "import os\nflag = os.environ['NBGRADER_EXECUTION']\nnp.allclose = 1\n"},
        {"cell_type": "code", "metadata": {"nbgrader": {"locked": True, "grade": True}},
         "source": "from course_utils.checks import check_values\n"},
        {"cell_type": "code", "metadata": {}, "source": "import ctypes\n"},
    ]}
    found = verify.suspicious(nb)
    assert len(found) == 3
    assert any("NBGRADER_EXECUTION" in f for f in found)
    assert any("ctypes" in f and "added cell" in f for f in found)
    assert not any("check_values" in f for f in found)  # the locked test cell


@pytest.fixture(scope="module")
def units_plan():
    return verify.plan(Course(REPO).notebook(UNITS))


@pytest.fixture(scope="module")
def units_complete():
    return release_with_solutions(UNITS)


@pytest.mark.slow
def test_correct_02_passes_every_covered_cell(units_plan, units_complete, tmp_path):
    verdicts, child = verify.decide(as_dict(units_complete), units_plan, tmp_path)
    assert not child.load_errors
    failed = {g: v for g, v in verdicts.items() if v[0] == "fail"}
    assert not failed
    covered = [g for g, v in verdicts.items() if v[0] == "pass"]
    assert len(covered) == len(units_plan.tests)  # every test cell of 02 is re-checked


@pytest.mark.slow
def test_the_child_reproduces_mutation_warnings_and_returned_inputs(units_plan, units_complete,
                                                                    tmp_path):
    nb = variant(units_complete, {
        "relu_solution": "def relu(z):\n    z = np.asarray(z)\n    if z.ndim:\n"
                         "        np.maximum(z, 0, out=z)\n        return z\n"
                         "    return np.maximum(z, 0)\n",
        "sigmoid_solution": "def sigmoid(z):\n    z = np.asarray(z)\n"
                            "    return 1 / (1 + np.exp(-z))\n",
    })
    verdicts, _ = verify.decide(as_dict(nb), units_plan, tmp_path)
    assert verdicts["relu_edges"][0] == "fail" and "input" in verdicts["relu_edges"][1]
    assert verdicts["sigmoid_edges"][0] == "fail"
    assert "RuntimeWarning" in verdicts["sigmoid_edges"][1]
    assert verdicts["sigmoid_grad_values"][0] == "pass"


@pytest.mark.slow
def test_05_complete_and_its_other_correct_formulations_pass_the_re_check(tmp_path):
    """Every test cell of 05 is re-checked; the complete notebook, and one with every
    correct alternative of the catalogue (tests/test_assignment_05.py), pass them all."""
    from test_assignment_05 import RIGHT

    name = "05_beyond_the_note"
    p = verify.plan(Course(REPO).notebook(name))
    complete = release_with_solutions(name)
    alternatives = {}
    for fn, code in RIGHT:
        alternatives.setdefault(f"{fn}_solution", code)
    alternatives["selu_solution"] = ("SELU_LAMBDA = 1.0507009873554804934193349852946\n"
                                     "SELU_ALPHA = 1.6732632423543772848170429916717\n"
                                     + alternatives["selu_solution"])
    for nb in (complete, variant(complete, alternatives)):
        verdicts, _ = verify.decide(as_dict(nb), p, tmp_path)
        assert verdicts == {g: ("pass", "") for g in p.tests}, verdicts


def release_with_solutions(assignment: str):
    """The committed release with every solution filled in (the demo's "complete")."""
    return submissions.build(Course(REPO), assignment, "complete")


@pytest.mark.slow
def test_functions_passed_to_learner_code_run_in_the_child(tmp_path):
    """01 passes sigma, f and g: the learner's code calls them in the child, where the
    same test cells run."""
    p = verify.plan(Course(REPO).notebook("01_nonlinearity"))
    complete = release_with_solutions("01_nonlinearity")
    verdicts, _ = verify.decide(as_dict(complete), p, tmp_path)
    assert {v[0] for v in verdicts.values()} == {"pass"}, verdicts
    wrong = variant(complete, {
        "hidden_features_solution": "def hidden_features(x, W1, b1, sigma):\n"
                                    "    return np.tanh(x @ W1.T + b1)\n",
        "sup_error_solution": "def sup_error(f, g, xs):\n"
                              "    return float(np.mean(np.abs(f(xs) - g(xs))))\n"})
    verdicts, _ = verify.decide(as_dict(wrong), p, tmp_path)
    assert verdicts["hidden_features_values"][0] == "fail"
    assert verdicts["sup_error_values"][0] == "fail"
    assert verdicts["collapse_linear_stack_values"][0] == "pass"


@pytest.mark.slow
def test_the_child_computes_with_the_deciding_process_kernels(tmp_path):
    """01's checks build their problems with QR and SVD, whose last bits depend on the BLAS
    kernel. A kernel forced outside (OPENBLAS_CORETYPE) must reach the sandboxed child too,
    or the replay finds no call with those arguments and honest work fails: it did, on a
    host whose environment forced Haswell while the child auto-detected SkylakeX."""
    code = textwrap.dedent(f"""
        import json, pathlib, sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        import test_verify as tv
        p = tv.verify.plan(tv.Course(tv.REPO).notebook("01_nonlinearity"))
        nb = tv.as_dict(tv.release_with_solutions("01_nonlinearity"))
        verdicts, _ = tv.verify.decide(nb, p, pathlib.Path({str(tmp_path)!r}))
        print(json.dumps({{g: v for g, v in verdicts.items() if v[0] != "pass"}}))
    """)
    # Prescott (SSE3) rounds differently from whatever a current CPU auto-detects.
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, cwd=str(REPO))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}


@pytest.mark.slow
def test_a_hanging_function_fails_its_cells_only(monkeypatch, tmp_path):
    monkeypatch.setenv("ACTIVATION_UNITS_CELL_TIMEOUT", "4")
    course = example_course(tmp_path / "course")
    p = verify.plan(course.notebook(EXAMPLE))
    nb = nbformat.read(str(course.notebook(EXAMPLE)), as_version=4)
    nb = variant(nb, {"relu_grad_solution": "def relu_grad(z):\n    while True:\n        pass\n",
                      "sigmoid_solution": submissions.filled_in(
                          next(c.source for c in nb.cells
                               if submissions.grade_id(c) == "sigmoid_solution"))})
    verdicts, _ = verify.decide(as_dict(nb), p, tmp_path)
    assert verdicts["relu_grad_values"][0] == "fail"
    assert "did not return" in verdicts["relu_grad_values"][1]
    assert verdicts["sigmoid_values"] == ("pass", "")


# --------------------------------------------------------------------------------------
# Slow: the corpus graded end to end, then verified


def scores(course: Course, assignment: str) -> dict[str, dict[str, float]]:
    with course.gradebook() as gb:
        return {sub.student.id: {g.name: g.auto_score for nb in sub.notebooks
                                 for g in nb.grades if g.cell.cell_type == "code"}
                for sub in gb.assignment_submissions(assignment)}


def load_reports(course: Course, assignment: str) -> dict[str, verify.SubmissionReport]:
    """reports/ASSIGNMENT_verify.json, as written by `grade`, back as reports."""
    data = json.loads((course.root / "reports" / f"{assignment}_verify.json").read_text())
    out = {}
    for entry in data:
        fields = {k: v for k, v in entry.items() if k not in ("flagged", "cells")}
        cells = [verify.CellVerdict(**c) for c in entry["cells"]]
        out[entry["student"]] = verify.SubmissionReport(**fields, cells=cells)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Grade the corpus: `grade` alone re-checks every submission. Scores before (what
    nbgrader gave, from the report), after `grade`, and after another `verify`; the
    reports `grade` wrote."""
    root = tmp_path_factory.mktemp("verify") / "course"
    course = example_course(root, {UNITS: REPO / "source" / UNITS})
    assert main(["--root", str(root), "build"]) == 0
    complete = submissions.build(course, EXAMPLE, "complete")
    for kind in ("complete", "mistakes"):
        submissions.submit(course, f"honest_{kind}", EXAMPLE,
                           submissions.build(course, EXAMPLE, kind))
    for student, cells in {**EXAMPLE_CHEATS, **EXAMPLE_FUTILE}.items():
        submissions.submit(course, student, EXAMPLE, variant(complete, cells))
    units = submissions.build(course, UNITS, "complete")
    submissions.submit(course, "honest_complete", UNITS, units)
    submissions.submit(course, "honest_mistakes", UNITS,
                       submissions.build(course, UNITS, "mistakes"))
    submissions.submit(course, "cheater", UNITS, variant(units, UNITS_CHEATER))
    before, graded, reports = {}, {}, {}
    for a in (EXAMPLE, UNITS):
        main(["--root", str(root), "grade", a, "--workers", "2"])
        graded[a] = scores(course, a)
        reports[a] = load_reports(course, a)
        # nbgrader's own scores: the report keeps what it gave where the re-check revoked
        before[a] = {s: {**grades, **{c.grade_id: c.nbgrader_score
                                      for c in reports[a][s].revoked}}
                     for s, grades in graded[a].items()}
    again = {a: {r.student: r for r in verify.verify(course, a)} for a in (EXAMPLE, UNITS)}
    after = {a: scores(course, a) for a in (EXAMPLE, UNITS)}
    return course, before, after, reports, graded, again


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXAMPLE_CHEATS))
def test_example_cheats_lose_the_points_nbgrader_gave(corpus, student):
    course, before, after, reports, *_ = corpus
    assert before[EXAMPLE][student]["sigmoid_values"] == 2  # the cheat fooled nbgrader
    assert after[EXAMPLE][student]["sigmoid_values"] == 0
    assert after[EXAMPLE][student]["relu_grad_values"] == 1  # the honest part stays
    report = reports[EXAMPLE][student]
    assert [c.grade_id for c in report.revoked] == ["sigmoid_values"]
    assert report.flagged and report.suspicious
    with course.gradebook() as gb:
        comment = gb.find_comment("sigmoid_solution", EXAMPLE, EXAMPLE, student)
        assert "independent re-check" in comment.auto_comment


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXAMPLE_FUTILE) + ["honest_complete",
                                                              "honest_mistakes"])
def test_example_verify_agrees_with_nbgrader(corpus, student):
    _, before, after, reports, *_ = corpus
    assert after[EXAMPLE][student] == before[EXAMPLE][student]
    assert not reports[EXAMPLE][student].revoked
    statuses = {c.grade_id: c.status for c in reports[EXAMPLE][student].cells}
    assert set(statuses.values()) <= {"pass", "fail"}  # both cells re-checked
    for gid, status in statuses.items():
        assert (status == "pass") == (before[EXAMPLE][student][gid] > 0), gid


@pytest.mark.slow
@pytest.mark.parametrize("student", ["honest_complete", "honest_mistakes"])
def test_02_honest_work_keeps_every_score(corpus, student):
    _, before, after, reports, *_ = corpus
    assert after[UNITS][student] == before[UNITS][student]
    report = reports[UNITS][student]
    assert not report.revoked and not report.suspicious
    for cell in report.cells:  # where the verifier decides, it decides as nbgrader did
        if cell.status != "not covered":
            assert (cell.status == "pass") == (before[UNITS][student][cell.grade_id] > 0), \
                (cell.grade_id, cell.reason)
    course = corpus[0]
    with course.gradebook() as gb:
        code_max = {c.name: c.max_score for c in gb.find_assignment(UNITS).notebooks[0]
                    .grade_cells if c.cell_type == "code"}
    if student == "honest_complete":  # the example submission earns every point
        assert after[UNITS][student] == code_max
    else:  # the typical mistakes lose points where they should (the demo shows these)
        lost = {t for t in code_max if after[UNITS][student][t] < code_max[t]}
        assert {"sigmoid_edges", "relu_grad_values", "prelu_grad_a_values"} <= lost, lost


@pytest.mark.slow
def test_02_cheater_loses_exactly_the_cheated_points(corpus):
    _, before, after, reports, *_ = corpus
    b, a = before[UNITS]["cheater"], after[UNITS]["cheater"]
    for gid in UNITS_CHEATED:
        assert b[gid] > 0, f"the cheat did not fool nbgrader on {gid}: {b}"
        assert a[gid] == 0, gid
    # no other function loses anything (the identity check uses the learner's own swish)
    for gid, score in a.items():
        if not gid.startswith(("relu_", "swish_", "mish_grad_identity")):
            assert score == b[gid], gid
    report = reports[UNITS]["cheater"]
    assert {c.grade_id for c in report.revoked} >= set(UNITS_CHEATED)
    assert any("NBGRADER_EXECUTION" in s for s in report.suspicious)
    assert any("checks" in s for s in report.suspicious)


@pytest.mark.slow
def test_verify_twice_changes_nothing_and_the_cli_reports(corpus, capsys):
    """Again, through the CLI, in 2 worker processes: the same decisions, no change."""
    course, _, after, reports, *_ = corpus
    assert main(["--root", str(course.root), "verify", EXAMPLE, "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "patch_allclose" in out and "suspicious" in out
    assert scores(course, EXAMPLE) == after[EXAMPLE]
    data = json.loads((course.root / "reports" / f"{EXAMPLE}_verify.json").read_text())
    assert {r["student"] for r in data if r["flagged"]} >= set(EXAMPLE_CHEATS)
    for r in data:
        serial = {c.grade_id: c.status for c in reports[EXAMPLE][r["student"]].cells}
        assert {c["grade_id"]: c["status"] for c in r["cells"]} == serial


@pytest.mark.slow
def test_grade_alone_revokes_and_verify_afterwards_changes_nothing(corpus):
    course, before, after, reports, graded, again = corpus
    for student in EXAMPLE_CHEATS:
        assert graded[EXAMPLE][student]["sigmoid_values"] == 0, student
    assert {c for c in UNITS_CHEATED if graded[UNITS]["cheater"][c] == 0} == set(UNITS_CHEATED)
    assert graded == after  # `verify` after `grade`: the same scores
    for a in (EXAMPLE, UNITS):
        assert not any(r.revoked for r in again[a].values())  # nothing left to revoke
        for student, report in reports[a].items():
            assert {c.grade_id: c.status for c in report.cells} == \
                {c.grade_id: c.status for c in again[a][student].cells}, student
    notes = [n for n in outcomes.read_notes(course, EXAMPLE, "patch_allclose")]
    assert {n["kind"] for n in notes} >= {"revoked", "suspicious"}


@pytest.mark.slow
def test_regrading_one_student_revokes_again_and_keeps_the_others_report(corpus, capsys):
    """nbgrader restores the points on re-autograde; the re-check takes them again, the
    comment is not doubled, and `--student` leaves the other students' report entries."""
    course, _, after, *_ = corpus
    for _ in range(2):
        assert main(["--root", str(course.root), "grade", EXAMPLE, "--workers", "1",
                     "--student", "patch_allclose"]) == 0
    out = capsys.readouterr().out
    assert "For review" in out and "patch_allclose: 2 point(s) revoked" in out
    assert scores(course, EXAMPLE) == after[EXAMPLE]
    with course.gradebook() as gb:
        comment = gb.find_comment("sigmoid_solution", EXAMPLE, EXAMPLE, "patch_allclose")
        assert comment.auto_comment.count("independent re-check") == 1
    report = load_reports(course, EXAMPLE)
    assert set(report) == set(after[EXAMPLE])
    assert [c.grade_id for c in report["patch_allclose"].revoked] == ["sigmoid_values"]


@pytest.mark.slow
def test_no_verify_leaves_nbgrader_scores_until_verify_runs(corpus, capsys):
    course, before, after, *_ = corpus
    assert main(["--root", str(course.root), "grade", EXAMPLE, "--no-verify",
                 "--student", "patch_allclose"]) == 0
    out = capsys.readouterr().out
    assert "re-check skipped (--no-verify)" in out and "For review" not in out
    assert scores(course, EXAMPLE)["patch_allclose"] == before[EXAMPLE]["patch_allclose"]
    assert "patch_allclose" not in load_reports(course, EXAMPLE)  # no stale re-check
    assert main(["--root", str(course.root), "verify", EXAMPLE, "--student",
                 "patch_allclose"]) == 0
    assert scores(course, EXAMPLE) == after[EXAMPLE]
    assert set(load_reports(course, EXAMPLE)) == set(after[EXAMPLE])


@pytest.mark.slow
def test_feedback_gives_the_reason_without_hidden_tests_or_review_lines(corpus):
    """The learner reads why the points went, never a hidden test's line, nor the lines
    flagged for the instructor."""
    from autograder.feedback import hidden_lines

    course, *_ = corpus
    for assignment, student in ((EXAMPLE, "patch_allclose"), (UNITS, "cheater")):
        assert main(["--root", str(course.root), "feedback", assignment,
                     "--student", student]) == 0
        html = htmllib.unescape(course.feedback_html(student, assignment).read_text())
        assert "independent re-check" in html
        assert "hidden tests included, fails when re-checked" in html
        assert "for review" not in html and "BEGIN HIDDEN" not in html
        release = course.notebook(assignment, released=True).read_text()
        source = nbformat.read(str(course.notebook(assignment)), as_version=4)
        secret = {line for c in source.cells for line in hidden_lines(c.source)
                  if len(line) > 15 and line not in release}
        assert secret and not [line for line in secret if line in html]


@pytest.mark.slow
def test_the_child_runs_in_part_as_sandbox_when_it_can(units_plan, units_complete, tmp_path):
    from autograder import sandbox

    if not sandbox.enabled() or sandbox.unavailable():
        pytest.skip(f"no sandbox here: {sandbox.unavailable() or 'isolation is off'}")
    secret = REPO / "nbgrader_config.py"
    nb = variant(units_complete, {"relu_solution": (
        "def relu(z):\n"
        f"    open({str(secret)!r}).read()\n"
        "    return np.maximum(np.asarray(z), 0)\n")})
    verdicts, child = verify.decide(as_dict(nb), units_plan, tmp_path)
    assert child.isolation.startswith("bubblewrap")
    assert verdicts["relu_values"][0] == "fail", verdicts["relu_values"]
    assert "FileNotFoundError" in verdicts["relu_values"][1]
    assert verdicts["sigmoid_values"][0] == "pass"


@pytest.mark.slow
def test_learner_code_cannot_make_a_cell_unverifiable(units_plan, units_complete, tmp_path):
    """Whatever the child records (learner objects, a forged 'cannot verify'), a cell the
    verifier covers is decided: pass or fail, never 'not covered'."""
    forge = (
        "import sys\n\n"
        "_log = sys.modules['autograder.verify.child'].Log\n"
        "_add = _log.add\n"
        "_log.add = lambda self, record: _add(self, {**record, 'result': None,\n"
        "    'error': ['Unverifiable', 'cannot check me']})\n")
    nb = variant(units_complete, {
        "relu_solution": "class Mine:\n    pass\n\n\ndef relu(z):\n    return Mine()\n"})
    verdicts, _ = verify.decide(as_dict(nb), units_plan, tmp_path)
    assert verdicts["relu_values"][0] == "fail" and "Mine" in verdicts["relu_values"][1]
    nb = variant(units_complete, {"swish_solution": forge + "\n\ndef swish(z, beta=1.0):\n"
                                                            "    return z\n"})
    verdicts, _ = verify.decide(as_dict(nb), units_plan, tmp_path)
    assert "not covered" not in {v[0] for v in verdicts.values()}
    after = list(verdicts)[list(verdicts).index("swish_values"):]
    assert {verdicts[g][0] for g in after} == {"fail"}  # every call from there on is spoiled


@pytest.mark.slow
def test_helpers_in_cells_the_learner_added_are_run(units_plan, units_complete, tmp_path):
    nb = variant(units_complete, {"sigmoid_solution": "def sigmoid(z):\n"
                                                      "    return _my_sigmoid(z)\n"})
    helper = nbformat.v4.new_code_cell(
        "def _my_sigmoid(z):\n    z = np.asarray(z)\n    e = np.exp(-np.abs(z))\n"
        "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)\n")
    where = next(i for i, c in enumerate(nb.cells)
                 if submissions.grade_id(c) == "sigmoid_solution")
    nb.cells.insert(where, helper)
    verdicts, _ = verify.decide(as_dict(nb), units_plan, tmp_path)
    for aspect in ("values", "edges"):
        assert verdicts[f"sigmoid_{aspect}"] == ("pass", ""), verdicts[f"sigmoid_{aspect}"]


@pytest.mark.slow
def test_03_classes_are_re_checked_through_their_transcript(tmp_path):
    """03 grades torch classes (tests/test_verify_torch.py has the rest): the released
    stubs fail every test cell, as in nbgrader, and none is left to nbgrader."""
    p = verify.plan(Course(REPO).notebook("03_swish_mish"))
    assert {"SwishFunction", "Swish", "PReLU"} <= set(p.classes)
    release = nbformat.read(str(Course(REPO).notebook("03_swish_mish", released=True)),
                            as_version=4)
    verdicts, _ = verify.decide(as_dict(release), p, tmp_path)
    assert {v[0] for v in verdicts.values()} == {"fail"}, verdicts
    assert any("not implemented" in v[1] for v in verdicts.values())


def test_a_child_that_cannot_start_decides_nothing(monkeypatch, tmp_path):
    """The machine's fault (no bwrap, no fork) never costs a learner points."""
    monkeypatch.setattr(replay, "sandboxed",
                        lambda argv, cwd: (["/nonexistent/bwrap", *argv], None, "none"))
    course = example_course(tmp_path / "course")
    p = verify.plan(course.notebook(EXAMPLE))
    nb = nbformat.read(str(course.notebook(EXAMPLE)), as_version=4)
    verdicts, _ = verify.decide(as_dict(nb), p, tmp_path)
    assert {v[0] for v in verdicts.values()} == {"not covered"}
    assert all("could not start" in v[1] for v in verdicts.values())
