"""``python -m autograder progress``: a learner's notebooks, run top to bottom, then the
per-exercise table of ``course_utils.progress`` for each.

The notebook runs in a kernel of its own, in its own folder, with errors allowed (an
unfinished exercise must not stop the rest); the table is printed by the same
``progress()`` the notebook's last cell calls. Hidden tests never run (a release has
none) and nothing is written: not the notebook, not a gradebook.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

#: The call that prints the table, run after the notebook's own cells.
TABLE = "from course_utils.progress import progress as _progress\n_progress({path!r})"


def notebook_progress(path: str | Path, timeout: int = 300) -> str:
    """What ``progress()`` prints for ``path`` after running it: the table and the count."""
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(TABLE.format(path=str(path))))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = nb.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs
              if o.get("output_type") == "error"]
    return text.rstrip() or "\n".join(errors) or "(progress printed nothing)"
