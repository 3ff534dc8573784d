"""What ``generate_assignment`` adds to nbgrader's release: written-answer stubs that name
their question.

nbgrader replaces a written answer with the bare stub ``YOUR ANSWER HERE``; its Validate
dialog then lists every unanswered question as that line and "You did not provide a
response", without saying which question it is. ``NameAnswerStubs`` (after
``ClearSolutions`` in ``GenerateAssignment.preprocessors``, before the checksums) writes
the grade id and the points into the stub instead:

    YOUR ANSWER HERE (relu_kink_answer, 3 points): replace this line with your answer.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

#: nbgrader's own stub for a written answer (``ClearSolutions.text_stub``).
STUB = "YOUR ANSWER HERE"


def named_stub(grade_id: str, points: float) -> str:
    return f"{STUB} ({grade_id}, {points:g} points): replace this line with your answer."


class NameAnswerStubs(NbGraderPreprocessor):
    """A written answer's stub names its question and its points."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution") and \
                cell.source.strip() == STUB:
            cell.source = named_stub(meta.get("grade_id", "answer"),
                                     float(meta.get("points") or 0))
        return cell, resources
