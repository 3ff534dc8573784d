"""Written-answer stubs name their question in every release (autograder/release.py)."""

from __future__ import annotations

import nbformat
import pytest

from autograder.course import REPO
from autograder.release import STUB, named_stub

ASSIGNMENTS = sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_written_answer_stub_names_its_question(name):
    nb = nbformat.read(REPO / "release" / name / f"{name}.ipynb", as_version=4)
    answers = [c for c in nb.cells if c.cell_type == "markdown"
               and c.metadata.get("nbgrader", {}).get("solution")]
    assert answers
    for cell in answers:
        meta = cell.metadata.nbgrader
        assert cell.source == named_stub(meta["grade_id"], meta["points"]), cell.source
        assert cell.source.startswith(STUB)
