"""Accuracy of the NumPy reference against a 50-digit mpmath ground truth, beside PyTorch's
and the naive formula's.

For every reference function and derivative, float32 and float64, over the test grid
(``benchmarks/ulp.py``: smallest subnormal to largest float, both signs, a dense [-50, 50], the
overflow thresholds, the roots, +-0, +-inf, nan): the largest error in ULP of the exact value
and, within ``ROOT_WINDOW`` of a derivative's root, the largest absolute error in eps. The
same for PyTorch 2.13 (forward functions, autograd for derivatives) and for the textbook
formula evaluated in the same dtype, with how many of their values are inf or nan where the
exact value is finite (or wrong at +-inf).

    python benchmarks/accuracy.py [--quick]

Target (issue 2): the reference within 4 ULP, or 4 eps absolute near a root.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import course_utils.reference as R  # noqa: E402
from benchmarks import ulp  # noqa: E402
from course_utils.reference.elu import SELU_ALPHA, SELU_LAMBDA  # noqa: E402

TARGET_ULP = 4.0
TARGET_EPS = 4.0
#: torch takes the left side at z = 0 (0, a, alpha, lambda alpha); the note the right side
KINKS = {"relu_grad", "leaky_relu_grad", "prelu_grad", "elu_grad", "selu_grad"}


# --------------------------------------------------------------------------------------
# The competitors: PyTorch and the naive formulas
# --------------------------------------------------------------------------------------


def _autograd(fn, z: np.ndarray) -> np.ndarray:
    t = torch.tensor(z, requires_grad=True)
    fn(t).backward(torch.ones_like(t))
    return t.grad.numpy()


def _beta_grad(z: np.ndarray, beta: float) -> np.ndarray:
    t = torch.tensor(z)
    b = torch.full_like(t, beta, requires_grad=True)  # one beta per element
    (t * torch.sigmoid(b * t)).backward(torch.ones_like(t))
    return b.grad.numpy()


def torch_equivalent(name: str, z: np.ndarray, **p) -> np.ndarray | None:
    """PyTorch's value of ``name`` at z (same dtype), or None where it has none."""
    a = p.get("a", 0.01)
    beta = p.get("beta", 1.0)

    def prelu(t):
        return F.prelu(t, torch.tensor([a], dtype=t.dtype))

    def swish(t):
        return F.silu(t) if beta == 1.0 else t * torch.sigmoid(beta * t)

    alpha = p.get("alpha", 1.0)
    forward = {
        "sigmoid": torch.sigmoid, "stable_sigmoid": torch.sigmoid, "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, a), "prelu": prelu, "swish": swish,
        "mish": F.mish, "softplus": F.softplus, "log_sigmoid": F.logsigmoid,
        "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "elu": lambda t: F.elu(t, alpha), "selu": F.selu,
    }
    grads = {
        "sigmoid_grad": torch.sigmoid, "relu_grad": F.relu,
        "leaky_relu_grad": lambda t: F.leaky_relu(t, a), "prelu_grad": prelu,
        "swish_grad": swish, "mish_grad": F.mish, "gelu_grad": F.gelu,
        "elu_grad": lambda t: F.elu(t, alpha), "selu_grad": F.selu,
    }
    with torch.no_grad():
        if name in forward:
            return forward[name](torch.tensor(z)).numpy()
    if name in grads:
        return _autograd(grads[name], z)
    if name == "swish_grad_beta":
        return _beta_grad(z, beta)
    return None


def naive(name: str, z: np.ndarray, **p) -> np.ndarray | None:
    """The textbook formula, in z's dtype, with NumPy's warnings silenced."""
    a = z.dtype.type(p.get("a", 0.01))
    beta = z.dtype.type(p.get("beta", 1.0))
    alpha = z.dtype.type(p.get("alpha", 1.0))
    one, zero = z.dtype.type(1), z.dtype.type(0)
    lam, alpha_s = z.dtype.type(SELU_LAMBDA), z.dtype.type(SELU_ALPHA)
    with np.errstate(all="ignore"):
        from scipy.special import erf

        cdf = (one + erf(z / np.sqrt(z.dtype.type(2)))) / z.dtype.type(2)
        pdf = np.exp(-z * z / z.dtype.type(2)) / np.sqrt(z.dtype.type(2 * np.pi))
        u = np.sqrt(z.dtype.type(2 / np.pi)) * (z + z.dtype.type(0.044715) * z**3)
        s = one / (one + np.exp(-z))
        sb = one / (one + np.exp(-beta * z))
        tsp = np.tanh(np.log(one + np.exp(z)))
        delta = one - tsp * tsp
        table = {
            "sigmoid": s, "stable_sigmoid": s, "sigmoid_grad": s * (one - s),
            "relu": np.maximum(z, zero), "relu_grad": np.where(z >= 0, one, zero),
            "leaky_relu": np.where(z >= 0, z, a * z), "leaky_relu_grad": np.where(z >= 0, one, a),
            "prelu": np.where(z >= 0, z, a * z), "prelu_grad": np.where(z >= 0, one, a),
            "swish": z * sb, "swish_grad": sb + beta * z * sb * (one - sb),
            "swish_grad_beta": z * z * sb * (one - sb),
            "mish": z * tsp, "mish_delta": delta,
            "mish_grad": delta * z * s + (z * tsp) / z,
            "softplus": np.log(one + np.exp(z)), "log_sigmoid": np.log(s),
            "gelu": z * cdf, "gelu_grad": cdf + z * pdf,
            "gelu_tanh": z * (one + np.tanh(u)) / z.dtype.type(2),
            "elu": np.where(z > 0, z, alpha * (np.exp(z) - one)),
            "elu_grad": np.where(z >= 0, one, alpha * np.exp(z)),
            "selu": lam * np.where(z > 0, z, alpha_s * (np.exp(z) - one)),
            "selu_grad": np.where(z >= 0, lam, lam * alpha_s * np.exp(z)),
        }
        return table.get(name)


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


def _score(y, z, hi, lo, root, mask):
    """(max ULP away from roots, the z where it occurs, max eps near roots, count of
    inf/nan mistakes) over ``mask``."""
    y = np.asarray(y)
    err = ulp.error_in_ulps(y, hi, lo if y.dtype == np.float64 else None)
    special = ~np.isfinite(y) | ~np.isfinite(hi)
    broken = mask & np.isinf(err) & special
    counted = mask & ~broken
    far = counted & ~root
    near = counted & root
    if far.any():
        i = np.flatnonzero(far)[np.argmax(err[far])]
        max_ulp, at = float(err[i]), float(z[i])
    else:
        max_ulp, at = 0.0, None
    eps = np.finfo(y.dtype).eps
    near_eps = float((np.abs(y[near].astype(np.float64) - hi[near]) / eps).max()) \
        if near.any() else None
    return max_ulp, at, near_eps, int(broken.sum())


def measure(quick: bool = False) -> list[dict]:
    """One row per (function, parameters, dtype); see the module docstring."""
    rows = []
    for dtype in (np.float32, np.float64):
        z = ulp.grid(dtype, n_log=300, n_lin=300) if quick else ulp.grid(dtype)
        for name, params in ulp.CASES:
            hi, lo = ulp.truth(name, z, **params)
            root = ulp.near_root(name, z, **params)
            everywhere = np.ones(z.shape, dtype=bool)
            row = {"function": ulp.case_id(name, params), "dtype": np.dtype(dtype).name,
                   "points": int(z.size)}
            ref = getattr(R, name)(z, **params)
            row["ref_ulp"], row["ref_at"], row["ref_root_eps"], row["ref_bad"] = _score(
                ref, z, hi, lo, root, everywhere)
            row["ok"] = (row["ref_ulp"] <= TARGET_ULP and row["ref_bad"] == 0
                         and (row["ref_root_eps"] or 0.0) <= TARGET_EPS)
            for who, fn in (("torch", torch_equivalent), ("naive", naive)):
                y = fn(name, z, **params)
                mask = everywhere if name not in KINKS else (z != 0)
                keys = [f"{who}_{k}" for k in ("ulp", "at", "root_eps", "bad")]
                scores = (None,) * 4 if y is None else _score(
                    y.astype(dtype), z, hi, lo, root, mask)
                row.update(zip(keys, scores, strict=True))
            rows.append(row)
    return rows


# --------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------


def _num(v) -> str:
    if v is None:
        return "—"
    if v == 0:
        return "0"
    if v < 10:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.2g}" if v < 1e6 else f"{v:.1e}"


def _cell(row, who) -> str:
    if row[f"{who}_ulp"] is None:
        return "—"
    text = _num(row[f"{who}_ulp"])
    if row[f"{who}_ulp"] > 1 and row[f"{who}_at"] is not None:
        text += f" @ {row[f'{who}_at']:.4g}"
    if row[f"{who}_root_eps"] is not None:
        text += f" / {_num(row[f'{who}_root_eps'])} eps"
    if row[f"{who}_bad"]:
        text += f" ({row[f'{who}_bad']} inf/nan)"
    return text


def table(rows: list[dict]) -> str:
    lines = [
        "| function | dtype | reference | PyTorch 2.13 | naive formula | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| `{row['function']}` | {row['dtype']} | {_cell(row, 'ref')} | "
            f"{_cell(row, 'torch')} | {_cell(row, 'naive')} | {'✓' if row['ok'] else '✗ MISSED'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points (CI, < 20 s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = measure(quick=args.quick)
    print(table(rows))
    points = ", ".join(f"{r['points']} {r['dtype']}" for r in rows[:: len(ulp.CASES)])
    print(
        f"\nMax error in ULP of the exact value (mpmath, {ulp.DPS} digits) over {points} "
        f"points, \"@ z\" where it occurs (when over 1 ULP); \"/ x eps\": max absolute "
        f"error within {ulp.ROOT_WINDOW} of a derivative's root, where relative error is "
        "meaningless; \"(n inf/nan)\": values that are inf or "
        "nan where the exact value is finite, or wrong at +-inf or nan (not in the ULP "
        "column). "
        "PyTorch's ReLU-family derivatives are scored away from z = 0 (its convention there "
        f"is 0, the note's 1). Target: ≤ {TARGET_ULP:g} ULP, or ≤ {TARGET_EPS:g} eps near a "
        f"root. {sum(r['ok'] for r in rows)}/{len(rows)} reference rows meet it "
        f"({time.perf_counter() - start:.1f} s)."
    )
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
