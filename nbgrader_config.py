"""nbgrader configuration of the course; the directory of this file is the course root.

The stock commands (``nbgrader generate_assignment``, ``autograde``, ``generate_feedback``,
``export``, ``zip_collect``, the formgrader) read this file when run from here, and the
course's own commands (``python -m autograder ...``) load the very same file, so both grade
alike. A scratch course (the demo, self-grading, the tests) is a directory holding a copy of
this file: every path below is relative to wherever the copy lives.

Environment variables:

ACTIVATION_UNITS_DB_URL
    The gradebook's SQLAlchemy URL. Default: the SQLite file ``gradebook.db`` in the course
    root. Any URL SQLAlchemy understands works unchanged, e.g.
    ``postgresql://grader:secret@db.example.org/activation_units``.
ACTIVATION_UNITS_EXCHANGE
    The nbgrader exchange directory (``nbgrader release_assignment`` / ``collect``).
    Default: ``exchange/`` in the course root.
ACTIVATION_UNITS_ISOLATION
    ``on`` (default): graded code runs in a bubblewrap sandbox (no network, user nobody,
    rlimits, only its own submission and the installed packages visible); grading refuses to
    run where the sandbox cannot start. ``off``: the explicit opt-out. See docs/GRADING.md.
ACTIVATION_UNITS_CELL_TIMEOUT
    Seconds a cell may run while grading (default 120); the tests lower it.
"""

import os
import sys

c = get_config()  # noqa: F821  (nbgrader injects get_config)

ROOT = os.path.dirname(os.path.abspath(__file__))
# The feedback preprocessor below lives in autograder/, next to this file.
if ROOT not in sys.path:
    sys.path.append(ROOT)

# --- The course directory -------------------------------------------------------------
c.CourseDirectory.course_id = "activation-units"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = os.environ.get(
    "ACTIVATION_UNITS_DB_URL", "sqlite:///" + os.path.join(ROOT, "gradebook.db")
)
c.Exchange.root = os.environ.get("ACTIVATION_UNITS_EXCHANGE", os.path.join(ROOT, "exchange"))

# --- Execution ------------------------------------------------------------------------
# Every notebook runs in the course's python3 kernel, whatever the submission's metadata
# says; a cell that runs longer than the timeout is interrupted and scores 0, and the rest
# of the notebook still runs. The solutions run in well under a minute in all.
c.Execute.kernel_name = "python3"
from autograder import sandbox  # noqa: E402
from autograder.course import cell_timeout  # noqa: E402

c.Execute.timeout = cell_timeout()  # ACTIVATION_UNITS_CELL_TIMEOUT, default 120 s
c.Execute.interrupt_on_timeout = True
# Isolation: autograding runs submissions in a sandboxed kernel (autograder/sandbox.py),
# unless ACTIVATION_UNITS_ISOLATION=off. This sets c.GuardedExecute.kernel_name (the
# autograde executor below); `nbgrader validate` keeps the plain python3 kernel.

sandbox.configure(c)
# (The kernel log level keeps its start-up chatter off the grader's terminal.)
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
# Output limits: a runaway print loop or a recursion error does not bloat the gradebook or
# the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 40

# --- Generating the release -----------------------------------------------------------
# Mark schemes live in locked read-only markdown cells right after the answer they mark,
# not in nbgrader "task" cells, so the clearing of mark schemes must not insist on tasks.
c.ClearMarkScheme.enforce_metadata = False

# --- Autograding ----------------------------------------------------------------------
# Every submission gets a grade and a reason (autograder/outcomes.py, docs/GRADING.md): a
# kernel that dies or ignores the interrupt is recorded on the cell where it happened, the
# cells after it score 0, the cells before it keep their scores; code files submitted next
# to the notebook (a numpy.py) are removed before it runs.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "autograder.outcomes.DeduplicateGradeIds",
    "autograder.outcomes.RestoreGradingMetadata",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.outcomes.RestoreCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "autograder.outcomes.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GuardedExecute.kill_grace = 5
# A deleted (or cut-and-pasted away) test cell is restored from the gradebook and graded
# (RestoreCells below is OverwriteCells, placing it robustly).
c.OverwriteCells.add_missing_cells = True
# Students are created on the fly by `autograde` (self-learners, LMS downloads).
c.Autograde.create_student = True

# --- Release --------------------------------------------------------------------------
# nbgrader's steps, with written-answer stubs that name their question (autograder/release.py)
# so that Validate says which answer is missing.
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearSolutions",
    "autograder.release.NameAnswerStubs",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# --- Validate -------------------------------------------------------------------------
# The checks' messages are shown wrapped at 88 columns (course_utils.checks); nbgrader's
# validator indents them by 4 and cuts longer lines, so give it room for both.
c.Validator.width = 100

# --- Feedback -------------------------------------------------------------------------
# Feedback shows the learner's code, their outputs and the visible tests, never the hidden
# tests or the mark schemes: neither their source nor tracebacks that quote them.
c.GenerateFeedback.preprocessors = [
    "autograder.feedback.GetGradesAndStatus",
    "autograder.feedback.HideHiddenTests",
    "autograder.outcomes.ShowGradingNotes",
    "autograder.feedback.RenderMath",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# The course's feedback page (autograder/templates/feedback): test cells named by what they
# check, written answers "awaiting a person" rather than 0, failures wrapped, math as MathML.
# Found through the installed packages, so that scratch courses (a copy of this file) use it.
# The setting is every HTMLExporter's, the formgrader's too: nbgrader's own templates
# ("formgrade" and the rest) stay on the path, after ours.
import nbgrader.server_extensions.formgrader as _formgrader  # noqa: E402

import autograder  # noqa: E402

c.HTMLExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(autograder.__file__), "templates"),
    os.path.join(os.path.dirname(_formgrader.__file__), "templates"),
]
# (autograder/templates/formgrade/mathjax.html.j2 makes the grading page load MathJax from
# the server, jupyter-server-mathjax, instead of a CDN: offline campuses see typeset math.)

# --- Collecting from an LMS download (nbgrader zip_collect) ----------------------------
# Default file naming: <student_id>_<notebook>.ipynb, or <student_id>/<notebook>.ipynb,
# anywhere inside downloaded/<assignment>/archive/*.zip. Change the pattern for your LMS
# (or pass --regexp to `python -m autograder collect`).
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.zipcollect.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9.@-]+)[/_](?P<file_id>\d\d_[A-Za-z0-9_]+\.ipynb)$"
)
