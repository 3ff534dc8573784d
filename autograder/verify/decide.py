"""Deciding the test cells: the instructor's test cells run in this process, with proxies
for the learner's functions; and the verdicts of one submission."""

from __future__ import annotations

import io
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.course import cell_timeout
from autograder.verify.child import python_source
from autograder.verify.handle import Child, Proxy
from autograder.verify.notebooks import Plan, learner_cells, uses
from autograder.verify.wire import Unverifiable

#: One test cell's budget in the verifier: this many cell timeouts (the kernel gave it one;
#: the pipe adds its round trips, 04's hidden initialiser test makes 36,000 of them).
CELL_BUDGET = 2.0


@dataclass
class CellVerdict:
    grade_id: str
    status: str          # "pass", "fail" or "not covered"
    reason: str = ""
    nbgrader_score: float | None = None
    max_score: float = 0.0
    revoked: bool = False


@dataclass
class SubmissionReport:
    student: str
    assignment: str
    cells: list[CellVerdict] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    error: str = ""
    isolation: str = ""
    seconds: float = 0.0

    @property
    def revoked(self) -> list[CellVerdict]:
        return [c for c in self.cells if c.revoked]

    @property
    def flagged(self) -> bool:
        return bool(self.revoked or self.suspicious)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if not text and isinstance(exc, AssertionError):
        return "a test cell assertion failed"
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def run_test_cell(source: str, namespace: dict, learner_names: list[str]) -> tuple[str, str]:
    """Execute one instructor test cell in ``namespace``; (status, reason)."""
    stderr = io.StringIO()
    try:
        code = compile(python_source(source), "<test cell>", "exec")
        with redirect_stdout(io.StringIO()), redirect_stderr(stderr), \
                warnings.catch_warnings(), np.errstate(all="warn", under="ignore"):
            warnings.simplefilter("default")
            exec(code, namespace)
    except Unverifiable as exc:
        return "not covered", str(exc)
    except NameError as exc:
        if exc.name in learner_names:
            return "fail", f"{exc.name} is not defined"
        return "not covered", f"the test cell needs {exc.name}, defined outside the solutions"
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 (the learner's failure)
        return "fail", _first_line(exc)
    if stderr.getvalue().strip():
        return "fail", "wrote to stderr: " + stderr.getvalue().strip().splitlines()[0][:150]
    return "pass", ""


def decide(submitted: dict, p: Plan, cwd: Path) -> tuple[dict[str, tuple[str, str]], Child]:
    """{test grade id: (status, reason)} for one submitted notebook, and its child."""
    cells, instructor = learner_cells(submitted, p)
    child = Child(cells, p.learner_names, cwd, instructor)
    child.torch = bool(p.classes)
    verdicts: dict[str, tuple[str, str]] = {}
    setup_error = p.check_setup(cwd)
    if setup_error:  # the verifier's child cannot stand in for the kernel: decide nothing
        return {gid: ("not covered", f"the setup cells fail in the verifier: {setup_error}")
                for gid in p.tests}, child
    budget = CELL_BUDGET * cell_timeout()
    try:
        child.start()
        namespace: dict = {"__name__": "__verify__"}
        for _, source in p.instructor:
            try:
                exec(compile(python_source(source), "<setup>", "exec"), namespace)
            except Exception:  # noqa: BLE001 (an instructor cell that needs a kernel)
                pass
        for gid, (source, _) in p.tests.items():
            if not child.alive() and child.loaded:
                child.start()  # after a timeout: a fresh child for the next test cell
            if child.env_error:
                verdicts[gid] = ("not covered", child.env_error)
                continue
            ns = dict(namespace)
            ns.update({n: Proxy(child, n) for n in child.defined})
            for n in p.learner_names:
                if n not in child.defined:
                    ns.pop(n, None)
            session = None
            if p.classes and uses(source, p.classes):
                # torch classes: remote Function and Module stand-ins (imports torch)
                from autograder.verify import torch_proxy

                try:
                    session = torch_proxy.install(child, p.classes, ns)
                except Unverifiable as exc:
                    verdicts[gid] = ("not covered", str(exc))
                    continue
                except Exception as exc:  # noqa: BLE001 (the child died, hung or raised)
                    verdicts[gid] = ("fail", _first_line(exc))
                    continue
            child.deadline = time.monotonic() + budget
            verdicts[gid] = run_test_cell(source, ns, p.learner_names)
            child.deadline = None
            if session is not None:
                session.release()  # the cell's instances and graphs, in the child
            namespace.update({k: v for k, v in ns.items() if not isinstance(v, Proxy)
                              and k not in p.learner_names})
    finally:
        child.stop()
    return verdicts, child


