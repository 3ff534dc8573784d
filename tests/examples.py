"""The small example assignment the pipeline tests grade (``tests/example_assignment``):
``00_example``, with its typical mistakes."""

from __future__ import annotations

import os
from pathlib import Path

from autograder.course import Course, make_scratch

EXAMPLE = Path(__file__).resolve().parent / "example_assignment"
ASSIGNMENTS = {"00_example": EXAMPLE / "source" / "00_example"}
MISTAKES = {"00_example": EXAMPLE / "mistakes" / "00_example"}


def example_course(root: str | os.PathLike, extra: dict[str, Path] | None = None) -> Course:
    """A scratch course in ``root`` with the example assignment, its mistakes, and ``extra``
    ({name: source directory})."""
    return make_scratch(root, {**ASSIGNMENTS, **(extra or {})}, mistakes=MISTAKES)
