"""End-to-end fixtures: a JupyterLab server on loopback and Debian's Chromium via Playwright.

Every test under ``tests/e2e/`` is marked ``e2e`` (and ``slow``) and skipped, with the reason, when
``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it) or the
``playwright`` package is missing. Playwright never downloads a browser here: it drives
the system Chromium through ``executable_path``.

Run them alone with ``.venv/bin/pytest tests/e2e``; screenshots of every step go to
``$E2E_SCREENSHOTS`` (default: a temporary directory).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from labserver import CHROMIUM, CHROMIUM_ARGS, REPO, start_lab, stop_lab

DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"


def _skip_reason() -> str | None:
    if not CHROMIUM.is_file():
        return (f"{CHROMIUM} is missing: install Debian's chromium "
                "(apt-get install chromium; .ci/run does) to run the browser tests.")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'."
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    reason = _skip_reason()
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.slow)  # they run notebooks too: `-m "not slow"` skips them
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def student_course(tmp_path_factory) -> Path:
    """A temporary copy of the course as a student gets it: the released notebooks."""
    root = tmp_path_factory.mktemp("student_course")
    shutil.copytree(REPO / "release", root / "release")
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


@pytest.fixture(scope="module")
def student_lab(student_course, tmp_path_factory):
    """JupyterLab with the student configuration, serving the student course copy."""
    lab, proc = start_lab(student_course, tmp_path_factory.mktemp("student_home"), student=True)
    yield lab
    stop_lab(proc)


# --- The browser -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (no browser download, ever)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Save a screenshot of each step: ``shot(page, name, locator=None, keep=False,
    **options)`` (options go to Playwright's ``screenshot``, e.g. ``clip``).

    Every screenshot goes to ``$E2E_SCREENSHOTS`` (default: a temporary directory). The
    ones marked ``keep`` are the small set committed under ``docs/screenshots/`` (the
    README shows two of them); ``E2E_UPDATE_DOCS=1`` refreshes them there.
    """
    folder = Path(os.environ.get("E2E_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    update_docs = os.environ.get("E2E_UPDATE_DOCS") == "1"

    def shot(pg, name: str, locator=None, keep: bool = False, **options) -> Path:
        path = folder / f"{name}.png"
        (locator or pg).screenshot(path=str(path), **options)
        if keep and update_docs:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, DOCS_SCREENSHOTS / path.name)
        return path

    shot.folder = folder
    return shot
