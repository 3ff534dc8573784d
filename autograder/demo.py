"""The demo: the whole instructor pipeline on bundled example submissions.

In a scratch course (default ``.demo/`` in the course root, recreated each run, its own
SQLite gradebook): build the release of the demo assignment, autograde three example
submissions (complete, blank, with typical mistakes), write their feedback, then print the
grade table and the pass-rate report.

The demo assignments are ``02_activation_units`` (the note's units) and
``05_beyond_the_note`` (GELU, ELU, SELU); in a course without them, every assignment in
``source/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from autograder import pass_rates, submissions
from autograder.course import Course, make_scratch
from autograder.grading import feedback, format_table, grade

MAIN_ASSIGNMENTS = ("02_activation_units", "05_beyond_the_note")


def demo_assignments(course: Course, everything: bool = False,
                     only: list[str] | None = None) -> dict[str, Path]:
    """{name: source directory} of the assignments the demo grades (``only``: these)."""
    real = course.assignments()
    if only:
        unknown = sorted(set(only) - set(real))
        if unknown:
            raise ValueError(f"no assignment {', '.join(unknown)} in {course.source}; there "
                             f"are {', '.join(real)}.")
        real = [a for a in real if a in only]
    elif not everything and any(a in real for a in MAIN_ASSIGNMENTS):
        real = [a for a in MAIN_ASSIGNMENTS if a in real]
    return {name: course.source / name for name in real}


def run(course: Course, workdir: str | os.PathLike | None = None, workers: int = 2,
        everything: bool = False, say=print, only: list[str] | None = None) -> int:
    """Run the demo; return the number of submissions that could not be graded."""
    t0 = time.perf_counter()
    chosen = demo_assignments(course, everything, only)
    if not chosen:
        raise RuntimeError(f"there is no assignment to demonstrate: {course.source} holds "
                           "no assignment.")
    scratch = make_scratch(workdir or course.root / ".demo", chosen)
    say(f"Demo course directory: {scratch.root} (recreated on every run; its gradebook is "
        f"{scratch.db_url}).")
    failures = 0
    outcomes = []
    for assignment in chosen:
        say(f"\n== {assignment}: building the release ...")
        scratch.generate(assignment)
        for kind in submissions.kinds(assignment):
            submissions.submit(scratch, kind, assignment,
                               submissions.build(scratch, assignment, kind))
        say(f"== {assignment}: autograding {', '.join(submissions.kinds(assignment))} ...")
        graded = grade(scratch, assignment, workers=workers)
        failures += sum(not o.success for o in graded)
        outcomes += graded
        written = feedback(scratch, assignment)
        say(f"== {assignment}: feedback written under {scratch.root / 'feedback'}")
        for student, html in written.items():
            say(f"   {student}: {html}")
    say("\nGrades (from the gradebook):\n")
    say(grade_table(outcomes))
    for assignment in chosen:
        rates = pass_rates.measure(scratch, assignment)
        png = pass_rates.chart(rates, scratch.root / "reports" / f"{assignment}_pass_rates.png",
                           f"{assignment}: tests passed across the class")
        say(f"\nPass rates per exercise, {assignment} (per test cell: {png}):\n")
        say(pass_rates.table(pass_rates.by_exercise(rates), per_test=False))
    say(f"\nDemo finished in {time.perf_counter() - t0:.0f} s.")
    say("Next:")
    say("  ./course.sh lab                 open the student notebooks (release/) in JupyterLab")
    say(f"  cd {scratch.root} && {_jupyter()} lab")
    say("                                  browse the demo's gradebook in nbgrader's formgrader")
    say("  ./course.sh grade NOTEBOOK      self-grade a notebook you worked on")
    return failures


def grade_table(outcomes) -> str:
    rows = [("submission", "assignment", "score", "status", "tests failed")]
    for o in outcomes:
        if not o.success:
            rows.append((o.student, o.assignment, "-", "NOT GRADED", o.error))
            continue
        status = "needs manual grading" if o.needs_manual_grade else "final"
        rows.append((o.student, o.assignment, f"{o.score:g} / {o.max_score:g}", status,
                     _failed(o)))
    return format_table(rows)


def _failed(outcome, shown: int = 4) -> str:
    names = outcome.failed_tests
    if not names:
        return "-"
    if len(names) == outcome.n_tests:
        return f"all {len(names)}"
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _jupyter() -> str:
    import sys

    return str(Path(sys.executable).parent / "jupyter")
