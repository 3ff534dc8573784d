"""The journal of a grading run, so that a run killed half-way resumes instead of restarting.

``grade`` keeps ``reports/ASSIGNMENT_grading.jsonl`` while it runs: a first line with the
run's students, then one line per submission *after* its grade is in the gradebook (its
result, and a digest of the submitted files). A run that ends removes the file. A run
that starts with the same students finds it and keeps what the killed run graded, except
a submission whose files changed since; any other run starts afresh. A submission graded
but not yet journalled when the run died is simply graded again: grading is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


def path(course, assignment: str) -> Path:
    return course.root / "reports" / f"{assignment}_grading.jsonl"


def digest(folder: Path) -> str:
    """A digest of a submission's files (names, links and bytes)."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            h.update(str(p.relative_to(folder)).encode() + b"\0")
            if p.is_symlink():
                h.update(b"link:" + os.readlink(p).encode())
            elif p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()


def encode(result: dict) -> dict:
    """A grading result (``grading.autograde_one``'s dict) as JSON: its report as a dict,
    without the files and rows a cluster task carries."""
    from autograder.verify import batch

    out = {k: v for k, v in result.items() if k not in ("autograded", "rows", "verify")}
    out["verify"] = None if result.get("verify") is None else batch.as_json(result["verify"])
    return out


def decode(entry: dict) -> dict:
    from autograder.verify.replay import CellVerdict, SubmissionReport

    result = dict(entry)
    report = entry.get("verify")
    if report is not None:
        fields = {k: v for k, v in report.items() if k not in ("flagged", "cells")}
        result["verify"] = SubmissionReport(
            **fields, cells=[CellVerdict(**c) for c in report["cells"]])
    return result


@dataclass
class Journal:
    """One run's journal. ``kept``: {student: (result, seconds)} a killed run graded."""

    file: Path
    students: list[str]
    kept: dict[str, tuple[dict, float]] = field(default_factory=dict)

    @classmethod
    def start(cls, course, assignment: str, students: list[str]) -> Journal:
        """Resume the journal of a killed run of the same students, else begin a new one."""
        file = path(course, assignment)
        kept = {}
        try:
            lines = [json.loads(line) for line in file.read_text().splitlines() if line]
        except (OSError, ValueError):
            lines = []
        if lines and lines[0].get("students") == sorted(students):
            for entry in lines[1:]:
                student = entry.get("student")
                if student in students and entry.get("digest") == digest(
                        course.submitted(student, assignment)):
                    kept[student] = (decode(entry["result"]), entry["seconds"])
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps({"students": sorted(students)}) + "\n")
        return cls(file, students, kept)

    def todo(self) -> list[str]:
        return [s for s in self.students if s not in self.kept]

    def write(self, course, assignment: str, student: str, result: dict,
              seconds: float) -> None:
        """Journal one submission whose grade is in the gradebook (flushed to disk)."""
        line = {"student": student, "seconds": seconds, "result": encode(result),
                "digest": digest(course.submitted(student, assignment))}
        with open(self.file, "a") as handle:
            handle.write(json.dumps(line, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def end(self) -> None:
        self.file.unlink(missing_ok=True)
