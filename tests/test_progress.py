"""Where a learner stands: course_utils.progress in a notebook, and `progress` on the CLI."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.course import REPO
from course_utils import progress as P

RELEASE = REPO / "release" / "02_activation_units" / "02_activation_units.ipynb"
SOURCE = REPO / "source" / "02_activation_units" / "02_activation_units.ipynb"


def test_read_tests_keeps_only_the_visible_part_and_groups_by_exercise():
    tests = P.read_tests(SOURCE)
    assert all("HIDDEN" not in src and "hidden_" not in src for *_, src in tests)
    exercises = {exercise for exercise, *_ in tests}
    assert {"sigmoid", "prelu", "prelu_grad", "mish_grad"} <= exercises
    assert sum(points for _, _, points, _ in tests) == 45  # every autograded point


def test_progress_runs_the_visible_checks_against_the_namespace(capsys):
    from course_utils import reference as ref

    namespace = {"sigmoid": ref.sigmoid, "sigmoid_grad": lambda z: ref.sigmoid(z)}
    rows = {r.name: r for r in P.exercise_progress(namespace, RELEASE)}
    assert rows["sigmoid"].passes and rows["sigmoid"].earned == 3
    assert not rows["sigmoid_grad"].passes
    assert "sigmoid_grad_values: sigmoid_grad:" in rows["sigmoid_grad"].failures[0]
    assert P.status(rows["relu"]) == "its exercise cell has not run yet"
    table = P.progress_table(list(rows.values()))
    assert all(len(line) <= P.WIDTH for line in table.splitlines()), table
    assert table.splitlines()[-1].startswith("1 of 13 exercises pass (3 of 45 points")
    assert capsys.readouterr().err == ""


def test_progress_without_a_notebook_says_so_and_raises_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    P.progress()
    assert "cannot tell which notebook" in capsys.readouterr().out


@pytest.mark.slow
def test_the_cli_runs_a_notebook_and_prints_its_table(tmp_path, capsys):
    mine = tmp_path / "02_activation_units" / "02_activation_units.ipynb"
    mine.parent.mkdir()
    nb = nbformat.read(RELEASE, as_version=4)
    solved = {c.metadata["nbgrader"]["grade_id"]: c.source
              for c in nbformat.read(SOURCE, as_version=4).cells
              if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid_solution":
            cell.source = solved["sigmoid_solution"]
    nbformat.write(nb, mine)
    before = mine.read_bytes()
    assert main(["progress", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "sigmoid" in out and "3 / 3  passes" in out and "not implemented yet" in out
    assert "exercises pass" in out
    assert mine.read_bytes() == before  # nothing written
    assert not list(Path(tmp_path).glob("**/gradebook.db"))
