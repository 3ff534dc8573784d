r"""Checks of the initialisers (04's ``xavier_normal``, ``he_normal``, 05's ``lecun_normal``:
sample statistics within 6 standard errors, every draw from ``rng``) and of
``layer_gradient_norms`` (fixtures computed once with the reference, the calls it makes to
``init``; hidden: the reference on random depths, widths and inits)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_utils.checks.engine import (
    call,
    call_repeated,
    compare,
    describe_inputs,
    fail,
    fmt,
    reports,
    require_array,
)
from course_utils.checks.pairs import ATOL, RTOL
from course_utils.units import ACTIVATIONS, tanh_grad

__all__ = [
    "check_init_statistics",
    "check_init_rng",
    "hidden_init",
    "hidden_init_rng",
    "check_layer_gradient_norms",
    "check_layer_gradient_norms_params",
    "hidden_layer_gradient_norms",
]


def gain_init(gain):
    """init(fan_in, fan_out, rng) = gain * N(0, 1) / sqrt(fan_in): the checks' own init."""
    def init(fan_in, fan_out, rng):
        return rng.standard_normal((fan_out, fan_in)) * gain / np.sqrt(fan_in)
    init.__name__ = f"init(gain={gain:.3g})"
    return init


#: (depth, width, activation, gain, seed) -> the reference's layer_gradient_norms.
NORM_FIXTURES = {
    (3, 4, "tanh", 1.0, 7):
        np.array([0.18718407164944087, 0.062434585623775865, 0.3178191069268783]),
    (5, 3, "relu", 2.0 ** 0.5, 11):
        np.array([0.018661856879184174, 0.3767891218458327, 0.24059512996614277,
                  0.01620728462646031, 0.016086835210771044]),
    (4, 5, "sigmoid", 1.0, 3):
        np.array([0.002139576774967145, 0.03872148073874057, 0.18936556930966705,
                  0.49145772083713396]),
}


# --------------------------------------------------------------------------------------
# xavier_normal, he_normal

_INIT_VARIANCE = {
    "xavier_normal": (lambda fan_in, fan_out: 2.0 / (fan_in + fan_out), "2 / (fan_in + fan_out)"),
    "he_normal": (lambda fan_in, fan_out: 2.0 / fan_in, "2 / fan_in"),
    "lecun_normal": (lambda fan_in, fan_out: 1.0 / fan_in, "1 / fan_in"),
}
#: Standard errors a correct sampler stays within (a 1-in-10^8 event per statistic).
_K = 6.0


def _init_name(name):
    if name not in _INIT_VARIANCE:
        raise ValueError(f"check_init_statistics: name must be one of {list(_INIT_VARIANCE)}, "
                         f"got {name!r}.")
    return _INIT_VARIANCE[name]


def _draw(fn, name, fan_in, fan_out, rng, times=None):
    """One matrix W = fn(fan_in, fan_out, rng), checked; with ``times``, a list of that many
    (drawn one after the other from ``rng``)."""
    __tracebackhide__ = True
    inputs = {"fan_in": fan_in, "fan_out": fan_out}
    where = describe_inputs(inputs)
    draws = (call_repeated(fn, name, times, fan_in, fan_out, rng, inputs=inputs) if times
             else [call(fn, name, fan_in, fan_out, rng, inputs=inputs)])
    hints = {"type": "build it with NumPy operations (@, np.tanh, ...).",
             "shape": "W maps fan_in inputs to fan_out outputs: shape (fan_out, fan_in)."}
    checked = [require_array(name, "the result", W, (fan_out, fan_in), np.float64,
                             f"input {where}", hints=hints) for W in draws]
    return checked if times else checked[0]


_OTHER_VARIANCES = {
    "2 / fan_out": lambda fan_in, fan_out: 2.0 / fan_out,
    "1 / fan_in": lambda fan_in, fan_out: 1.0 / fan_in,
    "2 / fan_in": lambda fan_in, fan_out: 2.0 / fan_in,
    "2 / (fan_in + fan_out)": lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
    "1 / (fan_in + fan_out)": lambda fan_in, fan_out: 1.0 / (fan_in + fan_out),
}


def _statistics(name, samples, variance, formula, where, fans=None):
    """Mean, variance and kurtosis of ``samples`` against N(0, variance), within _K SE."""
    __tracebackhide__ = True
    n = samples.size
    if not np.all(np.isfinite(samples)):
        fail(name, "returned values that are not finite.", f"on input {where}")
    mean, var = float(samples.mean()), float(samples.var())
    if abs(mean) > _K * np.sqrt(variance / n):
        fail(name, f"the mean of {n} draws is {mean:.4g}, expected 0 "
                   f"(within {_K * np.sqrt(variance / n):.3g}).",
             f"on input {where}", hint="the weights are centred: N(0, variance).")
    tol = _K * np.sqrt(2.0 / (n - 1))
    if abs(var / variance - 1) > tol:
        hint = f"the variance is {formula}."
        if abs(var / variance ** 2 - 1) < tol:
            hint = ("the scale argument of rng.normal is the standard deviation, "
                    "the square root of the variance.")
        elif abs(np.sqrt(var) / variance - 1) < tol:
            hint = "the variance is the square of the standard deviation."
        elif fans is not None:
            for other, variance_of in _OTHER_VARIANCES.items():
                if other != formula and abs(var / variance_of(*fans) - 1) < tol:
                    hint = f"your draws have variance {other}; this initialisation uses {formula}."
        fail(name, f"the variance of {n} draws is {var:.4g}, expected {formula} = "
                   f"{variance:.4g} (within {100 * tol:.1f}%).",
             f"on input {where}", hint=hint)
    kurtosis = float(np.mean((samples - mean) ** 4) / var ** 2)
    if abs(kurtosis - 3.0) > _K * np.sqrt(24.0 / n):
        fail(name, f"the draws do not look normal: kurtosis {kurtosis:.2f}, expected 3 "
                   f"(within {_K * np.sqrt(24.0 / n):.2f}).",
             f"on input {where}",
             hint="draw from a normal distribution (rng.normal), not a uniform or truncated one.")


@reports("mean, variance and shape of the draws")
def check_init_statistics(fn: Callable, name: str) -> None:
    """``fn(fan_in, fan_out, rng)`` draws W (fan_out, fan_in) ~ N(0, variance) entrywise.

    ``name`` is "xavier_normal" (variance 2 / (fan_in + fan_out)), "he_normal"
    (variance 2 / fan_in) or "lecun_normal" (1 / fan_in). Sample mean, variance and
    kurtosis must lie within 6 standard errors, which a correct sampler meets for any seed
    (fixed here: seed 2024).
    """
    __tracebackhide__ = True
    variance_of, formula = _init_name(name)
    rng = np.random.default_rng(2024)
    for fan_in, fan_out in [(200, 100), (100, 300)]:
        W = _draw(fn, name, fan_in, fan_out, rng)
        where = describe_inputs({"fan_in": fan_in, "fan_out": fan_out})
        _statistics(name, W, variance_of(fan_in, fan_out), formula, where, (fan_in, fan_out))


@reports("shape, dtype, every draw from rng")
def check_init_rng(fn: Callable, name: str) -> None:
    """Shape (fan_out, fan_in), float64; every draw comes from ``rng``.

    The same seed gives the same matrix, different seeds different ones.
    """
    __tracebackhide__ = True
    _init_name(name)
    for fan_in, fan_out in [(3, 5), (7, 2), (1, 1), (4, 4)]:
        _draw(fn, name, fan_in, fan_out, np.random.default_rng(0))
    first = _draw(fn, name, 6, 4, np.random.default_rng(123))
    second = _draw(fn, name, 6, 4, np.random.default_rng(123))
    where = describe_inputs({"fan_in": 6, "fan_out": 4})
    if not np.array_equal(first, second):
        fail(name, "gave different weights for two generators with the same seed.",
             f"on input {where}, rng = np.random.default_rng(123) twice",
             hint="draw from the rng argument (rng.normal(...)), not from np.random.")
    other = _draw(fn, name, 6, 4, np.random.default_rng(124))
    if np.array_equal(first, other):
        fail(name, "gave the same weights for seeds 123 and 124.", f"on input {where}",
             hint="draw from the rng you are given; do not create a new generator inside.")


def hidden_init(fn: Callable, name: str, seed: int = 0) -> None:
    """More shapes (thin, wide, tiny fans pooled over many draws) against the variance."""
    __tracebackhide__ = True
    variance_of, formula = _init_name(name)
    rng = np.random.default_rng(seed)
    for fan_in, fan_out in [(784, 256), (64, 64), (3, 4000), (4000, 3)]:
        W = _draw(fn, name, fan_in, fan_out, rng)
        _statistics(name, W, variance_of(fan_in, fan_out), formula,
                    describe_inputs({"fan_in": fan_in, "fan_out": fan_out}), (fan_in, fan_out))
    for fan_in, fan_out in [(1, 2), (2, 3), (5, 1)]:
        pooled = np.concatenate([W.ravel() for W in _draw(fn, name, fan_in, fan_out, rng,
                                                          times=3000)])
        _statistics(name, pooled, variance_of(fan_in, fan_out), formula,
                    describe_inputs({"fan_in": fan_in, "fan_out": fan_out}) + " (3000 draws)")


def hidden_init_rng(fn: Callable, name: str, seed: int = 0) -> None:
    """More shapes (thin, wide, 1 x 1): the shape, float64, the same draws for the same
    seed, new draws from the same generator, every draw from ``rng``."""
    __tracebackhide__ = True
    _init_name(name)
    shapes = np.random.default_rng(seed).integers(1, 40, size=(6, 2))
    for fan_in, fan_out in [(1, 1), (1, 300), (300, 1), *(tuple(int(v) for v in s)
                                                           for s in shapes)]:
        where = describe_inputs({"fan_in": fan_in, "fan_out": fan_out})
        rng = np.random.default_rng(seed + fan_in * 1000 + fan_out)
        first, again = _draw(fn, name, fan_in, fan_out, rng, times=2)
        same = _draw(fn, name, fan_in, fan_out,
                     np.random.default_rng(seed + fan_in * 1000 + fan_out))
        if not np.array_equal(first, same):
            fail(name, "gave different weights for two generators with the same seed.",
                 f"on input {where}", hint="draw from the rng argument, not from np.random.")
        if fan_in * fan_out > 1 and np.array_equal(first, again):
            fail(name, "gave the same weights twice from one generator.", f"on input {where}",
                 hint="draw from the rng you are given; do not re-seed it inside.")


# --------------------------------------------------------------------------------------
# layer_gradient_norms


def _norms_call(fn, depth, width, act, init, rng):
    __tracebackhide__ = True
    name = "layer_gradient_norms"
    inputs = {"depth": depth, "width": width, "sigma": act, "init": init.__name__}
    sigma, sigma_grad = ACTIVATIONS[act] if isinstance(act, str) else act
    out = call(fn, name, depth, width, sigma, sigma_grad, init, rng, inputs=inputs)
    where = describe_inputs(inputs)
    if not isinstance(out, np.ndarray):
        fail(name, f"returned a {type(out).__name__}, expected a NumPy array.",
             f"on input {where}", hint="return np.array([...]) of the per-layer norms.")
    if out.shape != (depth,):
        fail(name, f"returned shape {out.shape}, expected ({depth},): one norm per layer.",
             f"on input {where}")
    if out.dtype != np.float64:
        fail(name, f"returned dtype {out.dtype}, expected float64.", f"on input {where}")
    return out, {"depth": depth, "width": width}


def _norms_hint(got, expected):
    with np.errstate(all="ignore"):
        if np.allclose(got, expected[::-1], rtol=1e-6):
            return "the first entry is layer 1, the layer next to the input."
        if np.allclose(got, expected ** 2, rtol=1e-6):
            return "the Frobenius norm is the square root of the sum of squares."
        ratio = got / expected
        if np.allclose(ratio, ratio[0], rtol=1e-6):
            return (f"every layer is off by the same factor {fmt(ratio[0])}: "
                    "dL/dy = np.ones((32, width)) / 32, and grads sum over the batch.")
    return ("follow the docstring's order of draws: all weights first (init(width, width, rng) "
            "layer by layer), then x = rng.standard_normal((32, width)).")


@reports("norms of tanh, ReLU and sigmoid networks", "layer_gradient_norms")
def check_layer_gradient_norms(fn: Callable) -> None:
    """Three small networks (tanh, ReLU, sigmoid) against fixtures, seeds fixed."""
    __tracebackhide__ = True
    for (depth, width, act, gain, seed), expected in NORM_FIXTURES.items():
        got, inputs = _norms_call(fn, depth, width, act, gain_init(gain),
                                  np.random.default_rng(seed))
        compare("layer_gradient_norms", got, expected,
                inputs={**inputs, "seed": seed, "layer": np.arange(1, depth + 1)},
                rtol=RTOL, atol=ATOL, hint=_norms_hint(got, expected))


@reports("init called per layer with rng, sigma_grad used", "layer_gradient_norms")
def check_layer_gradient_norms_params(fn: Callable) -> None:
    """Every parameter is used: init called depth times on rng, sigma_grad, the seed."""
    __tracebackhide__ = True
    name = "layer_gradient_norms"
    calls = []
    base = gain_init(1.0)

    def recording_init(fan_in, fan_out, rng):
        calls.append((fan_in, fan_out, rng))
        return base(fan_in, fan_out, rng)

    recording_init.__name__ = "recording init"
    rng = np.random.default_rng(7)
    _norms_call(fn, 3, 4, "tanh", recording_init, rng)
    where = "depth = 3, width = 4"
    if len(calls) != 3:
        fail(name, f"called init {len(calls)} times, expected 3 (once per layer).",
             f"on input {where}", hint="weights = [init(width, width, rng) for each layer].")
    if any((fi, fo) != (4, 4) for fi, fo, _ in calls):
        fail(name, f"called init with (fan_in, fan_out) = {[c[:2] for c in calls]}, "
                   "expected (4, 4) each time.", f"on input {where}")
    if any(r is not rng for _, _, r in calls):
        fail(name, "passed init a different generator from the rng it was given.",
             f"on input {where}", hint="pass rng itself, so that one seed fixes everything.")
    # sigma_grad is used: doubling it scales layer l's gradient by 2^(depth - l + 1).
    expected = NORM_FIXTURES[3, 4, "tanh", 1.0, 7]
    got, inputs = _norms_call(fn, 3, 4, (np.tanh, lambda z: 2.0 * tanh_grad(z)), base,
                              np.random.default_rng(7))
    compare(name, got, expected * 2.0 ** np.arange(3, 0, -1),
            inputs={"depth": 3, "width": 4, "layer": np.arange(1, 4)}, rtol=RTOL, atol=ATOL,
            hint="with sigma_grad = 2 * tanh', every delta doubles: is sigma_grad used "
                 "in every layer of the backward pass?")
    # the seed decides: different seeds, different norms.
    one, _ = _norms_call(fn, 3, 4, "tanh", base, np.random.default_rng(1))
    two, _ = _norms_call(fn, 3, 4, "tanh", base, np.random.default_rng(2))
    if np.array_equal(one, two):
        fail(name, "gave the same norms for seeds 1 and 2.", f"on input {where}",
             hint="draw the weights and x from the rng argument.")


def hidden_layer_gradient_norms(fn: Callable, seed: int = 0) -> None:
    """Random depths, widths, activations and initialisations against the reference."""
    __tracebackhide__ = True
    from course_utils import reference

    # The checks' own inits: a learner function gets nothing of the reference to call.
    inits = [gain_init(1.0), gain_init(2.0), gain_init(0.5), gain_init(2.0 ** 0.5)]
    rng = np.random.default_rng(seed)
    for trial in range(10):
        act = ["tanh", "sigmoid", "relu"][trial % 3]
        depth, width = int(rng.integers(1, 13)), int(rng.integers(2, 17))
        init = inits[trial % len(inits)]
        run_seed = int(rng.integers(0, 2 ** 31))
        expected = reference.layer_gradient_norms(depth, width, *ACTIVATIONS[act], init,
                                                  np.random.default_rng(run_seed))
        got, inputs = _norms_call(fn, depth, width, act, init, np.random.default_rng(run_seed))
        compare("layer_gradient_norms", got, expected,
                inputs={**inputs, "seed": run_seed, "layer": np.arange(1, depth + 1)},
                rtol=RTOL, atol=ATOL, hint=_norms_hint(got, expected))
