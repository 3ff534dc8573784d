"""The NumPy reference keeps the course's contract for graded elementwise functions.

docs/COURSE_PLAN.md: any shape (0-d included) or a Python scalar; float32 and float64 preserved
(ints and scalars give float64); a new array; the input never modified; no RuntimeWarning
anywhere (extremes included); +-inf give the limit; nan propagates; the note's conventions
at the kinks; parameters honoured. Every derivative is checked against two oracles, torch
autograd and central differences, in float64 (STYLE.md).
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import course_utils.reference as R
from course_utils.reference import activations, stability

#: name -> (parameters, value at -inf, value at +inf)
ELEMENTWISE = {
    "sigmoid": ({}, 0.0, 1.0),
    "sigmoid_grad": ({}, 0.0, 0.0),
    "relu": ({}, 0.0, np.inf),
    "relu_grad": ({}, 0.0, 1.0),
    "leaky_relu": ({}, -np.inf, np.inf),
    "leaky_relu_grad": ({}, 0.01, 1.0),
    "prelu": ({"a": 0.25}, -np.inf, np.inf),
    "prelu_grad": ({"a": 0.25}, 0.25, 1.0),
    "swish": ({}, 0.0, np.inf),
    "swish_grad": ({}, 0.0, 1.0),
    "swish_grad_beta": ({}, 0.0, 0.0),
    "mish": ({}, 0.0, np.inf),
    "mish_grad": ({}, 0.0, 1.0),
    "mish_delta": ({}, 1.0, 0.0),
    "stable_sigmoid": ({}, 0.0, 1.0),
    "softplus": ({}, 0.0, np.inf),
    "log_sigmoid": ({}, -np.inf, 0.0),
}
NAMES = sorted(ELEMENTWISE)
DTYPES = [np.float32, np.float64]


def strict(name, z, **params):
    """Call the reference with every floating-point event and warning made an error."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        return getattr(R, name)(z, **{**ELEMENTWISE.get(name, ({},))[0], **params})


def extremes(dtype) -> np.ndarray:
    fi = np.finfo(dtype)
    mags = [0.0, float(fi.smallest_subnormal), float(fi.smallest_normal), 1e-30, 1e-8, 0.5,
            1.0, 20.0, 36.8, 88.8, 104.0, 709.9, 745.2, 1e4, 1e30, float(fi.max), np.inf]
    with np.errstate(over="ignore"):
        pos = np.array(mags).astype(dtype)
    return np.concatenate([pos, -pos, np.array([np.nan], dtype=dtype)])


# --------------------------------------------------------------------------------------
# Shapes, dtypes, copies
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3), (2, 0), (2, 1, 3)])
def test_shape_and_dtype_are_preserved(name, dtype, shape):
    z = np.linspace(-3, 3, int(np.prod(shape))).reshape(shape).astype(dtype)
    out = strict(name, z)
    assert isinstance(out, np.ndarray)
    assert out.shape == shape and out.dtype == dtype


@pytest.mark.parametrize("name", NAMES)
def test_scalars_ints_and_lists_give_float64(name):
    for z in (1.5, -2, np.int32(3), [0, 1, -1], [[0.5], [-0.5]], True):
        out = strict(name, z)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        assert out.shape == np.shape(z)
    assert strict(name, 0.25).ndim == 0  # a Python scalar gives a 0-d array


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_input_is_not_modified_and_output_is_new(name, dtype):
    z = extremes(dtype)
    before = z.copy()
    out = strict(name, z)
    assert out is not z and not np.shares_memory(out, z)
    assert z.tobytes() == before.tobytes()  # bit for bit, -0.0 and nan included
    zero_d = np.array(-1.5, dtype=dtype)
    out = strict(name, zero_d)
    assert out is not zero_d and zero_d == -1.5


def test_complex_and_object_inputs_are_refused_by_name():
    with pytest.raises(TypeError, match="^sigmoid: z must hold real numbers"):
        R.sigmoid(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="^mish: "):
        R.mish(np.array(["a"], dtype=object))


# --------------------------------------------------------------------------------------
# Extremes: no warnings, limits, nan
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_no_warning_and_the_limits_at_the_extremes(name, dtype):
    params, at_minus_inf, at_plus_inf = ELEMENTWISE[name]
    z = extremes(dtype)
    out = strict(name, z)  # raises on any overflow/underflow/invalid/divide or warning
    assert out[np.isneginf(z)][0] == at_minus_inf
    assert out[np.isposinf(z)][0] == at_plus_inf
    assert np.isnan(out[np.isnan(z)]).all()
    assert not np.isnan(out[~np.isnan(z)]).any()


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates_elementwise(name):
    out = strict(name, np.array([np.nan, 1.0, np.nan, -1.0]))
    assert np.isnan(out[[0, 2]]).all() and np.isfinite(out[[1, 3]]).all()


def test_monotone_limits_are_approached_not_overshot():
    z = np.array([-800.0, -40.0, 40.0, 800.0])
    assert (strict("sigmoid", z) >= 0).all() and (strict("sigmoid", z) <= 1).all()
    assert (strict("softplus", z) >= 0).all()
    assert (strict("log_sigmoid", z) <= 0).all()
    assert (strict("mish_delta", z) <= 1).all() and (strict("mish_delta", z) >= 0).all()


# --------------------------------------------------------------------------------------
# The note's conventions and the parameters
# --------------------------------------------------------------------------------------


def test_kinks_follow_the_note():
    zeros = np.array([0.0, -0.0])
    assert (strict("relu_grad", zeros) == 1).all()
    assert (strict("leaky_relu_grad", zeros) == 1).all()
    assert (strict("prelu_grad", zeros, a=0.25) == 1).all()
    assert (strict("relu_grad", np.array([-1e-300, 1e-300])) == [0, 1]).all()


def test_slopes_are_honoured():
    z = np.array([-2.0, -0.5, 0.0, 3.0])
    assert strict("leaky_relu", z).tolist() == [-0.02, -0.005, 0.0, 3.0]
    assert strict("leaky_relu", z, a=0.2).tolist() == [-0.4, -0.1, 0.0, 3.0]
    assert strict("leaky_relu_grad", z, a=0.2).tolist() == [0.2, 0.2, 1.0, 1.0]
    assert strict("prelu", z, a=0.25).tolist() == [-0.5, -0.125, 0.0, 3.0]
    assert strict("prelu_grad", z, a=-0.5).tolist() == [-0.5, -0.5, 1.0, 1.0]
    # a = 0 is ReLU, down to -inf (0 * -inf would be nan)
    zi = np.array([-np.inf, -1.0, 2.0, np.inf])
    assert strict("prelu", zi, a=0.0).tolist() == strict("relu", zi).tolist()
    assert strict("prelu", np.array([-np.inf]), a=-0.5)[0] == np.inf


def test_beta_zero_is_the_line_z_over_2():
    z = np.concatenate([np.linspace(-100, 100, 41), [-np.inf, np.inf, -0.0, 1e308]])
    assert (strict("swish", z, beta=0.0) == z / 2).all()
    assert (strict("swish_grad", z, beta=0.0) == 0.5).all()
    assert strict("swish_grad_beta", np.array([-np.inf, np.inf]), beta=0.0).tolist() == [
        np.inf, np.inf]
    finite = z[np.abs(z) < 1e150]
    np.testing.assert_allclose(strict("swish_grad_beta", finite, beta=0.0), finite**2 / 4,
                               rtol=1e-15)


def test_large_beta_approaches_relu():
    z = np.concatenate([np.linspace(-5, -1e-3, 50), np.linspace(1e-3, 5, 50)])
    np.testing.assert_allclose(strict("swish", z, beta=1e6), strict("relu", z),
                               rtol=1e-15, atol=0)
    np.testing.assert_allclose(strict("swish_grad", z, beta=1e6), strict("relu_grad", z),
                               rtol=1e-15, atol=0)
    assert strict("swish_grad", 0.0, beta=1e6) == 0.5  # the smooth gate halves at 0


def test_beta_changes_the_gate():
    z = np.linspace(-4, 4, 17)
    for beta in (0.5, 1.0, 2.0, -1.0):
        expected = z / (1 + np.exp(-beta * z))
        np.testing.assert_allclose(strict("swish", z, beta=beta), expected, rtol=1e-14,
                                   atol=1e-300)


@pytest.mark.parametrize(("name", "bad", "error"), [
    ("swish", {"beta": np.inf}, ValueError),
    ("swish_grad", {"beta": np.nan}, ValueError),
    ("swish_grad_beta", {"beta": [1.0, 2.0]}, TypeError),
    ("leaky_relu", {"a": "0.1"}, TypeError),
    ("prelu", {"a": np.inf}, ValueError),
])
def test_bad_parameters_are_refused_by_name(name, bad, error):
    with pytest.raises(error, match=f"^{name}: "):
        getattr(R, name)(np.array([1.0]), **bad)


def test_stable_sigmoid_is_the_sigmoid():
    assert R.stable_sigmoid is R.sigmoid


# --------------------------------------------------------------------------------------
# prelu_grad_a
# --------------------------------------------------------------------------------------


def test_prelu_grad_a_is_the_notes_sum():
    z = np.array([[-2.0, 1.0], [-0.5, 0.0]])
    upstream = np.array([[1.0, 5.0], [2.0, 7.0]])
    got = R.prelu_grad_a(z, 0.25, upstream)
    assert isinstance(got, float)
    assert got == 1.0 * -2.0 + 2.0 * -0.5  # only z < 0 counts; 0 at the kink
    assert R.prelu_grad_a(np.float32(-3.0), 0.1, 2.0) == -6.0
    assert R.prelu_grad_a(np.zeros((0,)), 0.1, np.zeros((0,))) == 0.0


def test_prelu_grad_a_is_exactly_summed_and_quiet_at_infinity():
    z = np.array([-1e16, -1.0, -1.0])
    assert strict_grad_a(z, np.ones(3)) == -10000000000000002.0  # not -1e16 (fsum)
    assert strict_grad_a(np.array([-np.inf, -1.0]), np.array([0.0, 2.0])) == -2.0
    assert strict_grad_a(np.array([-np.inf, -1.0]), np.array([1.0, 2.0])) == -np.inf
    assert np.isnan(strict_grad_a(np.array([np.nan, -1.0]), np.array([1.0, 2.0])))
    assert np.isnan(strict_grad_a(np.array([-2.0, -1.0]), np.array([np.nan, 2.0])))


def strict_grad_a(z, up):
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        return R.prelu_grad_a(z, 0.25, up)


def test_prelu_grad_a_matches_torch_autograd():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3, 5))
    z[np.abs(z) < 1e-3] = 0.5  # away from the kink, where torch's convention differs
    upstream = rng.normal(size=z.shape)
    weight = torch.tensor([0.25], dtype=torch.float64, requires_grad=True)
    F.prelu(torch.from_numpy(z), weight).backward(torch.from_numpy(upstream))
    assert R.prelu_grad_a(z, 0.25, upstream) == pytest.approx(weight.grad.item(), rel=1e-13)


def test_prelu_grad_a_refuses_a_mismatched_upstream():
    with pytest.raises(ValueError, match="^prelu_grad_a: upstream must have z's shape"):
        R.prelu_grad_a(np.zeros(3), 0.25, np.zeros(4))


# --------------------------------------------------------------------------------------
# Every derivative against torch autograd and central differences (float64)
# --------------------------------------------------------------------------------------

Z = np.concatenate([np.linspace(-12, 12, 241), [-30.0, -0.3, 0.3, 30.0]])
Z = Z[np.abs(Z) > 1e-6]  # away from the kinks
#: torch autograd forms s * (1 - s) and so loses relative accuracy like e^|beta z| eps in
#: the tails (test_reference_accuracy measures that); as an oracle for the *formula* it is
#: used where it is accurate to 1e-12: |beta z| <= 6.
Z_TORCH = Z[np.abs(Z) <= 6]


def _autograd(fn, z, **params):
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    fn(t, **params).sum().backward()
    return t.grad.numpy()


def _beta_autograd(z, beta):
    b = torch.tensor(beta, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(z, dtype=torch.float64)
    (t * torch.sigmoid(b * t)).backward(torch.ones_like(t))  # one beta per element: sum
    return b.grad.item()


#: derivative -> (forward, torch forward, parameters)
DERIVATIVES = {
    "sigmoid_grad": ("sigmoid", torch.sigmoid, {}),
    "relu_grad": ("relu", F.relu, {}),
    "leaky_relu_grad": ("leaky_relu", lambda t: F.leaky_relu(t, 0.01), {}),
    "prelu_grad": ("prelu", lambda t: F.prelu(t, torch.tensor([0.3], dtype=t.dtype)),
                   {"a": 0.3}),
    "swish_grad": ("swish", F.silu, {}),
    "mish_grad": ("mish", F.mish, {}),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivative_matches_torch_autograd(name):
    _, torch_fn, params = DERIVATIVES[name]
    np.testing.assert_allclose(strict(name, Z_TORCH, **params), _autograd(torch_fn, Z_TORCH),
                               rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.7, 4.0])
def test_swish_derivatives_match_torch_autograd_for_any_beta(beta):
    z = Z[np.abs(beta * Z) <= 6]
    expected = _autograd(lambda t: t * torch.sigmoid(beta * t), z)
    np.testing.assert_allclose(strict("swish_grad", z, beta=beta), expected, rtol=1e-12,
                               atol=1e-15)
    got = strict("swish_grad_beta", z, beta=beta)
    expected = np.array([_beta_autograd(np.array([v]), beta) for v in z])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


def test_mish_delta_matches_torch_and_the_notes_identity():
    t = torch.from_numpy(Z)
    expected = 1.0 / torch.cosh(F.softplus(t)) ** 2
    np.testing.assert_allclose(strict("mish_delta", Z), expected.numpy(), rtol=1e-12)
    # mish'(z) = Delta(z) swish(z) + mish(z)/z
    rebuilt = strict("mish_delta", Z) * strict("swish", Z) + strict("mish", Z) / Z
    np.testing.assert_allclose(strict("mish_grad", Z), rebuilt, rtol=1e-12, atol=1e-15)
    assert strict("mish_grad", 0.0) == pytest.approx(0.6, abs=1e-16)  # the z -> 0 limit


@pytest.mark.parametrize("name", sorted(DERIVATIVES) + ["swish_grad_beta", "mish_delta"])
def test_derivative_matches_central_differences(name):
    if name == "swish_grad_beta":
        def forward(b):  # d/d beta at z = 1.3, as a function of beta
            return R.swish(1.3, beta=float(b))
        got = strict(name, 1.3, beta=0.8)
        est = R.numerical_derivative(lambda bs: np.array([forward(b) for b in bs]), [0.8])
        assert got == pytest.approx(est[0], rel=1e-8)
        return
    if name == "mish_delta":  # Delta = d tanh(softplus(z)) / d softplus(z)
        def forward(z):
            return np.tanh(R.softplus(z))
        est = R.numerical_derivative(forward, Z) / R.sigmoid(Z)  # chain rule
        np.testing.assert_allclose(strict(name, Z), est, rtol=1e-6, atol=1e-10)
        return
    forward, _, params = DERIVATIVES[name]
    est = R.numerical_derivative(lambda z: getattr(R, forward)(z, **params), Z)
    np.testing.assert_allclose(strict(name, Z, **params), est, rtol=1e-8, atol=1e-9)


def test_stable_forms_have_the_right_derivatives():
    est = R.numerical_derivative(R.softplus, Z)
    np.testing.assert_allclose(est, R.sigmoid(Z), rtol=1e-8, atol=1e-9)
    est = R.numerical_derivative(R.log_sigmoid, Z)
    np.testing.assert_allclose(est, R.sigmoid(-Z), rtol=1e-8, atol=1e-9)


# --------------------------------------------------------------------------------------
# numerical_derivative
# --------------------------------------------------------------------------------------


def test_numerical_derivative_error_is_order_h_squared():
    z = np.array([0.3, 1.0, 2.0])
    exact = np.cos(z)
    third = -np.cos(z)  # sin''' = -cos: the error is h**2/6 * f'''
    for h in (1e-2, 3e-3, 1e-3):
        err = R.numerical_derivative(np.sin, z, h=h) - exact
        np.testing.assert_allclose(err / h**2, third / 6, rtol=2e-3)
    # on a reference function: halving h divides the error by 4
    z = np.array([-1.0, 0.5])
    exact = R.mish_grad(z)
    e1 = np.abs(R.numerical_derivative(R.mish, z, h=1e-2) - exact)
    e2 = np.abs(R.numerical_derivative(R.mish, z, h=5e-3) - exact)
    np.testing.assert_allclose(e1 / e2, 4.0, rtol=1e-2)


def test_numerical_derivative_contract():
    out = R.numerical_derivative(np.sin, np.zeros((2, 3), dtype=np.float32))
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert R.numerical_derivative(np.sin, 0.0).shape == ()
    z = np.array([1.0, 2.0])
    R.numerical_derivative(np.exp, z)
    assert z.tolist() == [1.0, 2.0]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        assert np.isnan(R.numerical_derivative(R.relu, np.array([np.inf]))).all()
    assert R.numerical_derivative(R.relu, 0.0) == pytest.approx(0.5)  # average slope
    with pytest.raises(ValueError, match="^numerical_derivative: h must be positive"):
        R.numerical_derivative(np.sin, 1.0, h=0.0)
    with pytest.raises(TypeError, match="^numerical_derivative: f must be callable"):
        R.numerical_derivative("sin", 1.0)


# --------------------------------------------------------------------------------------
# The documentation runs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [activations, stability], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"np": np})
    assert result.failed == 0 and result.attempted > 0


def test_every_graded_name_is_documented_with_a_formula_and_an_example():
    for name in activations.__all__ + stability.__all__:
        doc = getattr(R, name).__doc__
        assert doc and "Parameters" in doc and "Returns" in doc and ">>>" in doc, name
