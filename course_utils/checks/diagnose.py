"""Diagnosing an elementwise function's first mismatch: which typical mistake it looks
like (nan not propagated, a limit at inf missed, the wrong side of a kink, a parameter
ignored, a flipped sign, an unstable form, a rounded constant), said as a hint that never
gives the answer away. The elementwise checks' last step before the message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from course_utils.checks.engine import fmt
from course_utils.checks.specs import SELU_LAMBDA, Spec
from course_utils.units import sigmoid

Row = Mapping[str, float]


def _erf(z):
    from scipy.special import erf  # scipy: only where a 05 mistake is being diagnosed

    return erf(z)


def _cdf(z):
    return 0.5 * (1 + _erf(z / np.sqrt(2.0)))


def _tanh_form(z, cubic=0.044715):
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + cubic * z**3)))


#: name -> f(z, **params) -> [(values of a typical wrong formula, the hint for it)]: the
#: mistakes of 05 whose values give them away (02's and 04's are told apart by the general
#: rules below).
MISTAKES = {
    "gelu": lambda z: [
        (z * sigmoid(1.702 * z), "these are z sigmoid(1.702 z), GELU's sigmoid "
         "approximation (within 0.02 of it): the exact GELU is z Phi(z), with the normal "
         "CDF Phi written with erf."),
        (_tanh_form(z), "these are the tanh approximation's values (gelu_tanh, within 5e-4): "
         "the exact GELU uses erf."),
        (0.5 * z * (1 + _erf(z)), "erf's argument is z / sqrt 2: Phi(z) = (1 + erf(z / "
         "sqrt 2)) / 2.")],
    "gelu_grad": lambda z: [
        (_cdf(z), "that is Phi(z) alone: gelu = z Phi(z) is a product, and the product rule "
         "adds a second term."),
        (_cdf(z) + np.exp(-z**2 / 2) / np.sqrt(2 * np.pi), "the second term of the product "
         "rule is z times phi(z), not phi(z) alone.")],
    "gelu_tanh": lambda z: [
        (z * _cdf(z), "these are the exact GELU's values: gelu_tanh is the tanh form."),
        (_tanh_form(z, 0.0), "the cubic term 0.044715 z**3 inside the tanh is missing.")],
    "elu": lambda z, alpha=1.0: [
        (np.where(z > 0, z, alpha * (np.exp(z) - 1)), "near 0, exp(z) - 1 loses its digits to "
         "rounding (e^z is 1 - tiny): NumPy has a function that computes e^z - 1 exactly.")],
    "selu": lambda z: [
        (np.where(z > 0, z, 1.6732632423543772 * np.expm1(z)), "lambda scales both branches: "
         "without it SELU is just ELU with the paper's alpha."),
        (SELU_LAMBDA * np.where(z > 0, z, 1.6732632423543772 * (np.exp(z) - 1)), "near 0, "
         "exp(z) - 1 loses its digits to rounding: NumPy has a function that computes "
         "e^z - 1 exactly.")],
}


def params_text(row: Row) -> str:
    return ", ".join(f"{k} = {fmt(v)}" for k, v in row.items())


def diagnose(spec: Spec, name: str, z: np.ndarray, row: Row, got: np.ndarray,
              expected: np.ndarray, wrong: np.ndarray,
              others: Sequence[tuple[Row, np.ndarray]] = ()) -> str | None:
    """A hint for the typical mistake behind the mismatches (never the answer itself)."""
    with np.errstate(all="ignore"):
        z = np.broadcast_to(np.asarray(z, dtype=np.float64), wrong.shape)
        g = np.asarray(got, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        zw, gw, ew = z[wrong], g[wrong], e[wrong]
        z0, g0, e0 = zw[0], gw[0], ew[0]
        if np.isnan(z0):
            return ("nan must propagate (nan in, nan out): every comparison with nan is "
                    "False, so a mask or np.where branch can replace it.")
        if np.isinf(z0):
            side = "+inf" if z0 > 0 else "-inf"
            made = " (inf*0 or inf-inf is nan)" if np.isnan(g0) else ""
            return (f"at z = {side} the value is the limit of {name} as z -> {side}{made}: "
                    "treat infinite inputs so that the limit comes out.")
        if not np.isfinite(g0) and np.isfinite(e0):
            if z0 == 0:
                return (f"{name} is finite at z = 0: a division by z there is 0/0; use the "
                        "limit as z -> 0, or a form without the division.")
            return ("an intermediate value overflowed (exp of a large number?) and made "
                    f"{fmt(g0)}: rewrite the formula so that it only exponentiates "
                    "non-positive numbers.")
        if np.all(zw == 0):
            if spec.kink is not None:
                return ("wrong only at the kink z = 0: the derivative is not defined there "
                        "and the note assigns it the value of one side. Which side, > or >=?")
            return (f"wrong only at z = 0: {name}(0) is the limit as z -> 0 (a division by z "
                    "there?).")
        with np.errstate(all="ignore"):
            candidates = MISTAKES.get(spec.name, lambda z, **p: [])(z, **row)
        for values, text in candidates:
            if np.allclose(gw, np.asarray(values, dtype=np.float64)[wrong], rtol=1e-6,
                           atol=1e-300, equal_nan=True):
                return text
        for other, values in others:
            if np.allclose(gw, values[wrong], rtol=1e-9, atol=1e-300, equal_nan=True):
                changed = [k for k in row if row[k] != other.get(k)]
                return (f"with {params_text(row)} your values equal those for "
                        f"{params_text(other)}: does {name} use its "
                        f"{' and '.join(changed) or 'parameter'} argument?")
        nonzero = ew != 0
        if nonzero.any() and np.allclose(gw[nonzero], -ew[nonzero], rtol=1e-6, atol=0):
            return "the sign is flipped: compare your formula with the note's term by term."
        if spec.stable and np.all(np.abs(zw) >= 10):
            return spec.hint
        right = ~wrong
        if np.all(zw < 0) and np.any(right & (z > 0)):
            return ("right for z > 0 but wrong for some z < 0: check what your function "
                    "does for negative z.")
        if np.all(zw > 0) and np.any(right & (z < 0)):
            return ("right for z < 0 but wrong for some z > 0: check what your function "
                    "does for positive z.")
        finite = np.isfinite(gw) & np.isfinite(ew) & (ew != 0)
        if finite.all():
            rel = np.max(np.abs(gw - ew) / np.abs(ew))
            if rel < 1e-2:
                return (f"close, but off by a relative error of up to {rel:.1g}: a rounded "
                        "constant (2.718 for e?) or a float32 step in a float64 computation?")
    return spec.hint or None


def default_hint(spec: Spec, got: np.ndarray, rows: Sequence[Row],
                  values: Sequence[np.ndarray]) -> str:
    defaults = spec.defaults or {}
    names = " and ".join(defaults)
    for row, expected in zip(rows, values, strict=True):
        if row != defaults and np.allclose(got, expected, rtol=1e-9, atol=1e-300,
                                           equal_nan=True):
            return (f"called without {names}, your function behaves as if "
                    f"{params_text(row)}: check the default in your def line "
                    f"({params_text(defaults)}).")
    return (f"called without {names}, your function must use the default "
            f"{params_text(defaults)}: check your def line.")
