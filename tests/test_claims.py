"""The claims registry (tests/claims): every sentence about a result is decided by a test.

Each source notebook runs once, top to bottom, in its own kernel, exactly as a learner with
the solutions runs it (no shrunk sweeps, unlike the assignment tests); the variables its
claims module lists in ``RESULTS`` come back, and each claim is checked against them. A
claim's words must appear in its cell, so prose and registry cannot drift apart silently.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import nbformat
import pytest
from claims import nb01, nb02, nb03, nb04, nb05, normalised
from nbsession import NotebookSession

ROOT = Path(__file__).resolve().parents[1]
MODULES = [nb01, nb02, nb03, nb04, nb05]
CASES = [(module, claim) for module in MODULES for claim in module.CLAIMS]


def source_path(module) -> Path:
    return ROOT / "source" / module.NOTEBOOK / f"{module.NOTEBOOK}.ipynb"


def markdown_cells(module) -> dict[str, str]:
    """Markdown cells by cell id, and written answers also by their nbgrader grade id."""
    nb = nbformat.read(source_path(module), as_version=4)
    cells = {c.id: c.source for c in nb.cells if c.cell_type == "markdown"}
    cells.update({c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                  if c.cell_type == "markdown" and "grade_id" in c.metadata.get("nbgrader", {})})
    return cells


@pytest.fixture(scope="session")
def notebook_results(tmp_path_factory):
    """module -> {name: value} of the notebook's own results, each notebook run once."""
    cache = {}

    def results(module):
        if module.NOTEBOOK not in cache:
            out = tmp_path_factory.mktemp("claims") / f"{module.NOTEBOOK}.pickle"
            with NotebookSession(source_path(module), timeout=600) as nb:
                outcomes = nb.run_all()
                failed = [gid for gid, o in outcomes.items() if not o.passed]
                assert not failed, f"{module.NOTEBOOK}: test cells failed: {failed}"
                dump = nb.run(f"import pickle as _pickle\n"
                              f"with open({str(out)!r}, 'wb') as _f:\n"
                              f"    _pickle.dump({{_n: globals()[_n] for _n in "
                              f"{module.RESULTS!r}}}, _f)")
                assert dump.passed, dump.text
            cache[module.NOTEBOOK] = {**pickle.loads(out.read_bytes()), "printed": nb.printed}
        return cache[module.NOTEBOOK]

    return results


@pytest.mark.parametrize("module, claim", CASES,
                         ids=[f"{m.NOTEBOOK[:2]}-{c.cell}-{i}" for i, (m, c) in enumerate(CASES)])
def test_the_prose_says_it(module, claim):
    cells = markdown_cells(module)
    assert claim.cell in cells, f"{module.NOTEBOOK}: no markdown cell {claim.cell}"
    assert normalised(claim.says) in normalised(cells[claim.cell]), (
        f"{module.NOTEBOOK}, cell {claim.cell} no longer says: {claim.says!r}\n"
        f"Update the claim with the sentence (tests/claims/).")


@pytest.mark.slow
@pytest.mark.parametrize("module, claim", CASES,
                         ids=[f"{m.NOTEBOOK[:2]}-{c.cell}-{i}" for i, (m, c) in enumerate(CASES)])
def test_the_claim_holds(notebook_results, module, claim):
    claim.check(notebook_results(module))


@pytest.mark.parametrize("module", MODULES, ids=[m.NOTEBOOK for m in MODULES])
def test_every_what_to_notice_cell_has_a_claim(module):
    claimed = {claim.cell for claim in module.CLAIMS}
    unclaimed = [cid for cid, text in markdown_cells(module).items()
                 if text.lstrip().startswith("**What to notice") and cid not in claimed]
    assert not unclaimed, f"{module.NOTEBOOK}: 'What to notice' cells without a claim: {unclaimed}"
