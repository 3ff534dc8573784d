"""Self-grading: grade one notebook a learner worked on, hidden tests included.

The notebook is graded in a scratch course (default ``.selfgrade/`` in the course root,
recreated each time, with its own SQLite gradebook), never in the course's gradebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autograder import submissions
from autograder.course import Course, make_scratch
from autograder.grading import format_table, grade
from autograder.report import exercise_of_tests

STUDENT = "me"


@dataclass
class SelfGrade:
    assignment: str
    score: float
    max_score: float
    rows: list[tuple[str, str, str]]  # (exercise, test, score text)
    manual: list[str]  # written answers awaiting a human
    feedback: Path


def guess_assignment(course: Course, notebook: Path) -> str:
    """The assignment a notebook belongs to: by file name, else by its directory's name."""
    known = set(course.assignments())
    for name in (notebook.stem, notebook.parent.name):
        if name in known:
            return name
    raise ValueError(
        f"cannot tell which assignment {notebook.name} belongs to: neither its name nor its "
        f"folder is one of {', '.join(sorted(known)) or 'the (none) in source/'}. "
        "Pass --assignment NAME."
    )


def _locate(notebook: Path) -> Path:
    """``notebook`` as given, or relative to the directory ``course.sh`` was started from
    (it changes into the repository first; bash leaves the old directory in OLDPWD)."""
    if notebook.is_absolute() or notebook.exists() or not os.environ.get("OLDPWD"):
        return notebook.resolve()
    candidate = Path(os.environ["OLDPWD"]) / notebook
    return (candidate if candidate.exists() else notebook).resolve()


def selfgrade(notebook: str | os.PathLike, course: Course, assignment: str | None = None,
              workdir: str | os.PathLike | None = None) -> SelfGrade:
    notebook = _locate(Path(notebook))
    if not notebook.is_file():
        raise FileNotFoundError(f"there is no notebook at {notebook}; check the path.")
    assignment = assignment or guess_assignment(course, notebook)
    if assignment not in course.assignments():
        raise ValueError(f"{assignment} is not an assignment of this course "
                         f"(source/ has: {', '.join(course.assignments())}).")
    scratch = make_scratch(workdir or course.root / ".selfgrade",
                           {assignment: course.source / assignment})
    scratch.generate(assignment)
    submissions.submit(scratch, STUDENT, assignment, notebook)
    # No re-check (autograder.verify): it guards an instructor's gradebook against tampered
    # submissions, and here the only person such code could fool is the one running it.
    outcome = grade(scratch, assignment, [STUDENT], workers=1, progress=False, verify=False)[0]
    if not outcome.success:
        raise RuntimeError(f"{notebook.name} could not be graded: {outcome.error}.")
    html = scratch.feedback_html(STUDENT, assignment)
    result = scratch.api().generate_feedback(assignment, STUDENT, force=True)
    if not result["success"]:
        html = None
    owners = exercise_of_tests(scratch.notebook(assignment))
    rows, manual = [], []
    with scratch.gradebook() as gb:
        sub = gb.find_submission(assignment, STUDENT)
        for nb in sub.notebooks:
            for g in nb.grades:
                if g.cell.cell_type == "code":
                    rows.append((owners.get(g.name, g.name), g.name,
                                 f"{g.score:g} / {g.max_score:g}"))
                elif g.needs_manual_grade:
                    manual.append(f"{g.name} ({g.max_score:g} points)")
        return SelfGrade(assignment, sub.score, sub.max_score, rows, manual, html)


def render(result: SelfGrade) -> str:
    lines = [f"Self-grading of {result.assignment} (hidden tests included):", ""]
    lines.append(format_table([("exercise", "test", "score"), *result.rows]))
    lines.append("")
    autograded = sum(float(r[2].split(" / ")[1]) for r in result.rows)
    earned = sum(float(r[2].split(" / ")[0]) for r in result.rows)
    lines.append(f"Autograded tests: {earned:g} / {autograded:g} points.")
    if result.manual:
        lines.append("Written answers are graded by a person: " + ", ".join(result.manual) + ".")
    if result.feedback:
        lines.append(f"Feedback (open in a browser): {result.feedback}")
    return "\n".join(lines)
