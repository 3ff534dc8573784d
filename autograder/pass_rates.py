"""Pass rates per exercise across the class: which exercises the class struggles with.

An *exercise* is a graded function: every autograded test cell belongs to the solution cell
above it (grade id ``<function>_solution``), so ``sigmoid_values`` and ``sigmoid_edges``
both count towards ``sigmoid``. A test passes for a student when it earned full points.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course
from autograder.grading import format_table
from course_utils.progress import read_tests


@dataclass
class TestRate:
    exercise: str
    test: str
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def exercise_of_tests(notebook: str | os.PathLike) -> dict[str, str]:
    """{test grade id: exercise} in notebook order, from the source notebook (a test belongs
    to the solution cell above it: ``course_utils.progress.read_tests``)."""
    return {gid: exercise for exercise, gid, _, _ in read_tests(notebook)}


def measure(course: Course, assignment: str) -> list[TestRate]:
    """Per autograded test cell: how many graded submissions earned its full points."""
    owners = exercise_of_tests(course.notebook(assignment))
    counts = {gid: [0, 0] for gid in owners}
    with course.gradebook() as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name not in counts or grade.auto_score is None:
                        continue
                    counts[grade.name][1] += 1
                    counts[grade.name][0] += grade.auto_score >= grade.max_score
    return [TestRate(owners[gid], gid, *counts[gid]) for gid in owners]


def by_exercise(rates: list[TestRate]) -> list[TestRate]:
    """Tests pooled per exercise (passed and graded summed over its test cells)."""
    pooled: dict[str, TestRate] = {}
    for r in rates:
        entry = pooled.setdefault(r.exercise, TestRate(r.exercise, r.exercise, 0, 0))
        entry.passed += r.passed
        entry.graded += r.graded
    return list(pooled.values())


def table(rates: list[TestRate], per_test: bool = True) -> str:
    """The pass rates as a text table (``per_test=False`` for pooled exercises)."""
    rows = [("exercise", "test", "passed", "pass rate")]
    for r in rates:
        rows.append((r.exercise, r.test, f"{r.passed}/{r.graded}", f"{r.rate:.0%}"))
    if not per_test:
        rows = [(row[0], *row[2:]) for row in rows]
        rows[0] = ("exercise", "tests passed", "pass rate")
    return format_table(rows)


def chart(rates: list[TestRate], path: str | os.PathLike, title: str) -> Path:
    """A horizontal bar chart of the pass rate of every test, worst first, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(rates, key=lambda r: (r.rate, r.test))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(ordered) + 1.5))
    colors = ["#c0392b" if r.rate < 0.5 else "#e67e22" if r.rate < 0.8 else "#27ae60"
              for r in ordered]
    ax.barh([r.test for r in ordered], [100 * r.rate for r in ordered], color=colors)
    ax.set_xlim(0, 100)
    ax.margins(y=0.01)
    ax.set_xlabel("submissions passing (%)")
    ax.set_ylabel("test cell")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
