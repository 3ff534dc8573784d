"""01_nonlinearity without a notebook: the reference, its checks, the experiment and its figures.

- the reference against independent oracles (the stack run layer by layer, the normal
  equations on well-conditioned problems, the pseudo-inverse, np.polyfit);
- every check accepts the reference, and the visible checks work with the reference
  unimportable (a student install);
- failure messages name the function and fit in six lines;
- the width sweep: polynomial networks land on the least-squares polynomial, the others fall;
- the figures have titles, axis labels and legends.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from nbsession import message_items

import course_utils.checks as checks
from course_utils import approximation as approx
from course_utils.reference import nonlinearity as ref

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ["collapse_linear_stack", "hidden_features", "fit_output_layer", "sup_error"]
ASPECTS = ["values", "edges", "dtype"]


# --------------------------------------------------------------------------------------
# The reference against independent oracles


@pytest.mark.parametrize("sizes", [(3,), (1, 1), (4, 5, 3, 2), (2, 7, 1, 7, 3), (5,) * 9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_collapse_equals_the_stack_run_layer_by_layer(sizes, dtype):
    rng = np.random.default_rng(len(sizes))
    sizes = (3,) + sizes
    weights = [rng.standard_normal((o, i)).astype(dtype) for i, o in itertools.pairwise(sizes)]
    biases = [rng.standard_normal(o).astype(dtype) for o in sizes[1:]]
    before = [w.copy() for w in weights] + [b.copy() for b in biases]
    A, b = ref.collapse_linear_stack(weights, biases)
    assert A.shape == (sizes[-1], sizes[0]) and b.shape == (sizes[-1],)
    assert A.dtype == b.dtype == dtype
    x = rng.standard_normal((50, sizes[0])).astype(dtype)
    expected = approx.forward_stack(x.astype(np.float64), weights, biases)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(x @ A.T + b, expected, rtol=rtol,
                               atol=rtol * np.abs(expected).max())
    for old, new in zip(before, weights + biases, strict=True):
        np.testing.assert_array_equal(old, new)


def test_collapse_returns_new_arrays_and_refuses_mismatched_lists():
    W, c = np.ones((2, 3)), np.zeros(2)
    A, b = ref.collapse_linear_stack([W], [c])
    assert not np.shares_memory(A, W) and not np.shares_memory(b, c)
    with pytest.raises(ValueError, match="collapse_linear_stack"):
        ref.collapse_linear_stack([W, W.T], [c])
    with pytest.raises(ValueError, match="collapse_linear_stack"):
        ref.collapse_linear_stack([], [])


def test_collapse_docstring_example():
    A, b = ref.collapse_linear_stack([np.array([[2.0]]), np.array([[3.0]])],
                                     [np.array([1.0]), np.array([-1.0])])
    assert A.tolist() == [[6.0]] and b.tolist() == [2.0]


@pytest.mark.parametrize("sigma", [np.tanh, np.sin, lambda z: np.maximum(z, 0), lambda z: z])
def test_hidden_features_unit_by_unit(sigma):
    rng = np.random.default_rng(1)
    x, W1, b1 = rng.standard_normal((9, 4)), rng.standard_normal((6, 4)), rng.standard_normal(6)
    H = ref.hidden_features(x, W1, b1, sigma)
    expected = np.array([[sigma(np.dot(W1[j], x[n]) + b1[j]) for j in range(6)]
                         for n in range(9)])
    np.testing.assert_allclose(H, expected, rtol=1e-14, atol=1e-15)


def test_fit_output_layer_matches_normal_equations_when_well_conditioned():
    rng = np.random.default_rng(2)
    H, y = rng.standard_normal((60, 8)), rng.standard_normal((60, 3))
    W2 = ref.fit_output_layer(H, y)
    np.testing.assert_allclose(W2, np.linalg.solve(H.T @ H, H.T @ y), rtol=1e-10)
    assert ref.fit_output_layer(H, y[:, 0]).shape == (8,)


def test_fit_output_layer_rank_deficient_gives_the_pinv_predictions():
    rng = np.random.default_rng(3)
    H = rng.standard_normal((30, 5)) @ rng.standard_normal((5, 12))   # rank 5, 12 columns
    y = rng.standard_normal(30)
    W2 = ref.fit_output_layer(H, y)
    np.testing.assert_allclose(H @ W2, H @ (np.linalg.pinv(H) @ y), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(H.T @ (H @ W2 - y), 0, atol=1e-9)     # normal equations hold


def test_sup_error_scalar_vector_and_nan():
    xs = np.linspace(0, 1, 11)
    assert ref.sup_error(np.sin, np.sin, xs) == 0.0
    assert ref.sup_error(lambda x: -2 * x, lambda x: 0 * x, xs) == 2.0
    vec = ref.sup_error(lambda x: np.stack([3 * x, 4 * x], 1), lambda x: np.zeros((11, 2)), xs)
    assert vec == pytest.approx(5.0) and isinstance(vec, float)
    assert np.isnan(ref.sup_error(lambda x: np.where(x > 0.5, np.nan, x), lambda x: x, xs))


# --------------------------------------------------------------------------------------
# The checks


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_every_check_accepts_the_reference(fn):
    for aspect in ASPECTS:
        getattr(checks, f"check_{fn}_{aspect}")(getattr(ref, fn))
    getattr(checks, f"hidden_{fn}")(getattr(ref, fn))
    getattr(checks, f"hidden_{fn}")(getattr(ref, fn), seed=5)
    getattr(checks, f"hidden_{fn}_edges")(getattr(ref, fn))


def test_visible_checks_work_without_the_reference():
    code = textwrap.dedent("""
        import sys
        sys.modules["course_utils.reference"] = None      # as on a student install
        import numpy as np
        import course_utils.checks as C

        def collapse_linear_stack(weights, biases):
            A, b = np.array(weights[0], copy=True), np.array(biases[0], copy=True)
            for W, c in zip(weights[1:], biases[1:]):
                A, b = W @ A, W @ b + c
            return A, b

        def hidden_features(x, W1, b1, sigma):
            return sigma(x @ W1.T + b1)

        def fit_output_layer(H, y):
            return np.linalg.lstsq(H, y, rcond=None)[0]

        def sup_error(f, g, xs):
            d = np.asarray(f(xs), dtype=float) - np.asarray(g(xs), dtype=float)
            return float(np.max(np.abs(d) if d.ndim == 1 else np.linalg.norm(d, axis=1)))

        for fn in [collapse_linear_stack, hidden_features, fit_output_layer, sup_error]:
            for aspect in ["values", "edges", "dtype"]:
                getattr(C, f"check_{fn.__name__}_{aspect}")(fn)
        try:
            C.hidden_sup_error(sup_error)
        except ImportError:
            print("hidden checks need the reference")
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    *passed, last = done.stdout.strip().splitlines()
    assert last == "hidden checks need the reference"
    assert len(passed) == 12 and all(line.startswith("✓ ") for line in passed), passed
    assert done.stderr == ""


def _message(check, fn) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn)
    text = str(info.value)
    assert len(message_items(text)) <= 6, text
    return text


def test_messages_name_the_function_the_case_and_a_hint():
    def stub(*args):
        raise NotImplementedError()

    for fn in FUNCTIONS:
        text = _message(getattr(checks, f"check_{fn}_values"), stub)
        assert text.startswith(f"{fn}: is not implemented yet."), text

    text = _message(checks.check_hidden_features_values, lambda x, W1, b1, s: s(x @ W1.T))
    assert "hidden_features (H, sigma = np.tanh): " in text and "row = 0, col = 0" in text
    assert "b1 is missing" in text

    text = _message(checks.check_collapse_linear_stack_values,
                    lambda ws, bs: (ws[-1] @ ws[0], np.sum(bs, axis=0)))
    assert text.startswith("collapse_linear_stack (b):")
    assert "passes through the layers after it" in text

    def normal_equations(H, y):
        return np.linalg.solve(H.T @ H, H.T @ y)

    text = _message(checks.check_fit_output_layer_edges, normal_equations)
    assert text.startswith("fit_output_layer")
    text = _message(checks.hidden_fit_output_layer_edges, normal_equations)
    assert "overflow" in text

    text = _message(checks.check_sup_error_values,
                    lambda f, g, xs: float(np.max(f(xs) - g(xs))))
    assert "expected 2.5" in text and "Hint:" in text


def test_checks_are_deterministic_and_exported():
    names = [n for module in (checks.nonlinearity, checks.approximation)
             for n in module.__all__ if n.startswith(("check_", "hidden_"))]
    assert len(names) == 4 * 5
    assert all(callable(getattr(checks, n)) for n in names)


# --------------------------------------------------------------------------------------
# The experiment


def test_random_features_shapes_and_knots():
    rng = np.random.default_rng(0)
    W1, b1 = approx.random_features(100, rng)
    assert W1.shape == (100, 1) and b1.shape == (100,)
    knots = np.sort(-b1 / W1[:, 0])
    cells = np.floor((knots + np.pi) / (2 * np.pi / 100))
    np.testing.assert_array_equal(cells, np.arange(100))   # one knot per cell
    W1, b1 = approx.random_features(7, rng, d=3)
    assert W1.shape == (7, 3) and b1.shape == (7,)
    with pytest.raises(ValueError, match="random_features"):
        approx.random_features(0, rng)


def test_grids_and_polynomial_baseline():
    x_fit, x_eval = approx.grids(64, 129)
    assert x_fit.shape == (64, 1) and x_eval.shape == (129, 1) and 0.0 in x_eval
    coeffs = np.polyfit(x_fit[:, 0], np.abs(x_fit[:, 0]), 2)
    direct = np.max(np.abs(np.polyval(coeffs, x_eval[:, 0]) - np.abs(x_eval[:, 0])))
    assert approx.polynomial_baseline(np.abs, 2, x_fit, x_eval) == pytest.approx(direct)


def test_forward_stack_with_and_without_sigma():
    weights = [np.array([[2.0]]), np.array([[3.0]])]
    biases = [np.array([-1.0]), np.array([0.5])]
    x = np.array([[0.0], [1.0]])
    np.testing.assert_allclose(approx.forward_stack(x, weights, biases), [[-2.5], [3.5]])
    relu = approx.ACTIVATIONS["ReLU"]
    np.testing.assert_allclose(approx.forward_stack(x, weights, biases, relu), [[0.5], [3.5]])


@pytest.fixture(scope="module")
def small_sweep():
    calls = []
    result = approx.run_width_sweeps(
        hidden_features=ref.hidden_features, fit_output_layer=ref.fit_output_layer,
        sup_error=lambda f, g, xs: calls.append(1) or ref.sup_error(f, g, xs),
        widths=(4, 16, 64, 256), seeds=(0, 1), n_fit=512, n_eval=1001, progress=False)
    result.calls = len(calls)
    return result


def test_sweep_shape_and_sup_error_calls(small_sweep):
    assert set(small_sweep.errors) == {(t, a) for t in approx.TARGETS for a in approx.ACTIVATIONS}
    assert all(e.shape == (4, 2) for e in small_sweep.errors.values())
    assert small_sweep.calls == 4 * 2 * len(approx.TARGETS) * len(approx.ACTIVATIONS)
    assert "least-squares polynomial of degree 2" in small_sweep.summary()


def test_sweep_polynomials_land_on_the_polynomial_fit(small_sweep):
    gaps = approx.polynomial_gaps(small_sweep, min_width=4)
    assert set(gaps) == {(t, a) for t in approx.TARGETS for a in ("z²", "z³")}
    assert max(gaps.values()) < 1e-9, gaps
    # an even target: the best cubic is the best quadratic
    assert small_sweep.baselines[("|x|", 2)] == pytest.approx(small_sweep.baselines[("|x|", 3)])


def test_sweep_non_polynomials_keep_falling(small_sweep):
    for target in approx.TARGETS:
        for act in ("sigmoid", "tanh", "ReLU"):
            med = np.median(small_sweep.errors[(target, act)], axis=1)
            assert med[-1] < 0.1 * med[0], (target, act, med)
            poly = small_sweep.baselines[(target, 2)]
            assert med[-1] < 0.1 * poly, (target, act, med, poly)


def test_sweep_is_reproducible():
    kwargs = dict(hidden_features=ref.hidden_features, fit_output_layer=ref.fit_output_layer,
                  sup_error=ref.sup_error, widths=(8,), seeds=(3,), n_fit=128, n_eval=257,
                  progress=False, activations={"tanh": np.tanh})
    first, second = approx.run_width_sweeps(**kwargs), approx.run_width_sweeps(**kwargs)
    for key in first.errors:
        np.testing.assert_array_equal(first.errors[key], second.errors[key])


# --------------------------------------------------------------------------------------
# The figures


def _assert_labelled(fig):
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any(ax.get_legend() is not None for ax in fig.axes)


def test_figures_have_titles_labels_and_legends(small_sweep):
    import matplotlib.pyplot as plt

    from course_utils.plotting import approximation as figs

    fig = figs.plot_width_sweep(small_sweep)
    _assert_labelled(fig)
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in fig.axes)
    weights = [np.array([[1.0], [2.0]]), np.array([[1.0, -1.0]])]
    biases = [np.zeros(2), np.zeros(1)]
    A, b = ref.collapse_linear_stack(weights, biases)
    _assert_labelled(figs.plot_collapse(weights, biases, A, b))
    x = np.linspace(-1, 1, 5)
    _assert_labelled(figs.plot_fits(x, np.abs(x), {"tanh": x**2}, target_name="|x|", width=3))
    plt.close("all")
