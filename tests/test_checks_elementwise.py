"""The elementwise checks: the reference and other correct formulations pass every check,
and a catalogue of typical wrong answers fails each with a message that names the problem.

Pure Python (no notebooks): each check runs in milliseconds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from nbsession import message_items
from scipy.special import erfc, expit, ndtr

import course_utils.reference as ref
from course_utils import checks as E
from course_utils.checks.engine import WIDTH, wrap
from course_utils.checks.specs import NAMES, SPECS

DERIVATIVES = [n for n, s in SPECS.items() if s.forward]


def visible_and_hidden(fn, name):
    """Every check that applies to one elementwise function."""
    E.check_values(fn, name)
    E.check_edge_cases(fn, name)
    E.check_dtype_shape(fn, name)
    E.hidden_values(fn, name)
    E.hidden_edge_cases(fn, name)


def failure(check, *args) -> str:
    """The message of a check that must fail; at most six lines, nothing else raised."""
    with pytest.raises(AssertionError) as info:
        check(*args)
    text = str(info.value)
    assert len(message_items(text)) <= 6, text
    shown = info.value._render_traceback_()  # what JupyterLab, Validate and feedback show
    assert all(len(line.replace("\x1b[0;31m", "").replace("\x1b[0m", "")) <= WIDTH
               for line in shown), shown
    assert " ".join(" ".join(shown).split()).endswith(" ".join(text.split()[-3:]))
    return text


def test_messages_wrap_at_word_boundaries_and_passing_checks_say_so(capsys):
    long = "word " * 40
    wrapped = wrap(f"Hint: {long}", "  ")
    assert all(len(line) <= WIDTH for line in wrapped.splitlines())
    assert all(line.endswith("word") for line in wrapped.splitlines())  # no word is cut
    assert " ".join(message_items(wrapped)[0].split()) == f"Hint: {long}".strip()
    E.check_values(ref.swish_grad, "swish_grad")
    out = capsys.readouterr()
    assert out.err == ""  # stderr would score the cell 0
    assert out.out.startswith("✓ swish_grad: values on the grid") and "within rtol 1e-06" in out.out
    E.hidden_values(ref.swish_grad, "swish_grad")
    assert capsys.readouterr().out == ""  # hidden checks stay silent


def assert_names(text: str, *parts: str) -> None:
    for part in parts:
        assert part in text, f"{part!r} not in message:\n{text}"


# ---------------------------------------------------------------------------------------
# Correct formulations other than the reference's. Each handles ±inf, nan and both
# dtypes the way the course asks; none uses the reference.


def _zf(z):
    """z with ±inf replaced by 0 (to keep inf * 0 out of a product)."""
    return np.where(np.isinf(z), 0, z)


def sigmoid_logaddexp(z):
    return np.exp(-np.logaddexp(0, -np.asarray(z)))


def sigmoid_masked(z):
    z = np.asarray(z)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1 + e)
    return out


def sigmoid_tanh(z):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(z)))


def sigmoid_grad_product(z):
    s = expit(z)
    return s * (1 - s)


def sigmoid_grad_exp(z):
    e = np.exp(-np.abs(z))
    return e / (1 + e) ** 2


def relu_where(z):
    return np.where(np.asarray(z) < 0, 0, z)


def relu_grad_heaviside(z):
    return np.heaviside(z, 1.0)


def relu_grad_where(z):
    z = np.asarray(z)
    return np.where(z >= 0, 1.0, np.where(np.isnan(z), np.nan, 0.0)).astype(z.dtype)


def leaky_relu_where(z, a=0.01):
    return np.where(np.asarray(z) >= 0, z, a * np.asarray(z))


def leaky_relu_split(z, a=0.01):
    return np.maximum(z, 0) + a * np.minimum(z, 0)


def leaky_relu_max(z, a=0.01):  # right while a <= 1, as for Leaky ReLU
    return np.maximum(z, a * np.asarray(z))


def leaky_relu_grad_where(z, a=0.01):
    return np.where(np.asarray(z) < 0, a, np.heaviside(z, 1.0))


def leaky_relu_grad_blend(z, a=0.01):
    return a + (1 - a) * np.heaviside(z, 1.0)


def swish_masked_inf(z, beta=1.0):
    z = np.asarray(z)
    return np.where(z == np.inf, z, _zf(z) * expit(beta * z))


def swish_errstate(z, beta=1.0):
    z = np.asarray(z)
    with np.errstate(invalid="ignore"):
        y = z * expit(beta * z)
    return np.where(np.isneginf(z), 0, y)


def swish_branches(z, beta=1.0):
    z = np.asarray(z)
    x = beta * z
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return np.where(z == np.inf, z, _zf(z) * s)


def swish_grad_product_rule(z, beta=1.0):
    z = np.asarray(z)
    s = expit(beta * z)
    return s + beta * _zf(z) * s * (1 - s)


def swish_grad_sigmoids(z, beta=1.0):
    z = np.asarray(z)
    return expit(beta * z) + beta * _zf(z) * expit(beta * z) * expit(-beta * z)


def mish_logaddexp(z):
    z = np.asarray(z)
    return np.where(z == -np.inf, 0, z) * np.tanh(np.logaddexp(0, z))


def mish_log1p(z):
    z = np.asarray(z)
    softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    return np.where(z == -np.inf, 0, z) * np.tanh(softplus)


def mish_grad_delta(z):
    z = np.asarray(z)
    t = np.tanh(np.logaddexp(0, z))
    return (1 - t * t) * _zf(z) * expit(z) + t


def mish_delta_tanh(z):
    return 1 - np.tanh(np.logaddexp(0, z)) ** 2


def mish_delta_exp(z):
    u = np.exp(-np.logaddexp(0, z)) ** 2
    return 4 * u / (1 + u) ** 2


def softplus_log1p(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def log_sigmoid_logaddexp(z):
    return -np.logaddexp(0, -np.asarray(z))


def log_sigmoid_log1p(z):
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


def gelu_erfc(z):
    z = np.asarray(z)
    phi = 0.5 * erfc(-z / 2**0.5)
    return np.where(phi == 0, 0.0, z) * phi


def gelu_ndtr(z):
    z = np.asarray(z)
    phi = ndtr(z)
    return np.where(phi == 0, 0.0, z) * phi


def gelu_grad_clip(z):
    z = np.asarray(z)
    zc = np.clip(z, -40.0, 40.0)
    return ndtr(z) + zc * np.exp(-0.5 * zc * zc) / (2 * np.pi) ** 0.5


def gelu_tanh_sigmoid(z):
    z = np.asarray(z)
    zc = np.clip(z, -1e4, 1e4)
    gate = expit(2 * (2 / np.pi) ** 0.5 * (zc + 0.044715 * zc**3))
    return np.where(gate == 0, 0.0, z) * gate


def elu_where(z, alpha=1.0):
    z = np.asarray(z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_split(z, alpha=1.0):
    return np.maximum(z, 0) + alpha * np.expm1(np.minimum(z, 0))


def elu_grad_where(z, alpha=1.0):
    z = np.asarray(z)
    return np.where(z >= 0, 1.0, alpha * np.exp(np.minimum(z, 0)))


SELU_LAMBDA, SELU_ALPHA = 1.0507009873554804934, 1.6732632423543772848


def selu_where(z):
    return SELU_LAMBDA * elu_where(z, SELU_ALPHA)


def selu_grad_where(z):
    return SELU_LAMBDA * elu_grad_where(z, SELU_ALPHA)


CORRECT = {
    "sigmoid": [sigmoid_logaddexp, sigmoid_masked, expit, sigmoid_tanh],
    "sigmoid_grad": [sigmoid_grad_product, sigmoid_grad_exp],
    "relu": [lambda z: np.maximum(z, 0), relu_where, lambda z: np.clip(z, 0, None)],
    "relu_grad": [relu_grad_heaviside, relu_grad_where],
    "leaky_relu": [leaky_relu_where, leaky_relu_split, leaky_relu_max],
    "leaky_relu_grad": [leaky_relu_grad_where, leaky_relu_grad_blend],
    "prelu": [lambda z, a: leaky_relu_where(z, a), lambda z, a: leaky_relu_split(z, a)],
    "prelu_grad": [lambda z, a: leaky_relu_grad_where(z, a),
                   lambda z, a: leaky_relu_grad_blend(z, a)],
    "swish": [swish_masked_inf, swish_errstate, swish_branches],
    "swish_grad": [swish_grad_product_rule, swish_grad_sigmoids],
    "mish": [mish_logaddexp, mish_log1p],
    "mish_grad": [mish_grad_delta],
    "mish_delta": [mish_delta_tanh, mish_delta_exp],
    "stable_sigmoid": [sigmoid_logaddexp, sigmoid_masked, expit],
    "softplus": [lambda z: np.logaddexp(0, z), softplus_log1p],
    "log_sigmoid": [log_sigmoid_logaddexp, log_sigmoid_log1p],
    "gelu": [gelu_erfc, gelu_ndtr],
    "gelu_grad": [gelu_grad_clip],
    "gelu_tanh": [gelu_tanh_sigmoid],
    "elu": [elu_where, elu_split],
    "elu_grad": [elu_grad_where],
    "selu": [selu_where],
    "selu_grad": [selu_grad_where],
}
FORWARDS = {"sigmoid": expit, "relu": lambda z: np.maximum(z, 0), "leaky_relu": leaky_relu_where,
            "prelu": lambda z, a: leaky_relu_where(z, a), "swish": swish_masked_inf,
            "mish": mish_logaddexp, "gelu": gelu_erfc, "elu": elu_where, "selu": selu_where}


# ---------------------------------------------------------------------------------------
def passed_quietly(captured) -> None:
    """Nothing on stderr (it scores a cell 0); on stdout only the checks' own '✓' lines."""
    assert captured.err == ""
    assert all(line.startswith("✓ ") for line in captured.out.splitlines()), captured.out


# The reference and the correct formulations pass, saying so only on stdout.


def test_every_name_has_a_spec_and_correct_formulations():
    assert set(CORRECT) == set(NAMES)
    assert set(DERIVATIVES) == {"sigmoid_grad", "relu_grad", "leaky_relu_grad", "prelu_grad",
                                "swish_grad", "mish_grad", "gelu_grad", "elu_grad", "selu_grad"}


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_every_check(name, capsys):
    visible_and_hidden(getattr(ref, name), name)
    spec = SPECS[name]
    if spec.forward:
        E.check_derivative(getattr(ref, name), getattr(ref, spec.forward), name)
    passed_quietly(capsys.readouterr())


def test_reference_passes_the_other_checks(capsys):
    E.check_prelu_grad_a(ref.prelu_grad_a)
    E.hidden_prelu_grad_a(ref.prelu_grad_a)
    E.check_numerical_derivative(ref.numerical_derivative)
    E.hidden_numerical_derivative(ref.numerical_derivative)
    E.check_mish_identity(ref.mish_grad, ref.mish_delta, ref.swish, ref.mish)
    passed_quietly(capsys.readouterr())


@pytest.mark.parametrize(("name", "k"), [(n, k) for n, fns in CORRECT.items()
                                         for k in range(len(fns))])
def test_correct_formulation_passes(name, k, capsys):
    fn = CORRECT[name][k]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checks themselves never warn
        visible_and_hidden(fn, name)
        spec = SPECS[name]
        if spec.forward:
            E.check_derivative(fn, FORWARDS[spec.forward], name)
    passed_quietly(capsys.readouterr())


def test_correct_derivatives_pass_against_the_learners_own_forward():
    E.check_derivative(sigmoid_grad_exp, sigmoid_masked, "sigmoid_grad")
    E.check_derivative(swish_grad_sigmoids, swish_branches, "swish_grad")
    E.check_derivative(mish_grad_delta, mish_log1p, "mish_grad")
    E.check_derivative(leaky_relu_grad_blend, leaky_relu_split, "leaky_relu_grad")


def prelu_grad_a_sum(z, a, upstream):
    return float(np.sum(upstream * np.minimum(z, 0)))


def prelu_grad_a_where(z, a, upstream):
    return np.sum(np.where(z < 0, upstream * z, 0.0))


def central(f, z, h=1e-5):
    return (f(z + h) - f(z - h)) / (2 * h)


def central_exact_step(f, z, h=1e-5):
    z = np.asarray(z, dtype=np.float64)
    up, down = z + h, z - h
    return (f(up) - f(down)) / (up - down)


@pytest.mark.parametrize("fn", [prelu_grad_a_sum, prelu_grad_a_where])
def test_correct_prelu_grad_a_passes(fn, capsys):
    E.check_prelu_grad_a(fn)
    E.hidden_prelu_grad_a(fn)
    passed_quietly(capsys.readouterr())


@pytest.mark.parametrize("fn", [central, central_exact_step])
def test_correct_numerical_derivative_passes(fn, capsys):
    E.check_numerical_derivative(fn)
    E.hidden_numerical_derivative(fn)
    passed_quietly(capsys.readouterr())


def test_correct_mish_identity_passes(capsys):
    E.check_mish_identity(mish_grad_delta, mish_delta_exp, swish_branches, mish_log1p)
    passed_quietly(capsys.readouterr())


# ---------------------------------------------------------------------------------------
# The catalogue of wrong answers.


def stub(*args, **kwargs):
    raise NotImplementedError()


def test_stub_is_not_implemented_yet():
    for check in (E.check_values, E.check_edge_cases, E.check_dtype_shape, E.hidden_values,
                  E.hidden_edge_cases):
        text = failure(check, stub, "swish")
        assert text.splitlines()[0] == "swish: is not implemented yet."
    assert_names(failure(E.check_derivative, stub, swish_branches, "swish_grad"),
                 "swish_grad: is not implemented yet.")
    assert_names(failure(E.check_derivative, swish_grad_sigmoids, stub, "swish_grad"),
                 "swish: is not implemented yet.")
    assert_names(failure(E.check_prelu_grad_a, stub), "prelu_grad_a: is not implemented yet")
    assert_names(failure(E.check_numerical_derivative, stub),
                 "numerical_derivative: is not implemented yet")
    assert_names(failure(E.check_mish_identity, stub, stub, stub, stub),
                 "mish_grad: is not implemented yet")


def test_not_a_function():
    text = failure(E.check_values, None, "sigmoid")
    assert_names(text, "sigmoid: expected a function, got NoneType.", "def sigmoid(")
    assert_names(failure(E.check_prelu_grad_a, 3.0), "prelu_grad_a: expected a function")


def test_small_relative_error():
    text = failure(E.check_values, lambda z: 1 / (1 + 2.718 ** (-z)), "sigmoid")
    assert_names(text, "sigmoid:", "values are wrong", "rtol=1e-06", "first mismatch at z = ",
                 "expected", "got", "relative error", "2.718")


def test_wrong_exactly_at_zero_is_the_kink_convention():
    def relu_grad(z):
        return (z > 0).astype(z.dtype)
    text = failure(E.check_values, relu_grad, "relu_grad")
    assert_names(text, "relu_grad: 1 of", "z = 0.0", "expected 1.0, got 0.0", "kink")
    text = failure(E.check_derivative, relu_grad, lambda z: np.maximum(z, 0), "relu_grad")
    assert_names(text, "relu_grad:", "z = 0.0", "expected 1.0, got 0.0", "kink")
    text = failure(E.check_values, lambda z, a=0.01: np.where(z > 0, 1.0, a), "leaky_relu_grad")
    assert_names(text, "leaky_relu_grad", "z = 0.0, a = 0.01", "expected 1.0, got 0.01", "kink")


def test_wrong_on_one_side_of_zero():
    text = failure(E.check_values, lambda z, a=0.01: np.where(z >= 0, z, -a * z), "leaky_relu")
    assert_names(text, "leaky_relu:", "z = -8.0, a = 0.01", "expected -0.08, got 0.08")
    assert "sign" in text or "z < 0" in text
    text = failure(E.check_values, lambda z, a=0.01: np.where(z >= 0, z, a * z + 0.01),
                   "leaky_relu")
    assert_names(text, "right for z > 0 but wrong for some z < 0")


def test_sign_flipped():
    text = failure(E.check_values, lambda z: -sigmoid_grad_exp(z), "sigmoid_grad")
    assert_names(text, "sigmoid_grad:", "sign is flipped")


def test_naive_sigmoid_overflows_at_extremes():
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))
    E.check_values(sigmoid, "sigmoid")  # fine on the moderate grid
    text = failure(E.check_edge_cases, sigmoid, "sigmoid")
    assert_names(text, "sigmoid: emitted a RuntimeWarning: overflow encountered in exp",
                 "on input z = -10000.0", "non-positive")
    # silencing the warning is not enough where the result is nan
    def sigmoid_quiet(z):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(z) / (1 + np.exp(z))
    text = failure(E.check_edge_cases, sigmoid_quiet, "sigmoid")
    assert_names(text, "sigmoid:", "first mismatch at z = 10000.0", "expected 1.0, got nan",
                 "overflowed")


def test_naive_stable_forms_fail_where_they_overflow_or_cancel():
    text = failure(E.check_values, lambda z: 1 / (1 + np.exp(-z)), "stable_sigmoid")
    assert_names(text, "stable_sigmoid: emitted a RuntimeWarning: overflow", "z = -1000.0")
    text = failure(E.check_values, lambda z: np.log(1 + np.exp(z)), "softplus")
    assert_names(text, "softplus: emitted a RuntimeWarning: overflow", "z = 800.0")
    # no overflow (clipped), but log(1 + tiny) loses every digit for z < -37
    def softplus_cancels(z):
        return np.where(z > 30, z, np.log(1 + np.exp(np.minimum(z, 30))))
    text = failure(E.check_values, softplus_cancels, "softplus")
    assert_names(text, "softplus:", "first mismatch at z = -100.0", "got 0.0", "log1p")
    text = failure(E.check_values, sigmoid_tanh, "stable_sigmoid")  # fine in 02, not in 04
    assert_names(text, "stable_sigmoid:", "got 0.0")
    def log_sigmoid_naive(z):
        with np.errstate(divide="ignore"):
            return np.log(expit(z))
    text = failure(E.check_values, log_sigmoid_naive, "log_sigmoid")
    assert_names(text, "log_sigmoid:", "z = -1000.0", "expected -1000.0, got -inf")
    text = failure(E.check_values, lambda z: np.log(expit(z)), "log_sigmoid")
    assert_names(text, "log_sigmoid: emitted a RuntimeWarning: divide by zero", "z = -1000.0")
    # log(sigmoid(z)) for large z: sigmoid rounds to 1, the log to 0
    def log_sigmoid_rounds(z):
        return np.log(np.maximum(expit(z), 1e-300)) + np.minimum(z + 690, 0)
    text = failure(E.check_values, log_sigmoid_rounds, "log_sigmoid")
    assert_names(text, "log_sigmoid:", "expected", "got")


def test_nan_must_propagate():
    text = failure(E.check_edge_cases, lambda z: (z >= 0).astype(z.dtype), "relu_grad")
    assert_names(text, "relu_grad:", "z = nan", "expected nan, got 0.0", "nan must propagate")
    text = failure(E.check_edge_cases, lambda z: np.where(z >= 0, z, 0), "relu")
    assert_names(text, "relu:", "z = nan", "nan must propagate")


def test_inf_times_zero_at_infinite_inputs():
    def swish(z, beta=1.0):
        with np.errstate(invalid="ignore"):
            return z * expit(beta * z)
    E.check_values(swish, "swish")
    text = failure(E.check_edge_cases, swish, "swish")
    assert_names(text, "swish:", "z = -inf", "expected 0.0, got nan", "limit")
    # relu as z * (z >= 0): right on finite arrays, but nan with a warning at z = -inf,
    # and a Python float (not an array) for a Python scalar input
    def relu(z):
        return z * (z >= 0)
    E.check_values(relu, "relu")
    text = failure(E.check_edge_cases, relu, "relu")
    assert_names(text, "relu: emitted a RuntimeWarning: invalid value", "z = -inf")
    text = failure(E.check_dtype_shape, relu, "relu")
    assert_names(text, "relu: returned a float, expected a NumPy array", "z = -3.0")
    def relu_array(z):
        z = np.asarray(z)
        return z * (z >= 0)
    E.check_dtype_shape(relu_array, "relu")


def test_cancellation_at_extremes():
    # the paper's form beta*f + s*(1 - beta*f): beta*z + 1 - beta*z is 0 for huge z
    def swish_grad(z, beta=1.0):
        f = swish_masked_inf(z, beta)
        s = expit(beta * np.asarray(z))
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(z), s, beta * f + s * (1 - beta * f))
    E.check_values(swish_grad, "swish_grad")
    text = failure(E.check_edge_cases, swish_grad, "swish_grad")
    assert_names(text, "swish_grad:", "z = 1.0e+30", "expected 1.0, got 0.0")


def test_overflow_in_cosh():
    def mish_delta(z):
        return 1 / np.cosh(np.logaddexp(0, z)) ** 2
    E.check_values(mish_delta, "mish_delta")
    text = failure(E.check_edge_cases, mish_delta, "mish_delta")
    assert_names(text, "mish_delta: emitted a RuntimeWarning: overflow encountered in cosh",
                 "z = 10000.0")


def test_dtype_changed():
    text = failure(E.check_dtype_shape, lambda z: expit(np.asarray(z, dtype=np.float64)),
                   "sigmoid")
    assert_names(text, "sigmoid: returned dtype float64, expected float32", "on input z = ",
                 "float32 in, float32 out")
    text = failure(E.check_dtype_shape,
                   lambda z, beta=1.0: swish_masked_inf(z, np.float64(beta)), "swish")
    assert_names(text, "swish: returned dtype float64, expected float32", "beta = ")


def test_shape_changed():
    text = failure(E.check_dtype_shape, lambda z: np.maximum(z, 0).ravel(), "relu")
    assert_names(text, "relu: returned shape (12,), expected (3, 4)")
    text = failure(E.check_dtype_shape, lambda z: np.atleast_1d(np.maximum(z, 0)), "relu")
    assert_names(text, "relu: returned shape (1,), expected ()")


def test_input_modified_in_place():
    def relu(z):
        z[z < 0] = 0
        return z
    text = failure(E.check_values, relu, "relu")
    assert_names(text, "relu: changed its input array z.",
                 "your function changed its input array: compute into a new array")
    def sigmoid(z):
        np.negative(z, out=z)
        return 1 / (1 + np.exp(z))
    assert_names(failure(E.check_dtype_shape, sigmoid, "sigmoid"), "changed its input array")


def test_input_returned_not_a_new_array():
    def relu(z):
        return z if np.all(z >= 0) else np.maximum(z, 0)
    text = failure(E.check_edge_cases, relu, "relu")
    assert_names(text, "relu: returned its input array", "new array")


def test_parameter_ignored():
    text = failure(E.check_values, lambda z, beta=1.0: swish_masked_inf(z), "swish")
    assert_names(text, "swish:", "z = -8.0, beta = 0.0",
                 "your values equal those for beta = 1.0", "use its beta argument")
    text = failure(E.check_values, lambda z, a: leaky_relu_where(z), "prelu")
    assert_names(text, "prelu:", "a = 0.25", "equal those for a = 0.01", "use its a argument")
    text = failure(E.check_values, lambda z, a=0.01: np.where(z >= 0, 1.0, 0.01),
                   "leaky_relu_grad")
    assert_names(text, "leaky_relu_grad:", "a = 0.1", "use its a argument")


def test_wrong_default():
    text = failure(E.check_values, lambda z, a=0.1: leaky_relu_where(z, a), "leaky_relu")
    assert_names(text, "leaky_relu:", "first mismatch at z = -8.0:", "expected -0.08, got -0.8",
                 "called without a", "as if a = 0.1", "a = 0.01")
    text = failure(E.check_values, lambda z, beta=0.0: swish_masked_inf(z, beta), "swish")
    assert_names(text, "swish:", "called without beta", "as if beta = 0.0")
    text = failure(E.check_dtype_shape, lambda z, beta=2.5: swish_masked_inf(z, beta), "swish")
    assert_names(text, "swish:", "called without beta", "default")
    text = failure(E.check_values, lambda z, a: leaky_relu_where(z, a), "leaky_relu")
    assert_names(text, "leaky_relu: raised TypeError", "missing")


def test_prelu_max_trick_fails_for_a_above_one():
    text = failure(E.check_values, lambda z, a: np.maximum(z, a * z), "prelu")
    assert_names(text, "prelu:", "a = 2.0", "a <= 1")


def test_warning_emitted():
    def mish_grad(z):
        m = mish_logaddexp(z)
        return (1 - np.tanh(np.logaddexp(0, z)) ** 2) * swish_masked_inf(z) + m / z
    text = failure(E.check_values, mish_grad, "mish_grad")
    assert_names(text, "mish_grad: emitted a RuntimeWarning: invalid value encountered in "
                       "divide", "on input z = 0.0")
    def sigmoid(z):
        warnings.warn("check me", UserWarning, stacklevel=1)
        return expit(z)
    text = failure(E.check_values, sigmoid, "sigmoid")
    assert_names(text, "sigmoid: emitted a UserWarning: check me", "on input z = ")
    def mish_grad_quiet(z):
        with np.errstate(invalid="ignore", divide="ignore"):
            return mish_grad(z)
    text = failure(E.check_values, mish_grad_quiet, "mish_grad")
    assert_names(text, "mish_grad:", "z = 0.0", "expected 0.6, got nan", "z = 0")


def test_blas_flag_noise_is_not_the_learners_warning():
    """Some OpenBLAS kernels leave floating-point flags set on finite data, so NumPy warns
    after a correct matmul on some CPUs only (seen in CI): that is not held against the
    learner; it is when the result has a nan or an inf (a real overflow), and the same
    warning from any other operation always is."""
    def sigmoid(z, text="invalid value encountered in matmul"):
        warnings.warn(text, RuntimeWarning, stacklevel=1)
        return expit(z)
    E.check_values(sigmoid, "sigmoid")
    text = failure(E.check_values, lambda z: sigmoid(z) * np.nan, "sigmoid")
    assert_names(text, "sigmoid: emitted a RuntimeWarning: invalid value encountered in "
                       "matmul")
    text = failure(E.check_values,
                   lambda z: sigmoid(z, "invalid value encountered in multiply"), "sigmoid")
    assert_names(text, "sigmoid: emitted a RuntimeWarning: invalid value encountered in "
                       "multiply")


def test_list_or_python_float_returned():
    text = failure(E.check_values, lambda z: list(expit(z)), "sigmoid")
    assert_names(text, "sigmoid: returned a list, expected a NumPy array.")
    text = failure(E.check_dtype_shape, lambda z: float(np.sum(np.maximum(z, 0))), "relu")
    assert_names(text, "relu: returned a float, expected a NumPy array.")
    import math
    text = failure(E.check_values, lambda z: 1 / (1 + math.exp(-z)), "sigmoid")
    assert_names(text, "sigmoid: raised TypeError", "on input z = ")


def test_derivative_disagrees_with_own_forward():
    def swish_grad_no_beta_chain(z, beta=1.0):  # forgot the chain rule's beta
        z = np.asarray(z)
        s = expit(beta * z)
        return s + _zf(z) * s * (1 - s)
    text = failure(E.check_derivative, swish_grad_no_beta_chain, swish_branches, "swish_grad")
    assert_names(text, "swish_grad:", "beta = 0.0", "expected", "got",
                 "central-difference slope of your own swish", "chain rule")
    text = failure(E.check_derivative, lambda z: expit(z), sigmoid_masked, "sigmoid_grad")
    assert_names(text, "sigmoid_grad:", "central-difference slope of your own sigmoid")
    with pytest.raises(ValueError, match="not a derivative"):
        E.check_derivative(expit, expit, "sigmoid")
    with pytest.raises(ValueError, match="unknown function"):
        E.check_values(expit, "sigmoidd")


def test_mish_identity_catches_inconsistent_functions():
    text = failure(E.check_mish_identity, mish_grad_delta, lambda z: 0.5 * mish_delta_tanh(z),
                   swish_branches, mish_log1p)
    assert_names(text, "mish_grad:", "mish_delta(z)*swish(z) + mish(z)/z", "expected", "got")
    def mish_grad_bad_limit(z):
        return np.where(np.asarray(z) == 0, 0.5, mish_grad_delta(z))
    text = failure(E.check_mish_identity, mish_grad_bad_limit, mish_delta_tanh,
                   swish_branches, mish_log1p)
    assert_names(text, "mish_grad:", "z = 0.0", "expected 0.6, got 0.5", "limit")


def test_prelu_grad_a_wrong_answers():
    text = failure(E.check_prelu_grad_a, lambda z, a, upstream: upstream * np.minimum(z, 0))
    assert_names(text, "prelu_grad_a: returned an array of shape (7,), expected one number")
    text = failure(E.check_prelu_grad_a,
                   lambda z, a, upstream: float(np.sum(upstream * np.maximum(z, 0))))
    assert_names(text, "prelu_grad_a: the value is wrong", "z.shape = (7,), a = 0.25",
                 "expected", "got", "z >= 0")
    text = failure(E.check_prelu_grad_a,
                   lambda z, a, upstream: float(np.sum(np.minimum(z, 0))))
    assert_names(text, "upstream")
    text = failure(E.check_prelu_grad_a,
                   lambda z, a, upstream: float(np.sum(upstream * a * np.minimum(z, 0))))
    assert_names(text, "not a*z itself")
    def in_place(z, a, upstream):
        upstream *= z < 0
        return float(np.sum(upstream * z))
    assert_names(failure(E.check_prelu_grad_a, in_place), "changed an input array")
    assert_names(failure(E.check_prelu_grad_a, lambda z, a, upstream: [1.0]),
                 "returned a list, expected one number")


def test_numerical_derivative_wrong_answers():
    text = failure(E.check_numerical_derivative, lambda f, z, h=1e-5: (f(z + h) - f(z)) / h)
    assert_names(text, "numerical_derivative:", "f = np.sin", "expected", "got",
                 "one-sided difference")
    text = failure(E.check_numerical_derivative,
                   lambda f, z, h=1e-5: (f(z + 1e-5) - f(z - 1e-5)) / 2e-5)
    assert_names(text, "numerical_derivative:", "f = z**3 - 2*z", "h = 0.001",
                 "the h passed in")
    text = failure(E.check_numerical_derivative,
                   lambda f, z, h=1e-3: (f(z + h) - f(z - h)) / (2 * h))
    assert_names(text, "numerical_derivative:", "f = np.sin", "default h = 1e-5")
    import math
    text = failure(E.check_numerical_derivative,
                   lambda f, z, h=1e-5: (math.sin(z + h) - math.sin(z - h)) / (2 * h))
    assert_names(text, "numerical_derivative: raised TypeError")
    text = failure(E.check_numerical_derivative,
                   lambda f, z, h=1e-5: np.float32(central(f, z, h)))
    assert_names(text, "numerical_derivative: returned")


def test_hidden_checks_catch_what_the_visible_grid_misses():
    def mish_grad_divides(z):  # right except at tiny z, where mish(z)/z loses everything
        z = np.asarray(z)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.where(z == 0, 0.6, mish_grad_delta(z) - np.tanh(np.logaddexp(0, z))
                            + mish_logaddexp(z) / np.where(z == 0, 1, z))
    E.check_values(mish_grad_divides, "mish_grad")
    text = failure(E.hidden_edge_cases, mish_grad_divides, "mish_grad")
    assert_names(text, "mish_grad:", "expected", "got")
    def sigmoid_clipped(z):  # 0 below z = -20: within the moderate grid's floor?
        return np.where(np.asarray(z) < -30, 0.0, expit(z)).astype(np.asarray(z).dtype)
    E.check_values(sigmoid_clipped, "sigmoid")
    assert_names(failure(E.hidden_values, sigmoid_clipped, "stable_sigmoid"), "stable_sigmoid:")


def test_hidden_checks_of_prelu_grad_a_and_numerical_derivative_reject_wrong_answers():
    text = failure(E.hidden_prelu_grad_a,
                   lambda z, a, upstream: float(np.sum(upstream * np.maximum(z, 0))))
    assert_names(text, "prelu_grad_a: the value is wrong", "z.shape = (17,)", "expected", "got")
    text = failure(E.hidden_numerical_derivative, lambda f, z, h=1e-5: (f(z + h) - f(z)) / h)
    assert_names(text, "numerical_derivative:", "h = 0.01", "one-sided difference")
