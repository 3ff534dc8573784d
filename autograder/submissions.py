"""Example submissions, built from the release so that they never drift from it.

- ``complete``: the release with every solution cell filled in from the source;
- ``blank``: the release as a learner receives it;
- ``mistakes``: ``complete``, except some solution cells replaced by typical mistakes,
  kept as small files ``autograder/examples/<assignment>/<grade id>.py`` (the cell's whole
  source; a ``.md`` file for a written answer).

``example_assignments()`` is the small assignment shipped beside them (``00_example``, two
graded functions): the pipeline's tests and the quick grading benchmark grade it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat

from autograder.course import Course, read_notebook

#: Typical mistakes shipped with the package, one directory per assignment.
EXAMPLES = Path(__file__).resolve().parent / "examples"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION",
                    "=== BEGIN SOLUTION ===", "=== END SOLUTION ===")


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def filled_in(source: str) -> str:
    """A solution cell of the source notebook as a learner who solved it would leave it."""
    lines = [line for line in source.splitlines()
             if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(lines)


def example_assignments() -> dict[str, Path]:
    """{name: source directory} of the example assignments in ``examples/assignments/``."""
    base = EXAMPLES / "assignments"
    return {p.name: p for p in sorted(base.iterdir()) if (p / f"{p.name}.ipynb").is_file()}


def mistakes_dir(assignment: str) -> Path | None:
    """Where the typical mistakes of ``assignment`` live, if it has any."""
    directory = EXAMPLES / assignment
    return directory if directory.is_dir() and any(directory.glob("*.*")) else None


def load_mistakes(assignment: str) -> dict[str, str]:
    """{solution grade id: replacement cell source} for ``assignment``."""
    directory = mistakes_dir(assignment)
    if directory is None:
        return {}
    return {p.stem: p.read_text().rstrip("\n") for p in sorted(directory.iterdir())
            if p.suffix in (".py", ".md")}


def build(course: Course, assignment: str, kind: str) -> nbformat.NotebookNode:
    """The example submission ``kind`` (complete, blank, mistakes) of ``assignment``.

    ``release/ASSIGNMENT`` must exist (``Course.generate``).
    """
    release = read_notebook(course.notebook(assignment, released=True))
    if kind == "blank":
        return release
    source = {grade_id(c): c for c in read_notebook(course.notebook(assignment)).cells
              if is_solution(c)}
    replacements = {gid: filled_in(cell.source) for gid, cell in source.items()}
    if kind == "mistakes":
        mistakes = load_mistakes(assignment)
        unknown = sorted(set(mistakes) - set(source))
        if unknown:
            raise ValueError(
                f"mistakes for {assignment} name solution cells that do not exist: "
                f"{', '.join(unknown)}; rename the files after a grade id in source/."
            )
        replacements.update(mistakes)
    elif kind != "complete":
        raise ValueError(f"unknown example submission {kind!r}; use complete, blank or mistakes.")
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if is_solution(cell) and grade_id(cell) in replacements:
            cell.source = replacements[grade_id(cell)]
    return nb


def kinds(assignment: str) -> list[str]:
    """The example submissions available for ``assignment``."""
    return ["complete", "blank"] + (["mistakes"] if load_mistakes(assignment) else [])


def submit(course: Course, student: str, assignment: str,
           nb: nbformat.NotebookNode | str | os.PathLike) -> Path:
    """Place a notebook at ``submitted/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb``.

    ``nb`` is a notebook, or a path to a file copied as is (even one that is not JSON).
    """
    target_dir = course.submitted(student, assignment)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{assignment}.ipynb"
    if isinstance(nb, (str, os.PathLike)):
        target.write_bytes(Path(nb).read_bytes())
    else:
        nbformat.write(nb, str(target))
    return target
