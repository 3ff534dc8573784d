"""One kernel per notebook: run its cells, then re-run its test cells against variants.

Starting a kernel and importing torch costs seconds, so the assignment tests do not
re-execute a notebook per wrong answer. They run the notebook once, then redefine the
learner's function in the same kernel and run the notebook's own test cells again:

    with NotebookSession(SOURCE / "02_activation_units" / "activation_units.ipynb") as nb:
        nb.run_all()                                   # solutions defined, every cell run
        nb.run("def relu_grad(z):\\n    return (z > 0).astype(z.dtype)")
        outcome = nb.run_test("relu_grad_values")
        assert not outcome.passed and "z = 0.0" in outcome.text

A test cell *passes* as nbgrader scores it: no error and nothing written to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient


@dataclass
class Outcome:
    """What one executed cell did: passed (as nbgrader scores it) and the text it printed."""

    passed: bool
    text: str
    stderr: str = ""
    error: str = ""


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata ({} for a cell nbgrader does not mark)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_sources(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Solution cells' sources by grade id without ``_solution`` (the function they define)."""
    return {nbgrader_meta(c)["grade_id"].removesuffix("_solution"): c.source
            for c in nb.cells if nbgrader_meta(c).get("grade_id", "").endswith("_solution")}


def assert_release_hides_the_answers(source_path: str | os.PathLike,
                                     release_path: str | os.PathLike,
                                     secrets: tuple[str, ...] = ()) -> None:
    """The release has the source's cells (grade ids in order), every solution a stub, and
    no solution, hidden test or mark scheme: nbgrader's markers and ``secrets`` (lines of
    this notebook's solutions) appear nowhere in it."""
    source = nbformat.read(source_path, as_version=4)
    release = nbformat.read(release_path, as_version=4)
    assert [nbgrader_meta(c).get("grade_id") for c in source.cells] == \
        [nbgrader_meta(c).get("grade_id") for c in release.cells]
    text = json.dumps([c.source for c in release.cells])
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "hidden_", "MARK SCHEME", *secrets):
        assert secret not in text
    for cell in release.cells:
        if nbgrader_meta(cell).get("grade_id", "").endswith("_solution"):
            assert "raise NotImplementedError()" in cell.source


def grade_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Autograded test cells by grade id, in notebook order."""
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            cells[meta["grade_id"]] = cell
    return cells


class NotebookSession:
    """A live kernel bound to one notebook (a context manager)."""

    def __init__(self, path: str | os.PathLike, timeout: int = 120):
        self.path = Path(path)
        self.nb = nbformat.read(self.path, as_version=4)
        # nbclient writes each executed cell back into its notebook, so the client gets a
        # one-cell scratch notebook and the notebook under test is never modified.
        self._scratch = nbformat.v4.new_notebook(metadata=self.nb.metadata)
        self._scratch.cells = [nbformat.v4.new_code_cell("")]
        self.client = NotebookClient(
            self._scratch, timeout=timeout, kernel_name="python3", allow_errors=True,
            resources={"metadata": {"path": str(self.path.parent)}},
        )
        self._stack = contextlib.ExitStack()
        self.tests = grade_cells(self.nb)
        #: What each code cell printed in ``run_all``, by cell id (the claims read it).
        self.printed: dict[str, str] = {}

    def __enter__(self) -> NotebookSession:
        self._stack.enter_context(self.client.setup_kernel())
        # Figures are not looked at here; the Agg backend keeps runs headless and quick.
        self.run("import matplotlib\nmatplotlib.use('Agg')")
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def run(self, code: str) -> Outcome:
        """Execute ``code`` in the kernel as a fresh code cell."""
        cell = nbformat.v4.new_code_cell(code)
        return self._execute(cell)

    def run_all(self, *, skip_tests: bool = False) -> dict[str, Outcome]:
        """Run every code cell in order; return the outcome of each test cell by grade id."""
        outcomes = {}
        for cell in self.nb.cells:
            if cell.cell_type != "code":
                continue
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if skip_tests and grade_id in self.tests:
                continue
            outcome = self._execute(cell)
            self.printed[cell.get("id", "")] = outcome.text
            if grade_id in self.tests:
                outcomes[grade_id] = outcome
        return outcomes

    def run_test(self, grade_id: str) -> Outcome:
        """Re-run one test cell of the notebook, by grade id."""
        return self._execute(nbformat.v4.new_code_cell(self.tests[grade_id].source))

    def run_tests(self, grade_ids=None) -> dict[str, Outcome]:
        ids = list(self.tests) if grade_ids is None else list(grade_ids)
        return {gid: self.run_test(gid) for gid in ids}

    def _execute(self, cell: nbformat.NotebookNode) -> Outcome:
        cell = nbformat.from_dict(dict(cell, outputs=[]))
        self._scratch.cells[0] = cell
        self.client.execute_cell(cell, 0)
        stdout, stderr, error = [], [], []
        for out in cell.outputs:
            if out.output_type == "stream":
                (stderr if out.name == "stderr" else stdout).append(out.text)
            elif out.output_type == "error":
                error.append(f"{out.ename}: {out.evalue}")
        text = "".join(stdout + stderr) + "\n".join(error)
        return Outcome(passed=not error and not stderr, text=text,
                       stderr="".join(stderr), error="\n".join(error))


def message_items(text: str) -> list[str]:
    """The items of a check's message (the problem, each detail, the hint): lines indented
    four spaces or more continue the item above them, wrapped to fit 88 columns."""
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("    ") and items:
            items[-1] += " " + line.strip()
        else:
            items.append(line)
    return items


def assert_every_test_fails_on_a_stub(outcomes: dict[str, Outcome]) -> None:
    """Every test cell of a release, run as handed out, fails because its exercise is a stub."""
    for grade_id, outcome in outcomes.items():
        assert not outcome.passed, f"{grade_id} passed on the release's stubs"
        assert "is not implemented yet" in outcome.text, (grade_id, outcome.text)


def release_outcomes(path: str | os.PathLike, timeout: int = 300) -> dict[str, Outcome]:
    """Run a released notebook top to bottom, as a student first sees it; check that it
    earns nothing (``assert_every_test_fails_on_a_stub``) and return the outcomes."""
    with NotebookSession(path, timeout=timeout) as nb:
        outcomes = nb.run_all()
    assert_every_test_fails_on_a_stub(outcomes)
    return outcomes


def assert_release_passes_once_solved(source_path: str | os.PathLike,
                                      release_path: str | os.PathLike, n_tests: int,
                                      timeout: int = 300) -> None:
    """The release as handed out earns nothing (``n_tests`` test cells, each failing on its
    stub); a learner who then writes the source's solutions passes every visible test."""
    solutions = solution_sources(nbformat.read(source_path, as_version=4)).values()
    with NotebookSession(release_path, timeout=timeout) as nb:
        outcomes = nb.run_all()
        assert len(outcomes) == n_tests
        assert_every_test_fails_on_a_stub(outcomes)
        for source in solutions:
            assert nb.run(source).passed
        solved = nb.run_tests()
    assert not {gid: o.text for gid, o in solved.items() if not o.passed}
