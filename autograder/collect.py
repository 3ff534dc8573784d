"""Collecting submissions into ``submitted/``: from nbgrader's exchange, or an LMS zip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from autograder.course import Course


def from_exchange(course: Course, assignment: str) -> list[str]:
    """``nbgrader collect ASSIGNMENT``; the students now in ``submitted/``."""
    result = course.api().collect(assignment, update=True)
    if result is None or not result["success"]:
        log = (result or {}).get("error") or (result or {}).get("log", "")
        raise RuntimeError(
            f"nbgrader could not collect {assignment} from the exchange "
            f"({course.config.Exchange.root}): {log.strip().splitlines()[-1:] or 'no log'}. "
            "Check ACTIVATION_UNITS_EXCHANGE, or collect an LMS download with --zip."
        )
    return course.students(assignment)


def from_zip(course: Course, assignment: str, archives: list[str | os.PathLike],
             regexp: str | None = None) -> list[str]:
    """``nbgrader zip_collect``: copy ``archives`` to ``downloaded/ASSIGNMENT/archive/``,
    extract them and file each notebook under ``submitted/<student>/ASSIGNMENT/``.

    File names are matched with ``FileNameCollectorPlugin.named_regexp`` (see
    ``nbgrader_config.py``), or ``regexp``. Returns the students collected.
    """
    from nbgrader.apps.zipcollectapp import ZipCollectApp
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    archive_dir = course.root / "downloaded" / assignment / "archive"
    archive_dir.mkdir(parents=True, exist_ok=True)
    for archive in archives:
        archive = Path(archive)
        if not archive.is_file():
            raise FileNotFoundError(f"there is no file {archive}; pass the LMS download (.zip).")
        shutil.copy(archive, archive_dir / archive.name)
    config = course.config.copy()
    config.CourseDirectory.assignment_id = assignment
    config.ZipCollectApp.force = True
    if regexp:
        config.FileNameCollectorPlugin.named_regexp = regexp
    before = set(course.students(assignment))
    app = ZipCollectApp(config=config)
    app.coursedir = CourseDirectory(parent=app)
    result = capture_log(app)
    if not result["success"]:
        raise RuntimeError(
            f"nbgrader could not collect {assignment} from {archive_dir}: "
            f"{(result.get('error') or '').strip().splitlines()[-1:]}"
        )
    after = set(course.students(assignment))
    if not after:
        raise RuntimeError(
            f"no notebook in {archive_dir} matched the file-name pattern "
            f"{config.FileNameCollectorPlugin.named_regexp!r}; pass --regexp with named "
            "groups student_id and file_id."
        )
    return sorted(after | before)
