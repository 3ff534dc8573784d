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

Two more preprocessors make the page one a student can act on (the template is
``autograder/templates/feedback/index.html.j2``, nbgrader's with these changes):

- ``GetGradesAndStatus`` (nbgrader's ``GetGrades``, and more): each test cell is named by its
  own first comment line ("sigmoid: values on a grid ..."), not "Test cell"; a written
  answer reads "awaiting a person" or "not answered" until a person grades it, never 0 / 3;
- ``RenderMath``: the LaTeX of markdown cells becomes MathML (``latex2mathml``), which
  browsers render themselves: the page needs no MathJax from a CDN, so math shows offline.
"""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import (
    ClearHiddenTests,
    ClearMarkScheme,
    GetGrades,
    NbGraderPreprocessor,
)

from autograder.release import STUB

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


def test_label(source: str) -> str:
    """A test cell's name for people: its first ``# comment`` line, else ''."""
    first = (source.strip().splitlines() or [""])[0]
    return first[1:].strip() if first.startswith("#") else ""


class GetGradesAndStatus(GetGrades):
    """nbgrader's ``GetGrades``, plus what the feedback template shows instead of bare
    numbers: ``label`` (a test cell's comment line) and ``status`` of a written answer
    ("awaiting a person", "not answered"; absent once a person has graded it)."""

    def _get_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        super()._get_score(cell, resources)
        meta = cell.metadata.nbgrader
        if cell.cell_type == "code" and not meta.get("solution"):
            meta["label"] = test_label(cell.source)
        if cell.cell_type == "markdown" and meta.get("solution"):
            grade = self.gradebook.find_grade(meta["grade_id"], self.notebook_id,
                                              self.assignment_id, self.student_id)
            if grade.manual_score is not None:
                return  # a person's score stands, even for an answer left blank
            text = cell.source.strip()
            if not text or text.startswith(STUB):
                meta["status"] = "not answered"
            elif grade.needs_manual_grade:
                meta["status"] = "awaiting a person"


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)


def math_to_mathml(markdown: str) -> str:
    """``markdown`` with its ``$...$`` and ``$$...$$`` LaTeX as MathML (code spans left as
    they are); an expression latex2mathml cannot convert stays as written."""
    from latex2mathml.converter import convert

    def one(match: re.Match) -> str:
        block, tex = match.group(1) is not None, match.group(1) or match.group(2)
        try:
            return convert(tex.strip(), display="block" if block else "inline")
        except Exception:  # noqa: BLE001 (any failure: keep the source)
            return match.group(0)

    pieces, last = [], 0
    for code in _CODE_SPAN.finditer(markdown):
        pieces.append(_MATH.sub(one, markdown[last:code.start()]))
        pieces.append(code.group(0))
        last = code.end()
    pieces.append(_MATH.sub(one, markdown[last:]))
    return "".join(pieces)


class RenderMath(NbGraderPreprocessor):
    """The markdown cells' LaTeX as MathML, so that the feedback renders math offline."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        return cell, resources
