"""The small example assignment the pipeline tests grade (``00_example``, shipped in
``autograder/examples/assignments/`` with its typical mistakes)."""

from __future__ import annotations

import os
from pathlib import Path

from autograder.course import Course, make_scratch
from autograder.submissions import example_assignments

ASSIGNMENTS = example_assignments()


def example_course(root: str | os.PathLike, extra: dict[str, Path] | None = None) -> Course:
    """A scratch course in ``root`` with the example assignment and ``extra``
    ({name: source directory})."""
    return make_scratch(root, {**ASSIGNMENTS, **(extra or {})})
