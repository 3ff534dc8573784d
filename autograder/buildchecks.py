"""Static checks of an assignment's source and release (no kernel needed).

Each function returns a list of problems, full sentences naming the cell; an empty list
means the check passed. ``tests/test_build_checks.py`` runs them for every assignment, with
the checks that execute notebooks (nbgrader's ``Validator``) and the fresh-release check.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat

MARKERS = {
    "solution": ("BEGIN SOLUTION", "END SOLUTION"),
    "hidden test": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    "mark scheme": ("BEGIN MARK SCHEME", "END MARK SCHEME"),
}


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(stripped non-empty lines inside begin/end regions, those outside), marker lines apart."""
    inside, outside, within = [], [], False
    for line in source.splitlines():
        if begin in line:
            within = True
        elif end in line:
            within = False
        elif line.strip():
            (inside if within else outside).append(line.strip())
    return inside, outside


def kernel_problems(nb, name: str) -> list[str]:
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    return [] if kernel == "python3" else [
        f"{name}: the kernelspec is {kernel!r}; set it to python3 (Kernel > Change kernel)."]


def output_problems(nb, name: str) -> list[str]:
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    return [f"{name}: cells {dirty[:8]} are stored with outputs; clear all outputs and save."
            ] if dirty else []


def metadata_problems(nb, name: str) -> list[str]:
    """Unique grade ids; every graded cell has points; no test cell ends in an expression."""
    problems, seen = [], {}
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        if gid in seen:
            problems.append(f"{name}: grade id {gid!r} is used by cells {seen[gid]} and {index}; "
                            "grade ids must be unique.")
        seen[gid] = index
        if meta.get("grade") and not (meta.get("points") or 0) > 0:
            problems.append(f"{name}: graded cell {gid!r} has no points; give it points > 0.")
        if is_test(cell) and ends_in_expression(cell.source):
            problems.append(
                f"{name}: test cell {gid!r} ends in a bare expression; nbgrader would read a "
                "number there as a partial score. End it with a statement (a call's value "
                "assigned to _ , or an assert)."
            )
    return problems


def convention_problems(nb, name: str) -> list[str]:
    """The course's conventions for a source notebook (docs/DEVELOPING.md):

    * a test cell opens with a ``# comment`` saying what it checks, imports only from
      ``course_utils.checks``, computes nothing itself (no ``np.``/``torch.``: the checks
      hold every formula, so the messages name input, expected and received values) and
      ends in a call of a check;
    * a written answer is followed by a locked cell with the mark scheme, and nothing
      outside its markers (so every release shows the same empty locked cell there);
    * edge-case cells (grade ids ending in ``_edges`` or ``_dtype``) carry at most a quarter
      of the autograded points: most points reward the idea;
    * headings hold no LaTeX (JupyterLab's table of contents shows it raw), and the notebook
      stores the kernel's whole ``language_info`` (else opening it marks it unsaved).
    """
    problems = weighting_problems(nb, name) + polish_problems(nb, name)
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id", f"cell {index}")
        if is_test(cell):
            problems += [f"{name}: test cell {gid!r} {p}" for p in _test_cell_problems(cell.source)]
        elif cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
            scheme = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
            smeta = nbgrader_meta(scheme) if scheme is not None else {}
            if not (scheme is not None and smeta.get("locked") and not smeta.get("grade")
                    and "=== BEGIN MARK SCHEME ===" in scheme.source
                    and "=== END MARK SCHEME ===" in scheme.source):
                problems.append(f"{name}: written answer {gid!r} is not followed by a locked "
                                "cell holding its === BEGIN/END MARK SCHEME ===.")
            elif _drop_regions(scheme.source, *MARKERS["mark scheme"]).strip(" \n=*"):
                problems.append(f"{name}: the mark-scheme cell after {gid!r} has text outside "
                                "its markers; the release would show it. Move it inside.")
    return problems


#: What an IPython kernel reports as language_info; stored so that opening is not an edit.
LANGUAGE_INFO_KEYS = ("codemirror_mode", "file_extension", "mimetype", "name",
                      "nbconvert_exporter", "pygments_lexer", "version")


def polish_problems(nb, name: str) -> list[str]:
    """No LaTeX in headings; the whole language_info stored."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#") and "$" in line:
                problems.append(f"{name}: the heading {line.strip()!r} (cell {index}) holds "
                                "LaTeX, which the table of contents shows raw; write it in words.")
    info = nb.metadata.get("language_info", {})
    missing = [key for key in LANGUAGE_INFO_KEYS if key not in info]
    if missing:
        problems.append(f"{name}: the notebook's language_info lacks {', '.join(missing)}: "
                        "JupyterLab adds them on opening and marks the notebook unsaved. Run it "
                        "once in a kernel and save, or copy them from a notebook that has them.")
    return problems


#: The largest share of a notebook's autograded points that edge-case cells may carry.
EDGE_SHARE = 0.25


def weighting_problems(nb, name: str) -> list[str]:
    """Edge-case cells (``*_edges``, ``*_dtype``) carry at most ``EDGE_SHARE`` of the points."""
    points = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points") or 0)
              for c in nb.cells if is_test(c)}
    total = sum(points.values())
    edges = sum(v for gid, v in points.items() if gid.endswith(("_edges", "_dtype")))
    if total and edges / total > EDGE_SHARE:
        return [f"{name}: edge-case cells carry {edges:g} of {total:g} autograded points "
                f"({edges / total:.0%}); at most {EDGE_SHARE:.0%}: give the idea the points."]
    return []


def _test_cell_problems(source: str) -> list[str]:
    problems = [] if source.startswith("# ") else [
        "does not open with a `# comment` saying what it checks."]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return problems + [f"is not valid Python ({exc.msg}, line {exc.lineno})."]
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    if not imports or any(not (isinstance(n, ast.ImportFrom) and n.module == "course_utils.checks")
                          for n in imports):
        problems.append("imports from somewhere other than course_utils.checks.")
    computed = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name) and n.value.id in ("np", "numpy", "torch")}
    if computed:
        problems.append(f"computes with {', '.join(sorted(computed))} itself; put the formula in "
                        "a check of course_utils.checks.")
    last = tree.body[-1] if tree.body else None
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
        problems.append("does not end in a call of a check.")
    return problems


def ends_in_expression(source: str) -> bool:
    """Whether the last statement of a code cell is a bare expression (not a plain call of
    a check returning None is impossible to tell statically, so any expression counts)."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    if not tree.body:
        return False
    last = tree.body[-1]
    if not isinstance(last, ast.Expr):
        return False
    # A call of a check (check_*/hidden_*) returns None by contract: that is a statement.
    if isinstance(last.value, ast.Call):
        func = last.value.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return not fname.startswith(("check_", "hidden_"))
    return not isinstance(last.value, ast.Constant) or isinstance(last.value.value, (int, float))


def leak_problems(source_nb, release_nb, name: str) -> list[str]:
    """No solution, hidden test or mark scheme text (or marker) in the release."""
    problems = []
    release_text = json.dumps([c.source for c in release_nb.cells])
    for what, (begin, _) in MARKERS.items():
        if begin in release_text:
            problems.append(f"{name}: the release still contains a '{begin}' marker ({what}).")
    visible = set()
    secret: dict[str, str] = {}
    for cell in source_nb.cells:
        source = cell.source
        for what, (begin, end) in MARKERS.items():
            inside, _ = regions(source, begin, end)
            for line in inside:
                secret.setdefault(line, what)
            source = _drop_regions(source, begin, end)
        visible.update(line.strip() for line in source.splitlines() if line.strip())
    release_lines = {line.strip() for c in release_nb.cells for line in c.source.splitlines()}
    for line, what in secret.items():
        if line in release_lines and line not in visible and len(line) > 3:
            problems.append(f"{name}: {what} text reached the release: {line[:80]!r}.")
    return problems


def _drop_regions(source: str, begin: str, end: str) -> str:
    kept, within = [], False
    for line in source.splitlines():
        if begin in line:
            within = True
        elif end in line:
            within = False
        elif not within:
            kept.append(line)
    return "\n".join(kept)


def course_map_points(readme: str | Path) -> dict[str, float | str]:
    """{assignment: points} from the README's course-map table
    (header ``| Assignment | Note | What the learner builds | Points |``); the cell's text
    where it is not a number (e.g. 'TBD')."""
    points = {}
    text = Path(readme).read_text() if Path(readme).is_file() else ""
    header = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells and cells[0] == "Assignment":
            header = [c.lower() for c in cells]
            continue
        if header and line.lstrip().startswith("|") and "points" in header:
            if set(cells[0]) <= set("-: "):
                continue
            name = re.sub(r"[`*\[\]]|\(.*?\)", "", cells[0]).strip()
            value = cells[header.index("points")] if len(cells) > header.index("points") else ""
            match = re.fullmatch(r"\D*?(\d+(\.\d+)?)\D*", value)
            points[name] = float(match.group(1)) if match else value
        elif header and not line.lstrip().startswith("|"):
            header = None
    return points


def total_points(nb) -> float:
    return sum(float(nbgrader_meta(c).get("points") or 0) for c in nb.cells
               if nbgrader_meta(c).get("grade"))


def read(path: str | Path):
    return nbformat.read(str(path), as_version=nbformat.NO_CONVERT)
