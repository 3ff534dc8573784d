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
