"""A class on a real JupyterHub, in a real browser: deploy/jupyterhub/jupyterhub_config.py
as a small-class deployment runs it (PAM logins, each server as its own Unix user, the
formgrader as a hub service run by the grader account, a PostgreSQL gradebook).

The steps run in order and share one hub (see hubserver.py for what it needs; without root,
configurable-http-proxy or PostgreSQL the module is skipped with the reason):

1. a student logs in, fetches 02 from the Assignments panel, solves sigmoid, answers a
   written question, validates, submits;
2. a second student submits a notebook that kills its kernel (from a terminal: the CLI);
3. neither student reaches the formgrader, another's server, the course directory, the
   exchange's inbox or the gradebook;
4. the instructor collects in the formgrader, the grader grades (``python -m autograder
   grade``: sandboxed, re-checked), the instructor grades a written answer by hand
   (formulas typeset by the offline MathJax), generates and releases feedback;
5. the student fetches the feedback: the scores, no hidden test, no mark scheme.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api",
                    reason="playwright is not installed: pip install -e '.[test]'.")

import hubserver  # noqa: E402
from hubserver import INSTRUCTOR, STUDENTS, as_user  # noqa: E402
from labui import cell, errors, menu, run_cell, set_source, wait_kernel_idle  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(hubserver.skip_reason() is not None,
                                 reason=hubserver.skip_reason() or "")]

ASSIGNMENT = "02_activation_units"
SERVICE = "services/activation-units"
ANSWER = "relu_kink_answer"
SIGMOID = '''def sigmoid(z):
    z = as_float(z)
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)), dtype=z.dtype)
'''
WRITTEN = ("ReLU has no derivative at 0; any value in [0, 1] is a subgradient, and the "
           "choice rarely matters because z is exactly 0 with probability 0.")
SPAWN_MS = 120_000


@pytest.fixture(scope="module")
def hub():
    made = hubserver.make_class(os.environ["ACTIVATION_UNITS_TEST_PG_URL"])
    try:
        yield hubserver.start_hub(made)
    finally:
        hubserver.stop(made)


def log_in(browser, hub, name: str):
    """A fresh browser context logged in as ``name``; its page, on the user's JupyterLab."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(hub.passwords[name])
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(rf"/user/{name}/lab"), timeout=SPAWN_MS)
    page.locator(".jp-DirListing-item, .jp-DirListing-content").first.wait_for(timeout=SPAWN_MS)
    return page


def assignment_rows(page, which: str, count: int):
    """The rows of one list of nbgrader's Assignments panel (released, fetched, submitted)."""
    rows = page.locator(f"#{which}_assignments_list > .list_item")
    expect(rows).to_have_count(count, timeout=60_000)
    return rows


@pytest.fixture(scope="module")
def student(browser, hub):
    page = log_in(browser, hub, STUDENTS[0])
    yield page
    page.context.close()


def test_student_fetches_solves_and_submits(student, hub, shots):
    page = student
    menu(page, "Nbgrader", "Assignment List")
    released = assignment_rows(page, "released", 1)
    expect(released.locator(".item_name")).to_have_text(ASSIGNMENT)
    expect(released.locator(".item_course")).to_have_text("activation-units")
    shots(page, "hub_01_student_assignments", keep=True)
    released.locator(".item_status button").click()

    fetched = assignment_rows(page, "fetched", 1)
    fetched.locator("a", has_text=ASSIGNMENT).first.click()
    fetched.locator(".list_item .item_name a", has_text=ASSIGNMENT).click()
    wait_kernel_idle(page)
    exercise = cell(page, "def sigmoid(z):")
    set_source(page, exercise, SIGMOID)
    run_cell(page, cell(page, "import numpy as np"))
    run_cell(page, exercise)
    test = cell(page, "# sigmoid: values on a grid")
    run_cell(page, test)
    assert errors(test) == "", errors(test)
    expect(test.locator(".jp-OutputArea-output")).to_contain_text("✓ sigmoid:")
    # The first written answer (relu_kink_answer), typed into its markdown cell.
    answer = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell",
                          has_text="YOUR ANSWER HERE").first
    answer.scroll_into_view_if_needed()
    answer.dblclick()
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRITTEN)
    page.keyboard.press("Control+Enter")  # render it
    expect(page.locator(".jp-MarkdownCell", has_text=WRITTEN[:40])).to_have_count(1)
    page.keyboard.press("Control+s")
    expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty")).to_have_count(0)

    # Validate: the unfinished exercises are listed, the solved one is not.
    page.locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_have_count(1, timeout=120_000)
    if "has changed on disk" in dialog.inner_text():
        # Validate saves first; on a loaded machine JupyterLab can see the file's time move
        # after our save and ask. The version open here is the one to keep.
        dialog.get_by_role("button", name="Overwrite").click()
    expect(dialog).to_contain_text("The following cell failed:", timeout=120_000)
    assert 'check_values(sigmoid, "sigmoid")' not in dialog.inner_text()
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)

    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    fetched = assignment_rows(page, "fetched", 1)
    fetched.locator('.item_status button:text("Submit")').click()
    submitted = assignment_rows(page, "submitted", 1)
    expect(submitted.locator(".item_name").first).to_have_text(ASSIGNMENT)
    shots(page, "hub_02_student_submitted")


def test_a_second_student_submits_a_notebook_that_kills_its_kernel(hub):
    name = STUDENTS[1]
    env = {"JUPYTER_CONFIG_PATH": str(hubserver.DEPLOY / "jupyter"),
           "ACTIVATION_UNITS_EXCHANGE": str(hub.exchange)}
    done = as_user(name, sys.executable, "-m", "nbgrader", "fetch_assignment", ASSIGNMENT,
                   env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    notebook = Path(hub.base / "home" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    nb = json.loads(notebook.read_text())
    for c in nb["cells"]:
        if "def sigmoid(z):" in "".join(c["source"]):
            c["source"] = "import os\nos._exit(3)\n"
    notebook.write_text(json.dumps(nb))  # the student's file, rewritten in place
    done = as_user(name, sys.executable, "-m", "nbgrader", "submit", ASSIGNMENT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_students_reach_nothing_that_is_not_theirs(student, hub):
    page = student
    # The formgrader service: the hub refuses the student (no access:services scope).
    response = page.goto(f"{hub.url}/{SERVICE}/formgrader")
    assert response.status == 403, (response.status, page.url)
    # Another student's server.
    response = page.goto(f"{hub.url}/user/{STUDENTS[1]}/lab")
    assert response.status in (403, 404), (response.status, page.url)
    assert "/lab" not in page.url or response.status != 200
    # The file system: the course (the grader's, 700), the exchange's inbox (write-only).
    for command in (["ls", str(hub.course)], ["cat", str(hub.course / "nbgrader_config.py")],
                    ["ls", str(hub.exchange / "activation-units" / "inbound")]):
        done = as_user(STUDENTS[0], *command)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (command, done)
    # The gradebook: its URL is not in the student's server, and the server asks for it.
    pids = [p for p in os.listdir("/proc") if p.isdigit()
            and Path(f"/proc/{p}").stat().st_uid == hubserver.uid(STUDENTS[0])]
    environments = [Path(f"/proc/{p}/environ").read_bytes() for p in pids]
    assert environments and not [e for e in environments if b"ACTIVATION_UNITS_DB_URL" in e]
    url = hub.db_url.replace("grader:grader@", "grader@")
    probe = ("import psycopg, sys\ntry:\n    psycopg.connect(sys.argv[1]).close()\n"
             "except psycopg.OperationalError as e:\n    print('refused:', e)\n")
    done = as_user(STUDENTS[0], sys.executable, "-c", probe, url)
    assert "refused:" in done.stdout and "password" in done.stdout, done


@pytest.fixture(scope="module")
def instructor(browser, hub):
    page = log_in(browser, hub, INSTRUCTOR)
    yield page
    page.context.close()


def formgrader_modal_ok(page) -> None:
    modal = page.locator("#success-modal")
    expect(modal).to_be_visible(timeout=120_000)
    modal.locator(".modal-footer .btn.close, .modal-footer button").first.click()
    expect(modal).to_have_count(0)


def test_instructor_collects_grades_and_releases_feedback(instructor, hub, shots):
    page = instructor
    page.goto(f"{hub.url}/{SERVICE}/formgrader")
    row = page.locator("tr", has_text=ASSIGNMENT)
    expect(row).to_be_visible()
    shots(page, "hub_03_formgrader_assignments")
    row.locator("td.collect a").click()
    formgrader_modal_ok(page)
    expect(row.locator("td.num-submissions")).to_have_text("2")

    done = hub.grader(sys.executable, "-m", "autograder", "--root", ".", "grade", ASSIGNMENT,
                      "--workers", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "re-check" in done.stdout.lower() or "verified" in done.stdout.lower(), done.stdout

    # The written answer of the first student, graded by hand; the formulas typeset.
    page.goto(f"{hub.url}/{SERVICE}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}")
    mine = page.locator("a", has_text=re.compile(f"^{STUDENTS[0]}$"))
    expect(mine).to_have_count(1)  # the list has loaded (names hidden: anonymous grading)
    page.get_by_role("button", name="Show All Names").click()
    expect(mine).to_be_visible()
    mine.click()
    score = page.locator(f"input.score#{ANSWER}")
    expect(score).to_be_visible()
    # The question's formula ($z = 0$), typeset by MathJax from the service itself (no CDN).
    question = page.locator("p", has_text="Why is ReLU's derivative at").first
    expect(question.locator(".MathJax").first).to_be_visible(timeout=30_000)
    assert "$z = 0$" not in question.inner_text()
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                              and r.request.method == "PUT") as saved:
        score.fill("2")
        score.press("Tab")
    assert saved.value.ok
    # The question (its formula typeset) down to the grade box, in page coordinates.
    top = question.evaluate("el => el.getBoundingClientRect().top + window.scrollY")
    panel = page.locator(".panel", has=score).first
    bottom = panel.evaluate("el => el.getBoundingClientRect().bottom + window.scrollY")
    shots(page, "hub_04_formgrader_manual_grade", keep=True, full_page=True,
          clip={"x": 100, "y": top - 80, "width": 1200, "height": bottom - top + 100})

    page.goto(f"{hub.url}/{SERVICE}/formgrader")
    row = page.locator("tr", has_text=ASSIGNMENT)
    row.locator("td.generate-feedback a").click()
    formgrader_modal_ok(page)
    row.locator("td.release-feedback a").click()
    formgrader_modal_ok(page)


def test_student_reads_the_feedback(student, hub, shots):
    page = student
    page.goto(f"{hub.url}/user/{STUDENTS[0]}/lab")
    menu(page, "Nbgrader", "Assignment List")
    submitted = assignment_rows(page, "submitted", 1)
    submitted.locator('button:text("Fetch Feedback")').click()
    expect(submitted.locator("a", has_text=re.compile("view feedback", re.I))).to_be_visible(
        timeout=60_000)
    shots(page, "hub_05_student_feedback_fetched")
    html = next((hub.base / "home" / STUDENTS[0] / ASSIGNMENT / "feedback").rglob("*.html"))
    relative = html.relative_to(hub.base / "home" / STUDENTS[0])
    page.goto(f"{hub.url}/user/{STUDENTS[0]}/files/{relative}")
    body = page.locator("body")
    expect(body).to_contain_text("sigmoid: values on a grid")
    text, html_source = body.inner_text(), page.content()
    assert "HIDDEN TESTS" not in html_source and "hidden_values" not in html_source
    assert "MARK SCHEME" not in html_source
    # The summary: the instructor's 2 of 3 points, the sigmoid test passed, the total.
    toc = page.locator("#toc").text_content()
    assert re.search(rf"{ANSWER}\s*\(Score: 2\.0 / 3\.0\)", toc), toc
    assert WRITTEN[:40] in text
    assert re.search(r"sigmoid: values on a grid[^(]*\(Score: (\d+\.\d+) / \1\)", toc), toc
    assert re.search(r"\(Score: \d+\.\d+ / 51\.0\)", text), text[:200]
    shots(page, "hub_06_student_feedback", keep=True)
