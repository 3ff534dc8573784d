"""The journal of a grading run (autograder.journal): what a killed run graded is kept by the
next run of the same students, unless the submission changed since. Also what a cluster task
carries (autograder.cluster): folders as data, and the assignment's gradebook rows."""

from __future__ import annotations

from types import SimpleNamespace

from autograder import cluster, journal
from autograder.verify.replay import CellVerdict, SubmissionReport

A = "00_example"


def _course(tmp_path, students):
    root = tmp_path / "course"
    for student in students:
        folder = root / "submitted" / student / A
        folder.mkdir(parents=True)
        (folder / f"{A}.ipynb").write_text(f"{{\"student\": \"{student}\"}}")
    return SimpleNamespace(root=root, submitted=lambda s, a: root / "submitted" / s / a)


def _result(student: str) -> dict:
    report = SubmissionReport(student, A, cells=[CellVerdict("sigmoid_values", "fail", "why",
                                                             2.0, 2.0, True)])
    return {"ok": True, "error": "", "notes": [{"kind": "verify", "message": "m"}],
            "zero_recorded": False, "verify": report, "autograded": [], "rows": {}}


def test_a_killed_run_is_resumed(tmp_path):
    students = ["ann", "bob", "cid"]
    course = _course(tmp_path, students)
    run = journal.Journal.start(course, A, students)
    assert run.todo() == students
    run.write(course, A, "ann", _result("ann"), 1.5)
    # killed here: the next run of the same students keeps ann
    again = journal.Journal.start(course, A, list(reversed(students)))
    assert again.todo() == ["cid", "bob"]
    result, seconds = again.kept["ann"]
    assert seconds == 1.5 and "autograded" not in result and "rows" not in result
    assert result["verify"] == _result("ann")["verify"]
    again.end()
    assert not journal.path(course, A).exists()
    assert journal.Journal.start(course, A, students).todo() == students


def test_a_changed_submission_or_other_students_start_afresh(tmp_path):
    students = ["ann", "bob"]
    course = _course(tmp_path, students)
    run = journal.Journal.start(course, A, students)
    run.write(course, A, "ann", _result("ann"), 1.0)
    run.write(course, A, "bob", _result("bob"), 1.0)
    (course.submitted("ann", A) / f"{A}.ipynb").write_text("{}")  # submitted again
    assert journal.Journal.start(course, A, students).todo() == ["ann"]
    assert journal.Journal.start(course, A, ["bob"]).todo() == ["bob"]  # another run


def test_pack_and_unpack_keep_files_folders_and_links(tmp_path):
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data" / "x.csv").write_bytes(b"1,2\n")
    (src / "empty").mkdir()
    (src / "link.ipynb").symlink_to("/etc/passwd")
    entries = cluster.pack(src)
    cluster.unpack(entries, tmp_path / "dst")
    assert (tmp_path / "dst" / "data" / "x.csv").read_bytes() == b"1,2\n"
    assert (tmp_path / "dst" / "empty").is_dir()
    assert (tmp_path / "dst" / "link.ipynb").is_symlink()
    assert cluster.pack(tmp_path / "missing") is None
    cluster.unpack(None, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_unpack_refuses_paths_outside_the_folder(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="outside the folder"):
        cluster.unpack([("../escape.txt", "file", b"x")], tmp_path / "dst")
    assert not (tmp_path / "escape.txt").exists()


def test_a_worker_gets_the_coordinators_assignment_rows(tmp_path):
    """The bundle's gradebook rows rebuild the assignment exactly (due date, notebooks,
    cells with their checksums), so a worker need not generate it again."""
    import datetime

    from examples import example_course

    from autograder.course import CONFIG_FILE, Course, sqlite_url

    here = example_course(tmp_path / "coordinator")
    assignment = next(p.name for p in here.source.iterdir())
    here.generate(assignment)
    with here.gradebook() as gb:
        gb.update_or_create_assignment(assignment, duedate=datetime.datetime(2026, 12, 1, 9))
    rows = cluster.read_assignment(here, assignment)
    assert rows["notebooks"] and all(nb["source_cells"] for nb in rows["notebooks"].values())
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / CONFIG_FILE).write_bytes((here.root / CONFIG_FILE).read_bytes())
    worker = Course(tmp_path / "worker", db_url=sqlite_url(tmp_path / "worker.db"))
    cluster.write_assignment(worker, assignment, rows)
    assert cluster.read_assignment(worker, assignment) == rows
