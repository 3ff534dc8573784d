"""Tests of 02's demonstrations: the figures (course_utils.plotting.activations) and the
dying-ReLU measurement (course_utils.dying_relu). Oracles: closed forms and torch."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from course_utils import dying_relu  # noqa: E402
from course_utils.plotting import activations as plots  # noqa: E402


# Small, obviously-correct activations for the figures (the oracle is torch where it matters).
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def relu(z):
    return np.maximum(z, 0.0)


def relu_grad(z):
    return (np.asarray(z) >= 0).astype(np.float64)


def swish(z, beta=1.0):
    return z * sigmoid(beta * np.asarray(z))


def swish_grad(z, beta=1.0):
    s = sigmoid(beta * np.asarray(z))
    return s + beta * z * s * (1 - s)


def _torch_mish(z):
    return F.mish(torch.as_tensor(np.asarray(z, dtype=np.float64))).numpy()


def mish(z):
    return _torch_mish(z)


def mish_delta(z):
    t = torch.as_tensor(np.asarray(z, dtype=np.float64))
    return (1.0 / torch.cosh(F.softplus(t)) ** 2).numpy()


def mish_grad(z):
    t = torch.as_tensor(np.asarray(z, dtype=np.float64)).requires_grad_()
    F.mish(t).sum().backward()
    return t.grad.numpy()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _check_axes(fig):
    """Every visible axes has a title, both axis labels and a legend."""
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert visible
    for ax in visible:
        assert ax.get_title(), "axes without a title"
        assert ax.get_xlabel() and ax.get_ylabel(), f"unlabelled axes: {ax.get_title()}"
        assert ax.get_legend() is not None, f"no legend: {ax.get_title()}"


# --- figures -----------------------------------------------------------------------------

def test_plot_units_one_panel_per_unit_with_the_value_at_zero():
    units = {"sigmoid": (sigmoid, sigmoid_grad), "ReLU": (relu, relu_grad),
             "Swish": (swish, swish_grad), "Mish": (mish, mish_grad)}
    fig = plots.plot_units(units)
    _check_axes(fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == list(units)
    relu_ax = fig.axes[1]
    labels = relu_ax.get_legend_handles_labels()[1]
    assert "f'(0) = 1" in labels  # the note's convention is visible in the figure
    for ax in fig.axes:  # labels are written, never a name glued to "(z)"
        assert not any(label.endswith(")(z)") or "'(z)" in label.split("its")[0]
                       for label in ax.get_legend_handles_labels()[1])


def test_plot_units_refuses_nothing_to_draw():
    with pytest.raises(ValueError, match="plot_units"):
        plots.plot_units({})


def test_derivative_products_of_sigmoid_are_bounded_by_a_quarter_to_the_n():
    products = plots.derivative_products(sigmoid_grad, 12, n_paths=500, seed=1)
    n = np.arange(1, 13)
    assert products.shape == (12,)
    assert np.all(products <= 0.25 ** n * (1 + 1e-12))
    assert np.all(np.diff(products) < 0)


def test_derivative_products_of_relu_are_the_fraction_of_live_paths():
    products = plots.derivative_products(relu_grad, 6, n_paths=20000, seed=0)
    np.testing.assert_allclose(products, 0.5 ** np.arange(1, 7), rtol=0.1)


def test_derivative_products_is_reproducible_and_validates():
    a = plots.derivative_products(sigmoid_grad, 5, seed=3)
    b = plots.derivative_products(sigmoid_grad, 5, seed=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="derivative_products"):
        plots.derivative_products(sigmoid_grad, 0)


def test_plot_derivative_products():
    fig = plots.plot_derivative_products(sigmoid_grad, relu_grad, n_layers=10)
    _check_axes(fig)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    bound = next(v for k, v in lines.items() if "bound" in k)
    np.testing.assert_allclose(bound.get_ydata(), 0.25 ** np.arange(1, 11))
    active = next(v for k, v in lines.items() if "active" in k)
    np.testing.assert_array_equal(active.get_ydata(), np.ones(10))


def test_plot_swish_beta_spans_linear_to_relu():
    fig = plots.plot_swish_beta(swish)
    _check_axes(fig)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    z = lines[r"swish, $\beta = 0$"].get_xdata()
    np.testing.assert_allclose(lines[r"swish, $\beta = 0$"].get_ydata(), z / 2)
    np.testing.assert_allclose(lines[r"swish, $\beta = 20$"].get_ydata(), np.maximum(z, 0),
                               atol=0.015)


def test_swish_figure_shows_both_limits_dashed_on_top_and_uncut():
    """The text says the limits are dashed: they are, above the curves they coincide with,
    and the line z/2 is not cut off by the y-axis at the left edge."""
    fig = plots.plot_swish_beta(swish)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    limits = [line for label, line in lines.items() if label.startswith("limit")]
    curves = [line for label, line in lines.items() if label.startswith("swish")]
    assert len(limits) == 2 and all(line.get_linestyle() == "--" for line in limits)
    assert min(line.get_zorder() for line in limits) > max(c.get_zorder() for c in curves)
    z = limits[0].get_xdata()
    assert ax.get_ylim()[0] < z.min() / 2


def test_swish_slider_redraws_for_each_beta():
    widget = plots.swish_beta_widget(swish)
    assert widget is not None
    (slider,) = [w for w in widget.children if hasattr(w, "min")]
    assert (slider.min, slider.max, slider.value) == (0.0, 20.0, 1.0)
    slider.value = 5.0  # re-runs the drawing function without raising


def test_show_swish_beta_renders_the_static_figure_without_widgets(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_widgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("no ipywidgets here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_widgets)
    assert plots.swish_beta_widget(swish) is None
    fig = plots.show_swish_beta(swish)
    _check_axes(fig)
    assert len(fig.axes[0].get_lines()) == len(plots.SWISH_BETAS) + 2


def test_unit_minimum_of_mish_and_swish():
    z, value = plots.unit_minimum(mish)
    assert z == pytest.approx(-1.1924312145, abs=1e-6)  # mpmath: root of mish'
    assert value == pytest.approx(-0.30884, abs=1e-5)
    z, value = plots.unit_minimum(swish)
    assert z == pytest.approx(-1.27846454, abs=1e-6)
    assert value == pytest.approx(-0.27846454, abs=1e-6)


def test_plot_mish_vs_swish_marks_the_minimum():
    fig = plots.plot_mish_vs_swish(mish, swish, mish_delta, mish_grad, swish_grad)
    _check_axes(fig)
    left, right = fig.axes
    labels = left.get_legend_handles_labels()[1]
    assert any("mish minimum -0.3088 at z = -1.1924" in label for label in labels)
    delta = next(line for line in right.get_lines() if "Delta" in line.get_label())
    z = delta.get_xdata()
    np.testing.assert_allclose(delta.get_ydata(), mish_delta(z))
    assert len(right.get_lines()) == 3 + 1  # Delta, mish', swish', the zero line


# --- dying ReLU --------------------------------------------------------------------------

def test_digits_are_bundled_pixels_in_unit_range():
    X, y = dying_relu.load_digits_pixels()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_dead_fraction_counts_units_zero_on_every_example():
    H = np.array([[0.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 2.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0]])
    assert dying_relu.dead_fraction(H) == 0.5
    with pytest.raises(ValueError, match="dead_fraction"):
        dying_relu.dead_fraction(np.zeros(3))


def test_init_mlp_shapes_bias_and_validation():
    p = dying_relu.init_mlp(64, 16, 10, np.random.default_rng(0), bias=-1.5)
    assert p.W1.shape == (16, 64) and p.W2.shape == (10, 16) and p.b2.shape == (10,)
    np.testing.assert_array_equal(p.b1, np.full(16, -1.5))
    with pytest.raises(ValueError, match="init_mlp"):
        dying_relu.init_mlp(0, 16, 10, np.random.default_rng(0))


def test_train_mlp_gradient_matches_torch_autograd():
    """One SGD step of the NumPy network equals one step of the same network in torch."""
    rng = np.random.default_rng(0)
    X = rng.random((8, 5))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    p0 = dying_relu.init_mlp(5, 4, 3, np.random.default_rng(1), bias=0.1)
    lr = 0.5
    p1 = dying_relu.train_mlp(p0, X, y, lr=lr, epochs=1, batch_size=8,
                              rng=np.random.default_rng(2), progress=False)
    W1, b1, W2, b2 = (torch.tensor(a, requires_grad=True) for a in (p0.W1, p0.b1, p0.W2, p0.b2))
    scores = torch.relu(torch.as_tensor(X) @ W1.T + b1) @ W2.T + b2
    F.cross_entropy(scores, torch.as_tensor(y)).backward()
    for new, old, t in ((p1.W1, p0.W1, W1), (p1.b1, p0.b1, b1), (p1.W2, p0.W2, W2),
                        (p1.b2, p0.b2, b2)):
        np.testing.assert_allclose(new, old - lr * t.grad.numpy(), rtol=1e-10, atol=1e-12)
    # the initial weights are left unchanged
    np.testing.assert_array_equal(p0.b1, np.full(4, 0.1))


def test_train_mlp_refuses_a_non_positive_learning_rate():
    p = dying_relu.init_mlp(5, 4, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="train_mlp"):
        dying_relu.train_mlp(p, np.zeros((2, 5)), np.zeros(2, int), lr=0.0,
                             rng=np.random.default_rng(0), progress=False)


@pytest.fixture(scope="module")
def experiment():
    return dying_relu.dying_relu_experiment(progress=False)


def test_dying_relu_good_setting_keeps_units_alive_and_learns(experiment):
    good = experiment[0]
    assert good.lr == 0.1 and good.bias == 0.0
    assert good.dead_after <= 0.05
    assert good.accuracy > 0.85


def test_dying_relu_large_learning_rate_kills_most_units(experiment):
    bad_lr = experiment[1]
    assert bad_lr.dead_before <= 0.05
    assert bad_lr.dead_after >= 0.9
    assert bad_lr.accuracy < 0.2


def test_dying_relu_bad_bias_units_never_come_back(experiment):
    for result in experiment[2:]:
        assert result.bias < 0
        assert result.dead_before >= 0.3
        assert result.dead_after >= result.dead_before  # zero gradient: no revival
    assert experiment[3].dead_before > experiment[2].dead_before


def test_dying_relu_experiment_is_reproducible_and_uses_the_given_relu(experiment):
    calls = []

    def counting_relu(z):
        calls.append(z.shape)
        return np.maximum(z, 0.0)

    again = dying_relu.dying_relu_experiment(dying_relu.DEFAULT_SETTINGS[:1], relu=counting_relu,
                                             progress=False)
    assert again[0] == experiment[0]
    assert calls


def test_dying_relu_progress_bar_and_table(capsys):
    results = dying_relu.dying_relu_experiment(
        [dying_relu.Setting("tiny", lr=0.1)], hidden=4, epochs=1, progress=True)
    err = capsys.readouterr().err
    assert "tiny" in err  # tqdm writes its bar, labelled with the setting, to stderr
    table = dying_relu.format_results(results)
    assert table.splitlines()[0].split() == ["setting", "dead", "before", "dead", "after",
                                             "accuracy"]
    assert "tiny" in table


def test_plot_dead_fractions(experiment):
    fig = plots.plot_dead_fractions(experiment)
    _check_axes(fig)
    with pytest.raises(ValueError, match="plot_dead_fractions"):
        plots.plot_dead_fractions([])
