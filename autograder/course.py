"""A course directory: its nbgrader configuration, its assignments, nbgrader's API on it.

A course directory is any directory that holds an ``nbgrader_config.py``; the repository
root is the real course. The demo, self-grading and the tests work in *scratch* courses:
a fresh directory with a copy of the repository's ``nbgrader_config.py`` (so they grade
exactly as the real course does), the assignments they need, and their own SQLite
gradebook, whatever ``ACTIVATION_UNITS_DB_URL`` says.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from pathlib import Path

import nbformat
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"
#: The repository this package was loaded from (the real course), when there is one.
REPO = Path(__file__).resolve().parents[1]


def default_root() -> Path:
    """The course directory commands act on: the repository, else the working directory."""
    if (REPO / CONFIG_FILE).is_file():
        return REPO
    return Path.cwd()


def ensure_tools_on_path() -> None:
    """Put this interpreter's ``bin/`` on PATH: nbgrader runs ``alembic`` as a subprocess.

    ``.venv/bin/python -m autograder`` works without an activated environment this way.
    """
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in path:
        os.environ["PATH"] = os.pathsep.join([bindir, *path])


def sqlite_url(path: str | os.PathLike) -> str:
    return "sqlite:///" + str(Path(path).resolve())


@functools.cache
def alembic_head() -> str:
    """The newest migration of the installed nbgrader (``alembic heads``, a subprocess of
    about 3 s: asked once per process)."""
    from nbgrader.api import get_alembic_version

    ensure_tools_on_path()
    return get_alembic_version()


def gradebook_version(course: Course) -> str:
    """The migration ``course``'s gradebook is at (its ``alembic_version`` row)."""
    from sqlalchemy import text

    with course.gradebook() as gb:
        return gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def new_gradebook(db_url: str, version: str | None = None) -> None:
    """Create an empty nbgrader gradebook at ``db_url``, stamped with migration ``version``
    (default: ``alembic_head()``), as ``nbgrader.api.Gradebook`` would; nothing if it has
    tables already.

    nbgrader asks ``alembic heads`` in a subprocess for every new gradebook; scratch
    courses and cluster workers make many, so they stamp a version they already know."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        Base.metadata.create_all(bind=engine)
        with engine.begin() as db:
            db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                       {"v": version or alembic_head()})
    finally:
        engine.dispose()



def cell_timeout() -> int:
    """Seconds one notebook cell may run when grading (``ACTIVATION_UNITS_CELL_TIMEOUT``,
    default 120): nbgrader's ``Execute.timeout``, and the re-check's budget per cell."""
    return int(os.environ.get("ACTIVATION_UNITS_CELL_TIMEOUT", "120"))


class Course:
    """One course directory and the nbgrader configuration it grades with.

    Parameters
    ----------
    root : path, default: the repository
        A directory holding ``nbgrader_config.py``.
    db_url : str, optional
        Overrides the gradebook URL of the configuration (scratch courses pass their own).
    """

    def __init__(self, root: str | os.PathLike | None = None, db_url: str | None = None):
        ensure_tools_on_path()
        self.root = Path(root if root is not None else default_root()).resolve()
        config_file = self.root / CONFIG_FILE
        if not config_file.is_file():
            raise FileNotFoundError(
                f"{self.root} is not a course directory: it has no {CONFIG_FILE}. "
                "Run the command from the course repository, or pass --root DIR."
            )
        self.config = load_config(self.root)
        if db_url is not None:
            self.config.CourseDirectory.db_url = db_url
        self.db_url: str = self.config.CourseDirectory.db_url

    # -- layout ---------------------------------------------------------------------
    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    def assignments(self) -> list[str]:
        """Assignments in ``source/``: directories holding a notebook of their own name."""
        if not self.source.is_dir():
            return []
        return sorted(p.name for p in self.source.iterdir()
                      if (p / f"{p.name}.ipynb").is_file())

    def students(self, assignment: str) -> list[str]:
        """Students with a submission of ``assignment`` in ``submitted/``."""
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir())

    def notebook(self, assignment: str, *, released: bool = False) -> Path:
        return (self.release if released else self.source) / assignment / f"{assignment}.ipynb"

    def submitted(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        """The submission as nbgrader graded it (cells and metadata restored, kernel set)."""
        return self.root / "autograded" / student / assignment

    def feedback_html(self, student: str, assignment: str) -> Path:
        return self.root / "feedback" / student / assignment / f"{assignment}.html"

    # -- nbgrader -------------------------------------------------------------------
    def api(self, quiet: bool = True):
        """nbgrader's ``NbGraderAPI`` on this course, configured by its ``nbgrader_config.py``."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        config = self.config.copy()
        if quiet:
            config.NbGraderAPI.log_level = logging.ERROR
        coursedir = CourseDirectory(config=config)
        return NbGraderAPI(coursedir=coursedir, config=config)

    def gradebook(self):
        """nbgrader's ``Gradebook`` on this course (a context manager)."""
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, self.config.CourseDirectory.course_id)

    def generate(self, assignment: str) -> None:
        """``nbgrader generate_assignment ASSIGNMENT --force``: write ``release/ASSIGNMENT``."""
        result = self.api().generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(
                f"nbgrader could not generate the release of {assignment}:\n"
                f"{_last_lines(result.get('error') or result.get('log', ''))}"
            )

    def validator(self, *, invert: bool = False):
        """nbgrader's ``Validator`` with this course's execution settings."""
        from nbgrader.validator import Validator

        config = self.config.copy()
        config.Validator.invert = invert
        return Validator(config=config)


def load_config(root: str | os.PathLike) -> Config:
    """The traitlets ``Config`` of ``root/nbgrader_config.py``, with ``root`` as course root."""
    loader = PyFileConfigLoader(CONFIG_FILE, path=str(root))
    config = loader.load_config()
    config.CourseDirectory.root = str(Path(root).resolve())
    return config


def make_scratch(root: str | os.PathLike, assignments: dict[str, Path] | None = None,
                 *, fresh: bool = True) -> Course:
    """Create a scratch course in ``root`` with its own SQLite gradebook.

    Parameters
    ----------
    root : path
        The scratch directory; with ``fresh`` (default) it is emptied first.
    assignments : {name: source directory}, optional
        Assignment directories to copy into ``root/source/<name>``.
    """
    root = Path(root).resolve()
    if fresh and root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / CONFIG_FILE, root / CONFIG_FILE)
    for name, directory in (assignments or {}).items():
        target = root / "source" / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(directory, target,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    url = sqlite_url(root / "gradebook.db")
    new_gradebook(url)
    return Course(root, db_url=url)


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=nbformat.NO_CONVERT)


def _last_lines(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])
