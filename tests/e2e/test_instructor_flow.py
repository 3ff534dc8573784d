"""An instructor grades 02_activation_units in nbgrader's formgrader, inside JupyterLab.

The course is graded by the pipeline first (``python -m autograder demo`` in a temporary
course directory: release built, three example submissions autograded, feedback written),
then JupyterLab is started there with the installed (instructor) configuration. In a real
browser the instructor opens the formgrader from the Nbgrader menu, sees the assignment and
its submissions, opens one, and enters a manual grade for a written answer; the grade is
then read back from the gradebook with nbgrader's API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("playwright.sync_api",
                    reason="playwright is not installed: pip install -e '.[test]'.")

from labserver import REPO, start_lab, stop_lab  # noqa: E402
from labui import menu, menu_labels  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.e2e

ASSIGNMENT = "02_activation_units"
STUDENT = "complete"  # the demo's complete submission: its written answers await a grader
ANSWER = "relu_kink_answer"


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A temporary course directory graded by the pipeline (the instructor demo)."""
    root = tmp_path_factory.mktemp("instructor") / "course"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVATION_UNITS_")}
    done = subprocess.run([sys.executable, "-m", "autograder", "demo", "--workdir", str(root),
                           "--assignment", "02_activation_units"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # nbgrader's exchange (release/collect) is not used here; an existing one keeps the
    # formgrader from warning about it.
    (root / "exchange").mkdir(exist_ok=True)
    os.chmod(root / "exchange", 0o1777)
    return root


@pytest.fixture(scope="module")
def instructor_lab(graded_course, tmp_path_factory):
    lab, proc = start_lab(graded_course, tmp_path_factory.mktemp("instructor_home"),
                          student=False)
    yield lab
    stop_lab(proc)


def gradebook_grade(course, grade_id: str, student: str):
    """(manual score, needs manual grade, notebook score) read through nbgrader's API."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, student)
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return grade.manual_score, grade.needs_manual_grade, notebook.score


def test_formgrader_lists_opens_and_records_a_manual_grade(page, instructor_lab,
                                                           graded_course, shots):
    manual_before, needs_before, score_before = gradebook_grade(graded_course, ANSWER, STUDENT)
    assert manual_before is None and needs_before

    page.goto(instructor_lab.lab_url())
    page.locator(".jp-DirListing-item").first.wait_for()
    # Instructors do get the tools the student configuration removes.
    labels = menu_labels(page, "Nbgrader")
    assert "Formgrader" in labels, labels
    assert page.locator(".jp-SideBar .lm-TabBar-tab[title*='Create Assignment']").count() == 1

    menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("iframe").first

    # Manage Assignments: the assignment, with its three graded submissions.
    row = frame.locator("tr", has_text=ASSIGNMENT)
    expect(row).to_be_visible()
    submissions_link = row.locator(f"a[href$='/manage_submissions/{ASSIGNMENT}']")
    expect(submissions_link).to_have_text("3")
    shots(page, "instructor_01_formgrader_assignments")

    # Manage Submissions: every student, autograded, two waiting for manual grading.
    submissions_link.click()
    table = frame.locator("table")
    for student in ("blank", "complete", "mistakes"):
        expect(table.locator("tr", has_text=student)).to_be_visible()
    expect(table.locator("tr", has_text=STUDENT)).to_contain_text("needs manual grading")
    expect(table.locator("tr", has_text=STUDENT)).to_contain_text("45 / 51")
    shots(page, "instructor_02_formgrader_submissions", keep=True)

    # Manual Grading -> the notebook -> the student's submission.
    frame.locator("a", has_text=re.compile("^Manual Grading$")).first.click()
    frame.locator(f"a[href$='/gradebook/{ASSIGNMENT}']").click()
    frame.locator(f"a[href$='/gradebook/{ASSIGNMENT}/{ASSIGNMENT}']").click()
    submission = frame.locator("tr", has=frame.locator("a", has_text=re.compile(f"^{STUDENT}$")))
    expect(submission).to_have_count(1)
    frame.get_by_role("button", name="Show All Names").click()  # anonymous by default
    expect(submission.locator("a", has_text=re.compile(f"^{STUDENT}$"))).to_be_visible()
    expect(submission).to_contain_text("45 / 51")
    shots(page, "instructor_03_formgrader_manual_grading_list")
    submission.locator("a", has_text=re.compile(f"^{STUDENT}$")).click()

    # The formgrade view: enter 2 of 3 points for the written answer.
    score = frame.locator(f"input.score#{ANSWER}")
    expect(score).to_be_visible()
    score.scroll_into_view_if_needed()
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                              and r.request.method == "PUT") as saved:
        score.fill("2")
        score.press("Tab")  # leaving the field saves it
    assert saved.value.ok
    shots(page, "instructor_04_formgrader_manual_grade", keep=True)

    manual, needs, total = gradebook_grade(graded_course, ANSWER, STUDENT)
    assert manual == 2.0
    assert not needs
    assert total == score_before + 2.0
