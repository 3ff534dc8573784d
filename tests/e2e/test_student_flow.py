"""A student works on 02_activation_units in JupyterLab, in a real browser.

The steps run in order on one page (module-scoped fixtures): the lab as the student
configuration shows it, the released notebook opened from the file browser, Run All, a
readable failure, a solution typed in, a passing test, a figure and its slider, nbgrader's
Validate. A screenshot of each step goes to the screenshots folder (see conftest).
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("playwright.sync_api",
                    reason="playwright is not installed: pip install -e '.[test]'.")

from labui import (  # noqa: E402
    STDERR,
    cell,
    errors,
    menu,
    menu_labels,
    open_from_file_browser,
    run_cell,
    set_source,
    wait_kernel_idle,
)
from playwright.sync_api import expect  # noqa: E402

from autograder.course import REPO  # noqa: E402

pytestmark = pytest.mark.e2e

ASSIGNMENT = "02_activation_units"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

# A correct sigmoid in a stable form: it only exponentiates non-positive numbers.
SIGMOID = '''def sigmoid(z):
    z = as_float(z)
    # sigmoid(z) = exp(-softplus(-z)); logaddexp(0, -z) = log(1 + exp(-z)) without overflow
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)), dtype=z.dtype)
'''
# Swish from the student's own sigmoid (enough for the plot; its edge cases are not asked).
SWISH = '''def swish(z, beta=1.0):
    z = as_float(z)
    return z * sigmoid(beta * z)
'''


@pytest.fixture(scope="module")
def notebook(page, student_lab, shots):
    """The lab opened as a student, the released notebook opened from the file browser."""
    page.goto(student_lab.lab_url())
    page.locator(".jp-DirListing-item").first.wait_for()
    shots(page, "student_01_file_browser")
    open_from_file_browser(page, "release", ASSIGNMENT, NOTEBOOK)
    wait_kernel_idle(page)
    return page


def test_students_see_no_instructor_tools(notebook, student_lab, shots):
    page = notebook
    labels = menu_labels(page, "Nbgrader")
    assert not [x for x in labels if "formgrader" in x.lower() or "create" in x.lower()], labels
    assert "Assignment List" in labels  # the menu itself is there: the check looks at it
    # No Create Assignment panel in the right sidebar, no formgrader on the server.
    sidebar_tabs = page.locator("#jp-right-stack .lm-TabBar-tab, .jp-SideBar .lm-TabBar-tab")
    titles = [t.get_attribute("title") or "" for t in sidebar_tabs.all()]
    assert titles and not [t for t in titles if "Create Assignment" in t], titles
    assert student_lab.get("formgrader") == 404
    shots(page, "student_02_notebook_opened")


def test_run_all_shows_a_readable_failure(notebook, shots):
    page = notebook
    menu(page, "Run", "Run All Cells")
    first_test = cell(page, "# numerical_derivative: central differences")
    expect(first_test.locator(STDERR)).to_contain_text(
        "numerical_derivative: is not implemented yet.", timeout=120_000)
    wait_kernel_idle(page)
    # The traceback ends with the check's message: what is wrong, then one hint.
    last = [line.strip() for line in errors(first_test).strip().splitlines()[-2:]]
    assert last == [
        "AssertionError: numerical_derivative: is not implemented yet.",
        "Hint: replace `raise NotImplementedError()` with your code, then run that cell.",
    ], last
    first_test.scroll_into_view_if_needed()
    shots(page, "student_03_run_all_readable_failure", keep=True)


def test_a_typed_solution_turns_the_test_green(notebook, shots):
    page = notebook
    # Run All stopped at the first failure: run the sigmoid stub and its test by hand.
    exercise = cell(page, "def sigmoid(z):")
    run_cell(page, exercise)
    test = cell(page, "# sigmoid: values on a grid")
    run_cell(page, test)
    expect(test.locator(STDERR)).to_contain_text("sigmoid: is not implemented yet.")

    set_source(page, exercise, SIGMOID)
    run_cell(page, exercise)
    assert errors(exercise) == ""
    for first_line in ("# sigmoid: values on a grid", "# sigmoid: extremes"):
        test = cell(page, first_line)
        run_cell(page, test)
        assert errors(test) == "", f"{first_line}: {errors(test)}"
        # passing says so, in one line on stdout: never a red stderr block
        expect(test.locator(".jp-OutputArea-output")).to_contain_text("✓ sigmoid:")
        expect(test.locator(STDERR)).to_have_count(0)
    exercise.scroll_into_view_if_needed()
    shots(page, "student_04_solution_passes", keep=True)


def test_figure_appears_and_the_slider_moves_it(notebook, shots):
    page = notebook
    exercise = cell(page, "def swish(z, beta=1.0):")
    set_source(page, exercise, SWISH)
    run_cell(page, exercise)
    test = cell(page, "# swish: values on a grid")
    run_cell(page, test)
    assert errors(test) == ""

    demo = cell(page, "fig = plots.show_swish_beta(swish)")
    run_cell(page, demo)
    assert errors(demo) == ""
    # The static matplotlib figure, and the interactive one under the slider.
    expect(demo.locator(".jp-OutputArea-output img")).to_have_count(2)
    interactive = demo.locator(".widget-interact")
    # The slider's own plot is the last image of the widget's output.
    plot = interactive.locator(".widget-output img").last
    expect(plot).to_be_visible()
    before = plot.get_attribute("src")
    assert before and before.startswith("data:image/png")
    demo.scroll_into_view_if_needed()
    shots(page, "student_05_figure_and_slider")

    # Drag the slider's handle to the right with the mouse (beta = 1 -> about 6).
    readout = interactive.locator(".widget-readout")
    expect(readout).to_have_text("1.00")
    handle = interactive.locator(".noUi-handle")
    box = handle.bounding_box()
    track = interactive.locator(".noUi-target").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + track["width"] / 4, y, steps=8)
    page.mouse.up()
    expect(readout).not_to_have_text("1.00")
    assert float(readout.inner_text()) > 2.0
    page.wait_for_function(
        "([img, before]) => img.isConnected ? img.src !== before : true",
        arg=[plot.element_handle(), before], timeout=30_000)
    expect(plot).to_be_visible()
    after = plot.get_attribute("src")
    assert after and after.startswith("data:image/png") and after != before
    wait_kernel_idle(page)
    interactive.scroll_into_view_if_needed()
    shots(page, "student_06_slider_moved")


def test_plot_beside_a_failing_test(notebook, shots):
    """The learner's swish passes its values test but not the extremes; its plot, opened in
    a second view beside the notebook (JupyterLab's "New View for Cell Output"), stays in
    sight while they read the message."""
    page = notebook
    edges = cell(page, "# swish: extremes")
    run_cell(page, edges)
    expect(edges.locator(STDERR)).to_contain_text("swish: emitted a RuntimeWarning")
    assert "on input z = -inf" in errors(edges)

    demo = cell(page, "fig = plots.show_swish_beta(swish)")
    demo.locator(".jp-OutputArea-promptOverlay").first.click(button="right")
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="New View for Cell Output").click()
    view = page.locator(".jp-LinkedOutputView")
    expect(view.locator("img").first).to_be_visible()
    # Scroll the notebook so that the end of the traceback, the message, is in sight.
    edges.locator(STDERR).last.evaluate("el => el.scrollIntoView({block: 'end'})")
    shots(page, "student_08_plot_beside_failing_test", keep=True)


def test_static_figure_survives_the_slider(notebook):
    demo = cell(notebook, "fig = plots.show_swish_beta(swish)")
    # The several-beta figure (outside the widget) and the slider's own plot.
    expect(demo.locator(".jp-OutputArea-output img")).to_have_count(2, timeout=2_000)
    expect(demo.locator(".widget-interact img")).to_have_count(1, timeout=2_000)


def test_validate_button(notebook, shots):
    page = notebook
    page.locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=120_000)
    expect(dialog).to_contain_text("The following cell failed:", timeout=120_000)
    text = dialog.inner_text()
    # The unfinished exercises are listed; the one the student solved is not.
    assert "check_numerical_derivative" in text
    assert 'check_values(sigmoid, "sigmoid")' not in text
    # Every message line fits the dialog whole (the checks wrap at 88 columns; the
    # validator indents by 4 and cuts only past 100): no hint ends in "...".
    long = [line for line in text.splitlines() if len(line) > 100 or line.endswith("...")]
    assert not long, long
    # A missing written answer says which question it is (autograder/release.py).
    assert "YOUR ANSWER HERE (relu_kink_answer, 3 points)" in text
    shots(page, "student_07_validate", dialog.locator(".jp-Dialog-content"), keep=True)
    dialog.get_by_text("YOUR ANSWER HERE (relu_kink_answer").first.scroll_into_view_if_needed()
    shots(page, "student_07b_validate_written_answer", dialog.locator(".jp-Dialog-content"),
          keep=True)
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)


def test_progress_table_at_the_end(notebook, shots):
    """The notebook's last cell: every visible test run now, one row per exercise."""
    page = notebook
    last = cell(page, "progress()")
    run_cell(page, last)
    output = last.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("exercises pass", timeout=120_000)
    text = output.inner_text()
    assert "sigmoid" in text and "passes" in text and "not implemented yet" in text
    assert errors(last) == ""
    last.scroll_into_view_if_needed()
    shots(page, "student_09_progress_table", last, keep=True)


def test_selfgrade_feedback_page(browser, student_course, tmp_path, shots):
    """Self-grading the partly solved notebook: the feedback page names each test, says
    which written answers are not answered, and renders the math (MathML, offline)."""
    import subprocess
    import sys

    mine = student_course / "release" / ASSIGNMENT / NOTEBOOK
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "selfgrade", str(mine), "--workdir",
         str(tmp_path / "selfgrade")], capture_output=True, text=True, timeout=600,
        cwd=str(REPO), env={**os.environ, "ACTIVATION_UNITS_ISOLATION": "off"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exercises pass." in done.stdout and "Not answered yet:" in done.stdout
    html = tmp_path / "selfgrade" / "feedback" / "me" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(html.as_uri())
    toc = page.locator("#toc")
    expect(toc).to_contain_text("sigmoid: values on a grid")
    expect(toc).to_contain_text("not answered")
    assert toc.get_by_text("Test cell", exact=True).count() == 0
    math = page.locator("math").first
    expect(math).to_be_visible()
    assert math.bounding_box()["width"] > 0  # laid out by the browser itself, no script
    shots(page, "student_10_feedback_summary", keep=True)
    context.close()
