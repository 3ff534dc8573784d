r"""One engine for the graded forward/backward pairs of 04 (the MLP, layer normalisation).

A :class:`Pair` is one row of the table: how to call the two functions, the cases each
check runs (the fixture with its answers and the answers of the usual mistakes, property
cases, shapes), and how to draw a random case for the hidden checks. :func:`pair_checks`
turns a row into the six checks the test cells call:

====================  =========================================================
check_forward         the fixture and the row's property cases, values
check_forward_shape   shapes, the inputs left as they were, a new float64 array
hidden_forward        random cases against the reference
check_backward        the fixture, then central differences of the learner's forward
check_backward_shape  shapes, cache and upstream left as they were, the same twice
hidden_backward       random cases against the reference
====================  =========================================================

The learner's cache goes from the learner's forward to the learner's backward untouched:
the checks never look inside it. A backward's outputs are the gradients with respect to
the arrays :attr:`Pair.wrt` names, in that order, and shaped like them.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_utils.checks.engine import (
    Label,
    call,
    central_differences,
    compare,
    fail,
    reports,
    require_array,
    require_same_again,
    require_unchanged,
)

__all__ = ["Case", "Values", "Gradients", "Pair", "pair_checks", "named_mistake"]

RTOL = 1e-6
ATOL = 1e-12
#: Central differences (h = 1e-6) are good to about 1e-8 of the gradient's size: far looser
#: than a fixture, still far tighter than any wrong formula.
DIFFERENCES_RTOL, DIFFERENCES_ATOL = 1e-5, 1e-7


@dataclass(frozen=True)
class Case:
    """One input of a pair.

    args : the forward's positional arguments (arrays, lists of arrays, functions).
    where : the input in words, as messages name it ('tanh, 3 -> 4 -> 2, N = 2').
    kwargs : the forward's keyword arguments (``eps``).
    upstream : dL/d(output), (N, n_out), for the backward (None: a forward-only case).
    extra : the backward's arguments after ``(cache, upstream)`` (the MLP's weights, sigma').
    """

    args: tuple
    where: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    upstream: np.ndarray | None = None
    extra: tuple = ()


@dataclass(frozen=True)
class Values:
    """A forward case of a visible check and the output it must give: an array, the
    learner's own output on another case (a shifted row normalises as the row does), or
    None (shape cases: shape, dtype and inputs only)."""

    case: Case
    expected: np.ndarray | Case | None = None
    hint: str | None = None       # None: the pair's forward_hint
    rtol: float = RTOL
    atol: float = ATOL
    mistakes: Mapping[str, np.ndarray] = field(default_factory=dict)  # hint -> output


@dataclass(frozen=True)
class Gradients:
    """A backward case of a visible check and the gradients it must give (in the order of
    :attr:`Pair.wrt`). ``mistakes`` name a wrong first output."""

    case: Case
    expected: Sequence[np.ndarray]
    rtol: float = RTOL
    atol: float = ATOL
    mistakes: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair:
    """Everything the six checks need to know about one forward/backward pair."""

    forward: str                  # graded names
    backward: str
    key: str                      # how messages name a case: 'network', 'z'
    output: str                   # the forward's output: 'y', 'out'
    columns: str                  # what its columns are: 'unit', 'feature'
    inputs: tuple[str, ...]       # names of the forward's array arguments, in order
    backward_inputs: tuple[str, ...]   # names of (cache, upstream, *extra) checked unchanged
    out_shape: Callable[[tuple], tuple[int, int]]          # args -> the forward's output shape
    wrt: Callable[[tuple], list[tuple[str, np.ndarray]]]   # args -> (label, array) per output
    unpack: Callable[[str, Any, Case, str], list]          # (name, result, case, at) -> outputs
    values: Sequence[Values]      # check_forward
    shapes: Sequence[Values]      # check_forward_shape
    gradients: Sequence[Gradients]     # check_backward: the fixture
    differences: Sequence[Case]        # check_backward: against central differences
    backward_shapes: Sequence[Case]    # check_backward_shape
    random_case: Callable[[np.random.Generator, int, bool], Case]   # (rng, trial, backward)
    reported: Mapping[str, str]   # check name -> what its passed line says
    forward_hint: str
    backward_hint: str
    type_hint: str
    shape_hint: str
    diagnose: Callable[[list, list, int], str | None] = lambda got, expected, n: None
    hidden_forward_tol: tuple[float, float] = (RTOL, ATOL)
    hidden_backward_tol: tuple[float, float] = (RTOL, ATOL)   # atol times max(1, |expected|)
    trials: int = 12

    def at(self, case: Case) -> str:
        return f"input {self.key} = {case.where}"

    def array(self, name: str, value: Any, shape: tuple, what: str, case: Case) -> np.ndarray:
        __tracebackhide__ = True
        return require_array(name, what, value, shape, np.float64, self.at(case),
                             hints={"type": self.type_hint, "shape": self.shape_hint})

    def run_forward(self, fn: Callable, case: Case, args: tuple | None = None):
        """The learner's (output, cache) on deep copies of the case's inputs (or on ``args``
        as given), after checking that it is a pair and that the output is float64."""
        __tracebackhide__ = True
        args = copy.deepcopy(case.args) if args is None else args
        got = call(fn, self.forward, *args, inputs={self.key: Label(case.where)},
                   **case.kwargs)
        if not isinstance(got, tuple) or len(got) != 2:
            fail(self.forward, f"returned a {type(got).__name__}, expected a pair "
                 f"({self.output}, cache).", f"on {self.at(case)}",
                 hint=f"end with `return {self.output}, cache`.")
        self.array(self.forward, got[0], self.out_shape(case.args), self.output, case)
        return got

    def run_backward(self, fn: Callable, cache: Any, upstream: np.ndarray, extra: tuple,
                     case: Case) -> list[np.ndarray]:
        """The learner's gradients, each checked to be float64 and shaped like its array."""
        __tracebackhide__ = True
        got = call(fn, self.backward, cache, upstream, *extra,
                   inputs={self.key: Label(case.where)})
        outputs = self.unpack(self.backward, got, case, self.at(case))
        for (label, like), value in zip(self.wrt(case.args), outputs, strict=True):
            self.array(self.backward, value, like.shape, label, case)
        return outputs

    def compare_forward(self, got, expected, case: Case, *, rtol, atol, hint) -> None:
        __tracebackhide__ = True
        rows, cols = np.shape(expected)
        compare(self.forward, got, expected, rtol=rtol, atol=atol, hint=hint, inputs={
            self.key: Label(case.where), "example": np.arange(rows)[:, None],
            self.columns: np.arange(cols)[None, :]})

    def compare_backward(self, got: list, expected: list, case: Case, *, rtol, atol,
                         source: str = "", mistakes: Mapping[str, np.ndarray] | None = None
                         ) -> None:
        """Each output against its expected value, in order; one hint for the whole result:
        a named mistake, the row's diagnosis, or the backward's formula."""
        __tracebackhide__ = True
        hint = (named_mistake(got[0], mistakes or {})
                or self.diagnose(got, list(expected), case.upstream.shape[0])
                or self.backward_hint)
        for (label, _), value, want in zip(self.wrt(case.args), got, expected, strict=True):
            inputs: dict[str, Any] = {self.key: Label(case.where)}
            if want.ndim == 2:
                inputs |= {f"{label}, row": np.arange(want.shape[0])[:, None],
                           "column": np.arange(want.shape[1])[None, :]}
            else:
                inputs[f"{label}, entry"] = np.arange(want.size)
            compare(self.backward, value, want, inputs=inputs, rtol=rtol, atol=atol,
                    hint=source + hint)


def named_mistake(got: np.ndarray, mistakes: Mapping[str, np.ndarray]) -> str | None:
    """The hint of the mistake whose output ``got`` is (to 1e-9), or None."""
    for hint, wrong in mistakes.items():
        if (isinstance(got, np.ndarray) and got.shape == wrong.shape
                and np.allclose(got, wrong, rtol=1e-9, atol=1e-12)):
            return hint
    return None


def _reference(name: str) -> Callable:
    # Hidden checks only: a student install has no course_utils.reference.
    return getattr(importlib.import_module("course_utils.reference"), name)


def _differences(pair: Pair, forward: Callable, case: Case) -> list[np.ndarray]:
    """dL/d(each wrt array) of L = sum(upstream * forward(*args)[0]), central differences."""
    __tracebackhide__ = True
    args = copy.deepcopy(case.args)

    def loss() -> float:
        out, _ = pair.run_forward(forward, case, args=copy.deepcopy(args))
        return float(np.sum(case.upstream * out))

    return central_differences(loss, [array for _, array in pair.wrt(args)])


def pair_checks(pair: Pair) -> tuple[Callable, ...]:
    """The six checks of ``pair``: check_, check_..._shape and hidden_ of its forward, then
    of its backward (the backward's take the learner's forward second)."""
    fwd, bwd = pair.forward, pair.backward

    @reports(pair.reported["forward"], fwd)
    def check_forward(forward: Callable) -> None:
        __tracebackhide__ = True
        for v in pair.values:
            out, _ = pair.run_forward(forward, v.case)
            expected = (pair.run_forward(forward, v.expected)[0]
                        if isinstance(v.expected, Case) else v.expected)
            pair.compare_forward(out, expected, v.case, rtol=v.rtol, atol=v.atol,
                                 hint=named_mistake(out, v.mistakes) or v.hint
                                 or pair.forward_hint)

    @reports(pair.reported["forward_shape"], fwd)
    def check_forward_shape(forward: Callable) -> None:
        __tracebackhide__ = True
        for v in pair.shapes:
            args = copy.deepcopy(v.case.args)
            saved = copy.deepcopy(args)
            out, _ = pair.run_forward(forward, v.case, args=args)
            n = len(pair.inputs)
            require_unchanged(fwd, pair.inputs, saved[:n], args[:n], pair.at(v.case),
                              hint="compute new arrays rather than `*=`, `-=` or `/=` on "
                                   "your inputs.")
            arrays = [a for arg in args[:n] for a in (arg if isinstance(arg, list) else [arg])]
            if any(np.shares_memory(out, a) for a in arrays):
                fail(fwd, f"returned an input array (or a view of one) as {pair.output}.",
                     f"on {pair.at(v.case)}")
            if v.expected is not None:
                pair.compare_forward(out, v.expected, v.case, rtol=v.rtol, atol=v.atol,
                                     hint=v.hint or pair.forward_hint)

    def hidden_forward(forward: Callable, seed: int = 0) -> None:
        __tracebackhide__ = True
        rng = np.random.default_rng(seed)
        for trial in range(pair.trials):
            case = pair.random_case(rng, trial, False)
            out, _ = pair.run_forward(forward, case)
            expected, _ = _reference(fwd)(*copy.deepcopy(case.args), **case.kwargs)
            rtol, atol = pair.hidden_forward_tol
            pair.compare_forward(out, expected, case, rtol=rtol, atol=atol,
                                 hint=pair.forward_hint)

    @reports(pair.reported["backward"], bwd)
    def check_backward(backward: Callable, forward: Callable) -> None:
        __tracebackhide__ = True
        differences = [Gradients(case, _differences(pair, forward, case), DIFFERENCES_RTOL,
                                 DIFFERENCES_ATOL) for case in pair.differences]
        against = f"against central differences of your {fwd}: "
        for g, source in [(g, "") for g in pair.gradients] + [(g, against) for g in differences]:
            _, cache = pair.run_forward(forward, g.case)
            got = pair.run_backward(backward, cache, g.case.upstream.copy(),
                                    copy.deepcopy(g.case.extra), g.case)
            pair.compare_backward(got, g.expected, g.case, rtol=g.rtol, atol=g.atol,
                                  source=source, mistakes=g.mistakes)

    @reports(pair.reported["backward_shape"], bwd)
    def check_backward_shape(backward: Callable, forward: Callable) -> None:
        __tracebackhide__ = True
        for case in pair.backward_shapes:
            _, cache = pair.run_forward(forward, case)
            given = (cache, case.upstream.copy(), *copy.deepcopy(case.extra))
            saved = copy.deepcopy(given)
            first = pair.run_backward(backward, *given[:2], given[2:], case)
            n = len(pair.backward_inputs)
            require_unchanged(bwd, pair.backward_inputs, saved[:n], given[:n], pair.at(case),
                              hint="compute new arrays rather than `*=`, `+=` or `-=` on "
                                   "what you were given.")
            again = pair.run_backward(backward, *given[:2], given[2:], case)
            require_same_again(bwd, first, again, pair.at(case), "cache",
                               hint="does it change the cache while it runs?")

    def hidden_backward(backward: Callable, forward: Callable, seed: int = 0) -> None:
        __tracebackhide__ = True
        rng = np.random.default_rng(seed)
        for trial in range(pair.trials):
            case = pair.random_case(rng, trial, True)
            _, ref_cache = _reference(fwd)(*copy.deepcopy(case.args), **case.kwargs)
            expected = pair.unpack(bwd, _reference(bwd)(
                ref_cache, case.upstream.copy(), *copy.deepcopy(case.extra)), case, "")
            _, cache = pair.run_forward(forward, case)
            got = pair.run_backward(backward, cache, case.upstream.copy(),
                                    copy.deepcopy(case.extra), case)
            rtol, atol = pair.hidden_backward_tol
            scale = max([1.0] + [float(np.max(np.abs(e), initial=0.0)) for e in expected])
            pair.compare_backward(got, expected, case, rtol=rtol, atol=atol * scale,
                                  source="against the reference: ")

    checks = (check_forward, check_forward_shape, hidden_forward,
              check_backward, check_backward_shape, hidden_backward)
    names = (f"check_{fwd}", f"check_{fwd}_shape", f"hidden_{fwd}",
             f"check_{bwd}", f"check_{bwd}_shape", f"hidden_{bwd}")
    says = (pair.reported["forward"], pair.reported["forward_shape"],
            "random cases against the reference", pair.reported["backward"],
            pair.reported["backward_shape"], "random cases against the reference")
    for i, (check, name, what) in enumerate(zip(checks, names, says, strict=True)):
        check.__name__ = check.__qualname__ = name
        check.__doc__ = f"{fwd if i < 3 else bwd}: {what} (a ``pairs`` check)."
    return checks
