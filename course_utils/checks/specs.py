r"""What the elementwise checks know about each graded function (no reference values here).

One :class:`Spec` per name: its parameters and the values they are tested at, the forward
it differentiates (for ``*_grad``), the note's convention at the kink, the absolute floor
near 0 for each dtype, and the limits at -inf and +inf. The fixtures generator
(``course_utils.fixtures.make``) and the checks both read this table, so the inputs a
fixture holds and the inputs a check feeds can never drift apart.

Tolerances
----------
``|got - expected| <= atol + rtol * |expected|`` with ``rtol`` from ``engine.RTOL``
(1e-6 float64, 1e-4 float32) and ``atol`` from the spec:

* 02's smooth units (values of order 1): ``atol`` 1e-12 (float64), 1e-6 (float32). A correct
  formula loses a few eps *absolutely* near a root (swish_grad, mish_grad cross 0) and where
  ``1 - s`` cancels (``s * (1 - s)`` is 0 for z >= 37 while the truth is ~1e-17), so a pure
  relative test would fail correct work. Every wrong formula is off by far more than 1e-12
  somewhere on the grid.
* 04's stable forms (stable_sigmoid, softplus, log_sigmoid): ``atol`` is the smallest normal
  number, i.e. relative accuracy everywhere except in the subnormal range: exactly what
  the naive formulas lack (``log(1 + exp(-40))`` is 0, the truth 4.2e-18).
* The piecewise-linear units are exact in any correct formulation: same tiny floor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import product

import numpy as np

from course_utils.checks.engine import RTOL

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
DTYPES = (F64, F32)

#: Floors: smooth units of 02 (order-1 values) and exact/stable ones (subnormals only).
SMOOTH_ATOL = {F64: 1e-12, F32: 1e-6}
EXACT_ATOL = {F64: float(np.finfo(np.float64).tiny), F32: float(np.finfo(np.float32).tiny)}


@dataclass(frozen=True)
class Param:
    """A keyword parameter: the values the checks use, and its default (None: required)."""

    name: str
    values: tuple[float, ...]
    default: float | None = None


@dataclass(frozen=True)
class Spec:
    """Everything a check needs to know about one graded elementwise function."""

    name: str
    params: tuple[Param, ...] = ()
    forward: str | None = None        # the function this one differentiates
    kink: float | None = None         # value at z = 0 by the note's convention
    atol: Mapping[np.dtype, float] = field(default_factory=lambda: dict(SMOOTH_ATOL))
    limits: Callable[..., tuple[float, float]] = lambda **p: (np.nan, np.nan)
    stable: bool = False              # a 04 stable form: naive formulas must fail
    roots: Callable[..., tuple[float, ...]] = lambda **p: ()   # to an ulp, for hidden
    hint: str = ""                    # fallback hint when no pattern is recognised
    rtol: Mapping[np.dtype, float] | None = None   # None: engine.RTOL
    points: tuple[float, ...] = ()    # added to check_values' grid (where a mistake shows)
    gain: float = 1.0                 # how much the function magnifies z (SELU's lambda)

    def tolerance(self, dtype) -> tuple[float, float]:
        """(rtol, atol) for ``dtype``."""
        dtype = np.dtype(dtype)
        return (RTOL if self.rtol is None else self.rtol)[dtype], self.atol[dtype]

    @property
    def param_rows(self) -> list[dict[str, float]]:
        """Every combination of tested parameter values ([{}] without parameters)."""
        names = [p.name for p in self.params]
        return [dict(zip(names, combo, strict=True))
                for combo in product(*(p.values for p in self.params))]

    @property
    def defaults(self) -> dict[str, float] | None:
        """The default parameters, or None where a parameter is required."""
        if any(p.default is None for p in self.params):
            return None
        return {p.name: p.default for p in self.params}

    def scale(self, row: Mapping[str, float]) -> float:
        """How much the parameters (and a constant gain) can magnify z (a*z, beta*z,
        lambda*z): the extremes are divided by it so that no correct formula overflows in
        ``beta * z`` itself."""
        return max([1.0, self.gain] + [abs(v) for v in row.values()])

    def grid(self) -> np.ndarray:
        """The float64 grid of ``check_values``: moderate, or wide for 04's stable forms,
        with the spec's own points."""
        base = WIDE_GRID if self.stable else MODERATE_GRID
        return np.sort(np.concatenate([base, self.points])) if self.points else base

    def dtype_grid(self) -> np.ndarray:
        """Twelve values (reshaped to 2-D and 3-D) for ``check_dtype_shape``."""
        return WIDE_DTYPE_GRID if self.stable else DTYPE_GRID


A_LEAKY = Param("a", (0.01, 0.1, 0.25, 0.5), default=0.01)
A_PRELU = Param("a", (0.01, 0.25, 0.5, 2.0))
BETA = Param("beta", (0.0, 0.5, 1.0, 2.0, 10.0), default=1.0)

# Roots of the derivatives that cross 0, to an ulp (the hidden checks probe around them).
SWISH_GRAD_ROOT = -1.2784645427610738   # 1 + x (1 - sigmoid(x)) = 0, x = beta z
MISH_GRAD_ROOT = -1.1924312145154952
GELU_GRAD_ROOT = -0.7517915246935645    # Phi(z) + z phi(z) = 0
#: SELU's scale and the value it saturates to, -lambda alpha (Klambauer et al. 2017).
SELU_LAMBDA = 1.0507009873554805
SELU_FLOOR = -1.7580993408473768
#: float64 SELU must carry the paper's constants to full double precision: a lambda rounded
#: to 1.0507 is off by 9e-7 relative, inside the usual 1e-6.
PRECISE_RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}

ALPHA_ELU = Param("alpha", (1.0, 0.5, 2.0), default=1.0)
#: Where e^z - 1 computed as exp(z) - 1 has lost its digits (np.expm1 keeps them).
NEAR_ZERO = (-1e-12, -1e-200)

_SIGMOID_HINT = ("sigmoid(z) = 1 / (1 + e^(-z)); for large |z| only exponentiate "
                 "non-positive numbers.")
_STABLE_HINT = ("for large |z|, log(1 + tiny) and 1 - (almost 1) lose every digit: "
                "rearrange so that no such cancellation happens (np.log1p helps).")

SPECS: dict[str, Spec] = {s.name: s for s in [
    Spec("sigmoid", limits=lambda: (0.0, 1.0), hint=_SIGMOID_HINT),
    Spec("sigmoid_grad", forward="sigmoid", limits=lambda: (0.0, 0.0),
         hint="the derivative of sigmoid can be written with sigmoid(z) itself."),
    Spec("relu", atol=EXACT_ATOL, limits=lambda: (0.0, np.inf),
         hint="relu(z) is z where z >= 0 and 0 elsewhere."),
    Spec("relu_grad", forward="relu", kink=1.0, atol=EXACT_ATOL, limits=lambda: (0.0, 1.0),
         hint="the slope of relu is 0 on one side of the kink and 1 on the other."),
    Spec("leaky_relu", params=(A_LEAKY,), atol=EXACT_ATOL,
         limits=lambda a: (-np.inf, np.inf),
         hint="leaky_relu(z, a) is z for z >= 0 and a*z otherwise."),
    Spec("leaky_relu_grad", params=(A_LEAKY,), forward="leaky_relu", kink=1.0,
         atol=EXACT_ATOL, limits=lambda a: (a, 1.0),
         hint="the slope is 1 on one side of the kink and a on the other."),
    Spec("prelu", params=(A_PRELU,), atol=EXACT_ATOL, limits=lambda a: (-np.inf, np.inf),
         hint="prelu(z, a) is z for z >= 0 and a*z otherwise, for any slope a "
              "(np.maximum(z, a*z) is only right while a <= 1)."),
    Spec("prelu_grad", params=(A_PRELU,), forward="prelu", kink=1.0, atol=EXACT_ATOL,
         limits=lambda a: (a, 1.0),
         hint="the slope is 1 on one side of the kink and a on the other, for any a."),
    Spec("swish", params=(BETA,), limits=lambda beta: (0.0 if beta > 0 else -np.inf, np.inf),
         hint="swish(z) = z * sigmoid(beta*z): compute the sigmoid stably."),
    Spec("swish_grad", params=(BETA,), forward="swish",
         limits=lambda beta: (0.0, 1.0) if beta > 0 else (0.5, 0.5),
         roots=lambda beta: (SWISH_GRAD_ROOT / beta,) if beta > 0 else (),
         hint="swish is a product of z and sigmoid(beta*z): did you use the product rule, "
              "and the chain rule for beta*z?"),
    Spec("mish", limits=lambda: (0.0, np.inf),
         hint="mish(z) = z * tanh(softplus(z)); compute softplus without overflow."),
    Spec("mish_grad", forward="mish", limits=lambda: (0.0, 1.0),
         roots=lambda: (MISH_GRAD_ROOT,),
         hint="mish'(z) = Delta(z)*swish(z) + mish(z)/z; mish(z)/z can be written "
              "without dividing by z."),
    Spec("mish_delta", limits=lambda: (1.0, 0.0),
         hint="Delta(z) = sech^2(softplus(z)) = 1 / cosh^2(softplus(z)), between 0 and 1."),
    Spec("stable_sigmoid", atol=EXACT_ATOL, stable=True, limits=lambda: (0.0, 1.0),
         hint="for z << 0 sigmoid is tiny but not 0, and must keep its relative accuracy: "
              "form it as a ratio with exp of a non-positive number, not as a difference "
              "of numbers near 1 (1 + tanh, 1 - s)."),
    Spec("softplus", atol=EXACT_ATOL, stable=True, limits=lambda: (0.0, np.inf),
         hint=_STABLE_HINT),
    Spec("log_sigmoid", atol=EXACT_ATOL, stable=True, limits=lambda: (-np.inf, 0.0),
         hint=_STABLE_HINT),
    # 05_beyond_the_note
    Spec("gelu", limits=lambda: (0.0, np.inf),
         hint="gelu(z) = z Phi(z), where Phi(z) = (1 + erf(z / sqrt 2)) / 2 is the standard "
              "normal CDF."),
    Spec("gelu_grad", forward="gelu", limits=lambda: (0.0, 1.0), roots=lambda: (GELU_GRAD_ROOT,),
         hint="gelu is a product of z and Phi(z): the product rule gives two terms, and "
              "Phi' is the normal density phi(z) = exp(-z**2 / 2) / sqrt(2 pi)."),
    Spec("gelu_tanh", limits=lambda: (0.0, np.inf),
         hint="gelu_tanh(z) = z (1 + tanh(sqrt(2/pi) (z + 0.044715 z**3))) / 2; for large "
              "|z| the cube overflows before tanh saturates."),
    Spec("elu", params=(ALPHA_ELU,), atol=EXACT_ATOL, limits=lambda alpha: (-alpha, np.inf),
         points=NEAR_ZERO,
         hint="elu(z) = z for z > 0 and alpha (e^z - 1) otherwise."),
    Spec("elu_grad", params=(ALPHA_ELU,), forward="elu", kink=1.0, atol=EXACT_ATOL,
         limits=lambda alpha: (0.0, 1.0),
         hint="the slope is 1 on one side of 0 and alpha e^z on the other."),
    Spec("selu", atol=EXACT_ATOL, rtol=PRECISE_RTOL, limits=lambda: (SELU_FLOOR, np.inf),
         points=NEAR_ZERO, gain=SELU_LAMBDA,
         hint="selu(z) = lambda z for z > 0 and lambda alpha (e^z - 1) otherwise, with the "
              "paper's lambda and alpha to full double precision."),
    Spec("selu_grad", forward="selu", kink=SELU_LAMBDA, atol=EXACT_ATOL, rtol=PRECISE_RTOL,
         limits=lambda: (0.0, SELU_LAMBDA),
         hint="the slope is lambda on one side of 0 and lambda alpha e^z on the other."),
]}

NAMES = tuple(SPECS)

# ---------------------------------------------------------------------------------------
# Input grids. Exactly representable where possible; the values near the roots of
# swish_grad and mish_grad are there so that a floor too small would show.

MODERATE_GRID = np.array([
    -8.0, -5.0, -3.0, -2.0, -1.5, SWISH_GRAD_ROOT, MISH_GRAD_ROOT, -1.0, -0.5, -0.25, -0.1,
    -1e-3, -1e-8, 0.0, 1e-8, 1e-3, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0,
])
WIDE_GRID = np.sort(np.concatenate([MODERATE_GRID, [
    -1000.0, -800.0, -100.0, -40.0, -30.0, -20.0, -12.0,
    12.0, 20.0, 30.0, 40.0, 100.0, 800.0, 1000.0]]))
DTYPE_GRID = np.array([-6.0, -3.0, -1.5, -1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0, 2.5, 6.0])
WIDE_DTYPE_GRID = np.array([-100.0, -30.0, -12.0, -3.0, -1.0, -0.1, 0.0, 0.5, 2.0, 12.0,
                            30.0, 100.0])
#: 0-d inputs of check_dtype_shape: (value, dtype); the value is in both grids above.
ZERO_D = ((-1.0, F64), (0.5, F32))
PY_SCALAR = -3.0
#: Shapes of check_dtype_shape (twelve elements each).
SHAPES = ((3, 4), (2, 3, 2))

#: Points of check_derivative (float64), away from every kink by far more than the step.
DERIVATIVE_GRID = np.array([-6.0, -4.5, -3.0, -2.0, -1.3, -0.7, -0.3, 0.3, 0.7, 1.3, 2.0,
                            3.0, 4.5, 6.0])
#: Points of check_mish_identity (z != 0) .
IDENTITY_GRID = np.array([-20.0, -8.0, -3.0, -1.5, -1.0, -0.5, -1e-3, 1e-3, 0.5, 1.0, 1.5,
                          3.0, 8.0, 20.0])
MISH_GRAD_AT_0 = 0.6   # tanh(ln 2) = (2 - 1/2) / (2 + 1/2)


def extremes(dtype: np.dtype, scale: float = 1.0) -> np.ndarray:
    """±0, ±1e4, ±1e30, ±largest finite (divided by 2*scale when scale > 1), ±smallest
    subnormal, ±inf, nan — in that order, in ``dtype``."""
    info = np.finfo(dtype)
    big = info.max if scale <= 1.0 else info.max / (2.0 * scale)
    sub = info.smallest_subnormal
    values = [0.0, -0.0, 1e4, -1e4, 1e30, -1e30, big, -big, sub, -sub, np.inf, -np.inf,
              np.nan]
    return np.array(values, dtype=dtype)


def edge_inputs(spec: Spec, dtype: np.dtype) -> list[tuple[dict[str, float], np.ndarray]]:
    """(params, z) pairs of ``check_edge_cases``: every parameter row, its extremes.

    beta = 0 makes ``beta * z`` = 0 * inf = nan at z = ±inf, a degenerate case that the
    course does not grade: there ±inf are replaced by ±1e20.
    """
    pairs = []
    for row in spec.param_rows:
        z = extremes(dtype, spec.scale(row))
        if row.get("beta", 1.0) == 0.0:
            z = np.where(np.isinf(z), np.copysign(np.asarray(1e20, dtype), z), z)
        pairs.append((row, z))
    return pairs


#: prelu_grad_a cases (shapes) and seed of check_prelu_grad_a's fixtures.
PRELU_GRAD_A_SHAPES = ((7,), (3, 4), (2, 3, 4), (5,))
PRELU_GRAD_A_SEED = 20260101


def prelu_grad_a_inputs() -> list[tuple[np.ndarray, float, np.ndarray]]:
    """(z, a, upstream) triples of ``check_prelu_grad_a``, with zeros and both signs."""
    rng = np.random.default_rng(PRELU_GRAD_A_SEED)
    cases = []
    for shape, a in zip(PRELU_GRAD_A_SHAPES, (0.25, 0.01, 0.5, 2.0), strict=True):
        z = np.round(rng.normal(0.0, 2.0, size=shape), 3)
        z.flat[0] = 0.0
        upstream = np.round(rng.normal(0.0, 1.0, size=shape), 3)
        cases.append((z, a, upstream))
    return cases
