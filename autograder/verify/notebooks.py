"""Reading the notebooks: what the source says to run and to decide (``Plan``), which cells
of a submission are the learner's, and the source lines a person should look at."""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.verify.child import python_source

#: (regular expression, why it deserves a look) over the learner's code cells.
SUSPICIOUS = [
    (r"NBGRADER_EXECUTION", "reads NBGRADER_EXECUTION (behaves differently under grading?)"),
    (r"course_utils\s*\.\s*checks|from\s+course_utils\s+import\s+checks",
     "touches the checks module"),
    (r"course_utils\s*\.\s*reference|reference_torch|from\s+course_utils\s+import\s+reference",
     "imports the reference solutions"),
    (r"course_utils\s*\.\s*fixtures|elementwise\.npz|from\s+course_utils\s+import\s+fixtures",
     "reads the visible tests' fixtures"),
    (r"sys\s*\.\s*modules", "edits or reads sys.modules"),
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (r"setattr\s*\(\s*(np|numpy|torch)\b", "setattr on numpy/torch"),
    (r"\b(np|numpy|torch)\s*\.\s*[\w.]+\s*=(?!=)", "assigns into numpy/torch"),
    (r"\bctypes\b", "uses ctypes"),
    (r"os\s*\.\s*_exit|os\s*\.\s*kill|\bsys\s*\.\s*exit|raise\s+SystemExit", "exits the process"),
    (r"signal\s*\.\s*signal", "installs a signal handler"),
    (r"gc\s*\.\s*get_objects|gc\s*\.\s*get_referrers", "walks the garbage collector"),
    (r"get_ipython|set_custom_exc|showtraceback|InteractiveShell",
     "reaches into IPython (exception display?)"),
    (r"sys\s*\.\s*_getframe|inspect\s*\.\s*(stack|currentframe)|sys\s*\.\s*settrace",
     "inspects or traces stack frames"),
    (r"\bAssertionError\s*=|except\s+AssertionError", "redefines or swallows AssertionError"),
    (r"def\s+__eq__|def\s+__array_ufunc__|def\s+__array_function__|np\.ndarray\s*\)",
     "defines array-like comparison hooks (an ndarray subclass?)"),
    (r"\bautograder\b|\bnbgrader\b", "names the grader (autograder, nbgrader)"),
    (r"saved_tensors_hooks|_push_saved_tensors", "touches saved-tensor hooks (the memory checks)"),
]



def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def defined_names(source: str, *, classes: bool = False) -> list[str]:
    """Top-level names a cell defines (def, class, assignment); only classes with
    ``classes``."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) or (not classes and isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef))):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and not classes:
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _definitions_only(source: str) -> bool:
    """Whether an instructor cell only imports and defines (safe and cheap to re-run)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return False
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Expr) and "get_ipython" in ast.unparse(node):
            continue  # %matplotlib inline and friends
        if not isinstance(node, allowed):
            return False
    return True


@dataclass
class Plan:
    """What the source notebook says: the cells to run and the test cells to decide."""

    notebook: str
    instructor: list[tuple[str, str]]      # (grade id or "", source) of setup/helper cells
    solutions: list[str]                   # solution grade ids, in order
    learner_names: list[str]
    tests: dict[str, tuple[str, float]]    # grade id -> (source with hidden tests, points)
    classes: list[str] = field(default_factory=list)  # learner names defined by `class`
    #: Sources (stripped) of the notebook's other code cells: setup, helpers, experiments.
    demos: set[str] = field(default_factory=set)
    setup_error: str | None = None         # why the setup cells fail in a child, if they do
    setup_checked: bool = False


def plan(source_notebook: Path) -> Plan:
    """Read ``source/<a>/<a>.ipynb``: setup and helper cells, solutions, test cells."""
    import nbformat

    nb = nbformat.read(str(source_notebook), as_version=4)
    instructor, solutions, names, tests = [], [], [], {}
    experiments: set[str] = set()
    demos: set[str] = set()
    solution_sources: list[tuple[str, str]] = []
    first_code = True
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        gid = meta.get("grade_id", "")
        if meta.get("solution"):
            solution_sources.append((gid, cell.source))
            solutions.append(gid)
            names += defined_names(cell.source)
        elif meta.get("grade"):
            tests[gid] = (cell.source, float(meta.get("points", 0) or 0))
        elif first_code or _definitions_only(cell.source):
            demos.add(cell.source.strip())
            instructor.append((gid, cell.source))
        else:  # an experiment or demonstration: the child runs it only if the learner's
            experiments |= assigned(cell.source)  # code reads a name it binds
            demos.add(cell.source.strip())
        first_code = False
    names = list(dict.fromkeys(names))
    # A helper cell is setup only if it can run without the learner's code and without the
    # cells the child skips: one that calls the learner's code at top level is a
    # demonstration, and one that reads an experiment's result (03's
    # `fig = plots.plot_learning_curves(runs)`) would fail. Dropping a cell makes its names
    # unavailable in turn, hence the loop.
    keep = list(range(len(instructor)))
    while True:
        available = set().union(*(assigned(instructor[k][1]) for k in keep))
        missing = sorted((experiments | set().union(*(
            assigned(instructor[k][1]) for k in range(len(instructor)) if k not in keep)))
            - available)
        kept = [k for k in keep if k == 0 or not uses(instructor[k][1], names + missing)]
        if kept == keep:
            break
        keep = kept
    instructor = [instructor[k] for k in keep]
    classes = [n for _, src in solution_sources for n in defined_names(src, classes=True)]
    return Plan(source_notebook.stem, instructor, solutions, names, tests, classes=classes,
                demos=demos)


def _symbols(source: str) -> symtable.SymbolTable | None:
    try:
        return symtable.symtable(python_source(source), "<cell>", "exec")
    except SyntaxError:
        return None


def assigned(source: str) -> set[str]:
    """Every name a cell binds at module scope (assignments, loops, imports, def, class);
    not the variables of its comprehensions or functions, which are theirs alone."""
    table = _symbols(source)
    if table is None:
        return set()
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}


def uses(source: str, names: list[str]) -> bool:
    """Whether a cell's top-level statements (not def/class bodies) read one of ``names``."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return True  # the careful answer
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node)):
            return True
    return False


def cells_to_run(submitted: dict, p: Plan) -> list[tuple[str, str, str]]:
    """What the child runs, as (kind, source, grade id), kind "setup", "learner" or "test".

    First the setup and helper cells from source/ (so that no learner code can make them
    fail), then the submitted notebook's cells in its order: every cell carrying a solution
    grade id of source/ (a split cell keeps both halves), every code cell without a grade
    id (helpers the learner added live there), and the test cells, as source/ has them
    (hidden tests included). The notebook's own experiments and demonstrations, unchanged,
    are skipped unless the learner's code reads a name one of them binds: they take seconds
    (01's width sweep) and prove nothing, and a learner function that kills the process
    would kill the child there."""
    cells = [("setup", source, gid) for gid, source in p.instructor]
    chosen: list[tuple[str, str, bool]] = []  # (source, grade id, an unchanged demo)
    for cell in submitted.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        gid = _meta(cell).get("grade_id") or ""
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if gid in p.tests:
            chosen.append(("", gid, False))
        elif (_meta(cell).get("solution") and gid in p.solutions) or not gid:
            chosen.append((src, "", not gid and src.strip() in p.demos))
    reads = set().union(*(global_reads(src) for src, gid, demo in chosen
                          if not gid and not demo))
    seen = set()
    for src, gid, demo in chosen:
        if gid and gid not in seen:
            seen.add(gid)
            cells.append(("test", p.tests[gid][0], gid))
        elif not gid and (not demo or assigned(src) & reads):
            cells.append(("learner", src, ""))
    return cells + [("test", source, gid) for gid, (source, _) in p.tests.items()
                    if gid not in seen]


def global_reads(source: str) -> set[str]:
    """Every global name a cell reads anywhere, function bodies included; a function's own
    parameters and locals are not (``def f(init): return init()`` reads no global ``init``)."""
    table = _symbols(source)
    if table is None:
        return set()
    names: set[str] = set()
    scopes = [table]
    while scopes:
        scope = scopes.pop()
        top = scope.get_type() == "module"
        names |= {s.get_name() for s in scope.get_symbols()
                  if s.is_referenced() and (top or s.is_global())}
        scopes += scope.get_children()
    return names


def suspicious(submitted: dict) -> list[str]:
    """'cell N: reason: `line`' for every suspicious line in the learner's code cells."""
    found = []
    for n, cell in enumerate(submitted.get("cells", [])):
        meta = _meta(cell)
        if cell.get("cell_type") != "code" or (meta.get("locked") and not meta.get("solution")):
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        for line in src.splitlines():
            for pattern, why in SUSPICIOUS:
                if re.search(pattern, line):
                    found.append(f"cell {n} ({meta.get('grade_id', 'added cell')}): {why}: "
                                 f"`{line.strip()[:80]}`")
    return found


