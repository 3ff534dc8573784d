"""Build checks, for every assignment in source/ (and the pipeline's example assignment).

- the committed release equals a fresh ``generate_assignment`` of the source;
- every source notebook passes every test, every released notebook fails every autograded
  test (nbgrader's ``Validator``; ``nbgrader validate`` exits 0 even on failure);
- no solution, hidden test or mark scheme text in the release; unique grade ids; points on
  every graded cell; no test cell ending in a bare expression; kernel python3; outputs
  cleared;
- the points of each assignment equal the README's course map;
- the course's conventions for test cells and written answers (``convention_problems``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from examples import ASSIGNMENTS

from autograder import buildchecks as bc
from autograder.course import REPO, Course, make_scratch

REAL = Course(REPO).assignments()
EXAMPLES = ASSIGNMENTS
ALL = [(name, REPO / "source" / name) for name in REAL] + list(EXAMPLES.items())
IDS = [name for name, _ in ALL]


def source_nb(name: str, directory: Path):
    return bc.read(directory / f"{name}.ipynb")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A scratch course with every assignment and its freshly generated release."""
    course = make_scratch(tmp_path_factory.mktemp("fresh") / "course", dict(ALL))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, _ in ALL:
            course.generate(name)
    return course


def released_nb(name: str, fresh_course: Course):
    """The committed release of a real assignment; the fresh one for the example."""
    if name in REAL:
        path = REPO / "release" / name / f"{name}.ipynb"
        if not path.is_file():
            pytest.fail(f"{name}: release/{name}/{name}.ipynb is missing; run "
                        f"`python -m autograder build {name}` and commit release/.")
        return bc.read(path)
    return bc.read(fresh_course.notebook(name, released=True))


def test_there_is_something_to_check():
    assert ALL, "no assignment in source/ and no example assignment in tests/"


@pytest.mark.parametrize("name", [n for n in IDS if n in REAL])
def test_release_equals_fresh_generate(name, fresh):
    committed_dir = REPO / "release" / name
    fresh_dir = fresh.release / name
    committed_files = sorted(p.relative_to(committed_dir).as_posix()
                             for p in committed_dir.rglob("*") if p.is_file())
    fresh_files = sorted(p.relative_to(fresh_dir).as_posix()
                         for p in fresh_dir.rglob("*") if p.is_file())
    assert committed_files == fresh_files, (
        f"release/{name} holds {committed_files}, a fresh build {fresh_files}; run "
        f"`python -m autograder build {name}` and commit release/.")
    for rel in committed_files:
        a, b = committed_dir / rel, fresh_dir / rel
        if rel.endswith(".ipynb"):
            same = json.loads(a.read_text()) == json.loads(b.read_text())
        else:
            same = a.read_bytes() == b.read_bytes()
        assert same, (f"release/{name}/{rel} differs from a fresh generate_assignment of "
                      f"source/{name}; run `python -m autograder build {name}` and commit it.")


@pytest.mark.parametrize("name,directory", ALL, ids=IDS)
def test_source_metadata(name, directory):
    nb = source_nb(name, directory)
    problems = (bc.kernel_problems(nb, name) + bc.output_problems(nb, name)
                + bc.metadata_problems(nb, name))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name,directory", ALL, ids=IDS)
def test_release_metadata_and_no_leaks(name, directory, fresh):
    release = released_nb(name, fresh)
    problems = (bc.kernel_problems(release, name) + bc.output_problems(release, name)
                + bc.metadata_problems(release, name)
                + bc.leak_problems(source_nb(name, directory), release, name))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [n for n in IDS if n in REAL])
def test_source_follows_the_course_conventions(name):
    problems = bc.convention_problems(source_nb(name, REPO / "source" / name), name)
    assert not problems, "\n".join(problems)


def test_the_conventions_catch_a_formula_and_a_missing_mark_scheme():
    import nbformat

    nb = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell(
        "from course_utils.checks import check_values\n\nassert np.allclose(relu(1.0), 1.0)\n",
        metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}})
    answer = nbformat.v4.new_markdown_cell(
        "YOUR ANSWER HERE", metadata={"nbgrader": {"grade": True, "solution": True,
                                                   "grade_id": "a", "points": 1}})
    nb.cells = [test, answer]
    problems = "\n".join(bc.convention_problems(nb, "x"))
    for words in ("'t' does not open with a `# comment`", "computes with np",
                  "'a' is not followed by a locked cell"):
        assert words in problems
    test.source = "# relu\n" + test.source
    assert "does not end in a call" in "\n".join(bc.convention_problems(nb, "x"))


def test_conventions_catch_edge_heavy_points_latex_headings_and_missing_language_info():
    import nbformat

    nb = nbformat.v4.new_notebook()
    meta = {"grade": True, "solution": False, "locked": True}
    nb.cells = [
        nbformat.v4.new_code_cell("# f: values\nfrom course_utils.checks import check_values\n\n"
                                  "check_values(f, 'f')",
                                  metadata={"nbgrader": {**meta, "grade_id": "f_values",
                                                         "points": 1}}),
        nbformat.v4.new_code_cell("# f: extremes\nfrom course_utils.checks import check_edge_cases"
                                  "\n\ncheck_edge_cases(f, 'f')",
                                  metadata={"nbgrader": {**meta, "grade_id": "f_edges",
                                                         "points": 1}}),
        nbformat.v4.new_markdown_cell("## The role of $\\beta$"),
    ]
    problems = "\n".join(bc.convention_problems(nb, "x"))
    assert "edge-case cells carry 1 of 2 autograded points (50%)" in problems
    assert "holds LaTeX" in problems and "language_info lacks" in problems


@pytest.mark.parametrize("name", [n for n in IDS if n in REAL])
def test_points_match_course_map(name):
    readme = REPO / "README.md"
    table = bc.course_map_points(readme)
    assert name in table, (
        f"README.md has no course-map row for {name}: expected a row starting `| {name} |` "
        "in the table with header `| Assignment | Note | What the learner builds | Points |`.")
    points = bc.total_points(source_nb(name, REPO / "source" / name))
    assert isinstance(table[name], float), (
        f"README.md's course map gives {name} the points {table[name]!r}; its notebook has "
        f"{points:g}: write {points:g} in the Points column.")
    assert table[name] == points, (
        f"README.md's course map gives {name} {table[name]:g} points; its notebook has "
        f"{points:g}. Update the README (or the notebook's points).")


#: nbgrader's Validator on the example assignment. The real assignments' notebooks are run
#: already, and the same is asserted there: every test cell of the source passes in
#: tests/test_claims.py (the full run) and tests/test_assignment_0X.py (the shrunk one), and
#: every test cell of the release fails in test_assignment_0X.py (``release_earns_zero``).
VALIDATED = list(EXAMPLES.items())


@pytest.mark.slow
@pytest.mark.parametrize("name,directory", VALIDATED, ids=list(EXAMPLES))
def test_source_passes_every_test(name, directory, fresh):
    validator = fresh.validator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = validator.validate(str(fresh.notebook(name)))
    failed = [f"{r['source'].splitlines()[0]}\n{r.get('raw_error', '')[-600:]}"
              for r in results.get("failed", [])]
    assert not results.get("type_changed"), results["type_changed"]
    assert not failed, f"{name}: source test cells fail:\n\n" + "\n\n".join(failed)


@pytest.mark.slow
@pytest.mark.parametrize("name,directory", VALIDATED, ids=list(EXAMPLES))
def test_release_fails_every_test(name, directory, fresh):
    path = (REPO / "release" / name if name in REAL else fresh.release / name) / f"{name}.ipynb"
    validator = fresh.validator(invert=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = validator.validate(str(path))
    assert not results.get("changed"), f"{name}: locked cells changed: {results['changed']}"
    passed = [r["source"].splitlines()[0] for r in results.get("passed", [])]
    assert not passed, (f"{name}: these test cells pass on the unsolved release (they test "
                        "nothing the learner writes):\n" + "\n".join(passed))
