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
from autograder.pass_rates import exercise_of_tests
from autograder.release import STUB
from course_utils.progress import first_line

STUDENT = "me"


@dataclass
class Exercise:
    """One exercise's autograded tests: points earned and, per failed test, the reason."""

    name: str
    earned: float
    possible: float
    failures: list[tuple[str, str]]  # (test grade id, the check's first line, shortened)

    @property
    def passes(self) -> bool:
        return self.earned >= self.possible


@dataclass
class SelfGrade:
    assignment: str
    score: float
    max_score: float
    exercises: list[Exercise]
    answered: list[str]  # written answers awaiting a person: "name (N points)"
    unanswered: list[str]  # written answers left as handed out
    feedback: Path | None

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """(exercise, points, passes / how many tests failed) per exercise."""
        return [(e.name, f"{e.earned:g} / {e.possible:g}",
                 "passes" if e.passes else f"{len(e.failures)} of its tests failed")
                for e in self.exercises]


#: How much of a check's message a row shows (its first line says what is wrong).
REASON_CHARS = 110


def failure_reasons(autograded: Path) -> dict[str, str]:
    """{test grade id: why it failed}, from the outputs of the graded notebook: the first
    line of the error (the check's own words), or of what reached stderr."""
    import nbformat

    reasons = {}
    for path in sorted(autograded.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if not gid or cell.cell_type != "code":
                continue
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    text = f"{out.get('evalue') or out.get('ename', '')}"
                elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                    text = f"wrote to stderr: {out.get('text', '')}"
                else:
                    continue
                reasons[gid] = first_line(text, REASON_CHARS)
                break
    return reasons


def unanswered_ids(submitted: Path, release: Path) -> set[str]:
    """Grade ids of written answers whose text is still what the release handed out."""
    import nbformat

    def answers(path: Path) -> dict[str, str]:
        cells = nbformat.read(path, as_version=4).cells
        return {c.metadata["nbgrader"]["grade_id"]: c.source.strip() for c in cells
                if c.cell_type == "markdown" and c.get("metadata", {}).get("nbgrader", {})
                .get("solution")}

    handed_out = answers(release)
    return {gid for gid, text in answers(submitted).items()
            if not text or text == handed_out.get(gid, "") or text.startswith(STUB)}


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
    reasons = failure_reasons(scratch.autograded(STUDENT, assignment))
    blank = unanswered_ids(notebook, scratch.notebook(assignment, released=True))
    exercises: dict[str, Exercise] = {}
    answered, unanswered = [], []
    with scratch.gradebook() as gb:
        sub = gb.find_submission(assignment, STUDENT)
        for nb in sub.notebooks:
            for g in nb.grades:
                if g.cell.cell_type == "code":
                    name = owners.get(g.name, g.name)
                    ex = exercises.setdefault(name, Exercise(name, 0.0, 0.0, []))
                    ex.earned += g.score or 0.0
                    ex.possible += g.max_score
                    if (g.score or 0.0) < g.max_score:
                        ex.failures.append((g.name, reasons.get(g.name, "failed")))
                else:
                    text = f"{g.name} ({g.max_score:g} points)"
                    (unanswered if g.name in blank else answered).append(text)
        return SelfGrade(assignment, sub.score, sub.max_score, list(exercises.values()),
                         answered, unanswered, html)


def render(result: SelfGrade) -> str:
    """One row per exercise (points, what failed and why), the written answers, the total."""
    lines = [f"Self-grading of {result.assignment} (hidden tests included):", ""]
    table = format_table([("exercise", "points", ""), *result.rows]).splitlines()
    lines += table[:2]
    for row, exercise in zip(table[2:], result.exercises, strict=True):
        lines.append(row)
        lines += [f"    {test}: {why}" for test, why in exercise.failures]
    lines.append("")
    passing = sum(e.passes for e in result.exercises)
    lines.append(f"{passing} of {len(result.exercises)} exercises pass.")
    if result.answered:
        lines.append("Written answers, awaiting a person: " + ", ".join(result.answered) + ".")
    if result.unanswered:
        lines.append("Not answered yet: " + ", ".join(result.unanswered) + ".")
    earned = sum(e.earned for e in result.exercises)
    possible = sum(e.possible for e in result.exercises)
    where = f" Feedback (open in a browser): {result.feedback}" if result.feedback else ""
    lines.append(f"Total: {earned:g} / {possible:g} autograded points.{where}")
    return "\n".join(lines)
