"""Diagnosing an elementwise function's first mismatch: which typical mistake it looks
like (nan not propagated, a limit at inf missed, the wrong side of a kink, a parameter
ignored, a flipped sign, an unstable form, a rounded constant), said as a hint that never
gives the answer away. The elementwise checks' last step before the message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from course_utils.checks.engine import fmt
from course_utils.checks.specs import Spec

Row = Mapping[str, float]


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
