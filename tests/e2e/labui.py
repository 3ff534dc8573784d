"""What a person does in JupyterLab, as Playwright steps with robust waits.

Cells are found by text in their source (the first comment line of a test cell, the
``def`` line of an exercise); a cell has run when its prompt shows a new execution count.
No fixed sleeps: every wait is for a state of the page.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

KERNEL_START_S = 60_000
CELL_RUN_MS = 60_000
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def open_from_file_browser(page: Page, *names: str) -> None:
    """Double-click through the file browser: folders, then the notebook."""
    for name in names:
        item = page.locator(".jp-DirListing-item").filter(
            has=page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
        )
        item.dblclick()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").wait_for()


def wait_kernel_idle(page: Page, timeout: float = KERNEL_START_S) -> None:
    """The status bar reads '... | Idle' once the kernel has started and finished its work."""
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout)


def menu(page: Page, top: str, item: str) -> None:
    """Click a main-menu entry, e.g. menu(page, "Run", "Run All Cells")."""
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()


def menu_labels(page: Page, top: str) -> list[str]:
    """The labels of one main menu's visible entries (the menu is closed again)."""
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    labels = page.locator(".lm-Menu .lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    labels.first.wait_for()
    texts = [t.strip() for t in labels.all_inner_texts()]
    page.keyboard.press("Escape")
    return [t for t in texts if t]


def cell(page: Page, source_text: str) -> Locator:
    """The (one) notebook cell whose source contains ``source_text``."""
    found = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=source_text)
    )
    expect(found).to_have_count(1)
    return found


def prompt(c: Locator) -> str:
    return c.locator(".jp-InputArea-prompt").inner_text().strip()


def run_cell(page: Page, c: Locator, timeout: float = CELL_RUN_MS) -> None:
    """Select the cell, Ctrl+Enter, and wait until its prompt shows a new execution count."""
    before = prompt(c)
    c.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """([el, before]) => {
            const t = el.innerText.trim();
            return /\\[\\d+\\]/.test(t) && t !== before;
        }""",
        arg=[c.locator(".jp-InputArea-prompt").element_handle(), before],
        timeout=timeout,
    )


def set_source(page: Page, c: Locator, source: str) -> None:
    """Replace the cell's source with ``source``, typed into its editor as a person would
    paste it (inserted text, so the editor's auto-indent does not re-indent it)."""
    editor = c.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    expect(editor).to_contain_text(source.splitlines()[0])
    page.keyboard.press("Escape")  # back to command mode


def errors(c: Locator) -> str:
    """Text of the cell's error / stderr outputs ('' when there is none)."""
    return "\n".join(c.locator(STDERR).all_inner_texts())
