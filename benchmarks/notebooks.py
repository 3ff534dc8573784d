"""Wall time of each source notebook, top to bottom, against its floor.

The floor is a notebook holding only the same imports: kernel start-up and imports (torch
alone costs seconds) are a cost the course cannot remove, so the table shows both. The
budget (docs/COURSE_PLAN.md): each notebook under 30 s on 2 CPU cores, the course under 2 minutes
(the plan allows 2.5).

    python benchmarks/notebooks.py [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_BUDGET_S = 30.0
COURSE_BUDGET_S = 120.0


def source_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "source").glob("*/*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def imports_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A one-cell notebook with every top-level import statement of ``nb``."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body
                  if isinstance(node, (ast.Import, ast.ImportFrom))]
    floor = nbformat.v4.new_notebook(metadata=nb.metadata)
    floor.cells = [nbformat.v4.new_code_cell("\n".join(dict.fromkeys(lines)))]
    return floor


def execute_seconds(nb: nbformat.NotebookNode, cwd: Path) -> float:
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def measure(runs: int = 3) -> list[dict]:
    rows = []
    for path in source_notebooks():
        nb = nbformat.read(path, as_version=4)
        full = [execute_seconds(nbformat.from_dict(nb), path.parent) for _ in range(runs)]
        floor = [execute_seconds(imports_only(nb), path.parent) for _ in range(runs)]
        rows.append({"notebook": path.parent.name, "seconds": statistics.median(full),
                     "floor": statistics.median(floor)})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| notebook | wall time (s) | imports-only floor (s) | budget (s) | |",
           "| --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        mark = "ok" if r["seconds"] < NOTEBOOK_BUDGET_S else "**MISSED**"
        out.append(f"| {r['notebook']} | {r['seconds']:.1f} | {r['floor']:.1f} | "
                   f"{NOTEBOOK_BUDGET_S:.0f} | {mark} |")
    total = sum(r["seconds"] for r in rows)
    mark = "ok" if total < COURSE_BUDGET_S else "**MISSED**"
    out.append(f"| whole course | {total:.1f} | {sum(r['floor'] for r in rows):.1f} | "
               f"{COURSE_BUDGET_S:.0f} | {mark} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per notebook (median)")
    parser.add_argument("--quick", action="store_true", help="one run each")
    args = parser.parse_args(argv)
    print(markdown(measure(1 if args.quick else args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
