"""Feedback without the answers: hide hidden tests and mark schemes, also from tracebacks.

An autograded notebook carries the full test cells (the hidden tests are put back by
nbgrader's ``OverwriteCells``) and the mark schemes (locked cells are restored from the
source). nbgrader's stock feedback shows both. ``HideHiddenTests`` runs in
``GenerateFeedback.preprocessors`` (see ``nbgrader_config.py``), after ``GetGrades`` has read
the scores, and removes:

- the ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions of every cell;
- the ``BEGIN MARK SCHEME`` ... ``END MARK SCHEME`` regions of every cell;
- every traceback frame that quotes a line of a hidden region; the error's own message
  (what the check says to the learner) stays.
"""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, NbGraderPreprocessor

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython's context lines: "---->  4 code" or "      5 code".
_CONTEXT = re.compile(r"^\s*(-*>)?\s*\d+\s?")
OMITTED = "(traceback frame in the hidden tests omitted)"


def hidden_lines(source: str, begin: str = "BEGIN HIDDEN TESTS",
                 end: str = "END HIDDEN TESTS") -> list[str]:
    """The stripped, non-empty lines strictly inside the hidden regions of ``source``."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def scrub_traceback(traceback: list[str], secret: list[str]) -> list[str]:
    """``traceback`` without any line that quotes ``secret`` (the hidden-test lines).

    A frame whose failing line (IPython's ``---->`` arrow) is hidden is replaced by a note;
    in other frames only the quoted context lines that are hidden (and the region markers)
    are dropped, so a failing visible test still shows where it failed.
    """
    secret = [line for line in secret if line]
    cleaned = []
    for entry in traceback:
        kept, dropped_arrow = [], False
        for line in entry.split("\n"):
            plain = _ANSI.sub("", line)
            code = _CONTEXT.sub("", plain).strip()
            if "HIDDEN TESTS" in plain or (code and any(s == code for s in secret)):
                dropped_arrow |= plain.lstrip().startswith("---->")
                continue
            kept.append(line)
        if dropped_arrow:
            if not cleaned or cleaned[-1] != OMITTED:
                cleaned.append(OMITTED)
        else:
            cleaned.append("\n".join(kept))
    return cleaned


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests and mark schemes from a notebook on its way to feedback HTML."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        self._hidden = ClearHiddenTests(parent=self, enforce_metadata=False)
        self._schemes = ClearMarkScheme(parent=self, enforce_metadata=False,
                                        check_attachment_leakage=False)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        secret = hidden_lines(cell.source, self._hidden.begin_test_delimeter,
                              self._hidden.end_test_delimeter)
        self._hidden._remove_hidden_test_region(cell)
        self._schemes._remove_mark_scheme_region(cell)
        if cell.cell_type == "code" and secret:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = scrub_traceback(output.traceback, secret)
        return cell, resources
