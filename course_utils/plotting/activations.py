r"""Figures of 02_activation_units: units and derivatives, products of derivatives across
layers, Swish's beta from linear to ReLU, Mish against Swish with the note's Delta(z), and
the dying-ReLU measurement and its fixes.

Every function takes the activation functions to draw as arguments (the notebook passes
the learner's own), returns the matplotlib Figure, and gives every axes a title, labelled
axes and a legend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "derivative_products",
    "plot_dead_fractions",
    "plot_derivative_products",
    "plot_fixes",
    "plot_mish_vs_swish",
    "plot_swish_beta",
    "plot_units",
    "show_swish_beta",
    "swish_beta_widget",
    "unit_minimum",
]

Fn = Callable[[np.ndarray], np.ndarray]

#: The betas of the static Swish figure: 0 (the line z/2) to large (close to ReLU).
SWISH_BETAS = (0.0, 0.5, 1.0, 2.0, 5.0, 20.0)


def _grid(lo: float = -5.0, hi: float = 5.0, n: int = 1001) -> np.ndarray:
    return np.linspace(lo, hi, n)


def plot_units(units: Mapping[str, tuple[Fn, Fn]], z: np.ndarray | None = None) -> Figure:
    r"""One panel per unit: the unit f(z) (solid) and its derivative f'(z) (dashed).

    The derivative's value at z = 0 is marked, so that a convention at a kink
    (ReLU'(0) = 1 in the note) is visible.

    Parameters
    ----------
    units : mapping of a display name to ``(f, f_grad)``, functions of one array
    z : ndarray, shape (n,), default a grid on [-5, 5]
    """
    if not units:
        raise ValueError("plot_units: give at least one unit to draw.")
    z = _grid() if z is None else np.asarray(z, dtype=np.float64)
    ncols = min(3, len(units))
    nrows = -(-len(units) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (name, (f, f_grad)) in zip(axes.flat, units.items(), strict=False):
        # The panel's title names the unit; the legend says which curve is which, in words
        # (a name such as "PReLU (a = 0.25)" cannot be glued to "(z)").
        ax.plot(z, f(z), label="the unit f(z)")
        # A kink is drawn as a jump, not as a steep line through it.
        grad = np.asarray(f_grad(z), dtype=np.float64)
        jumps = np.abs(np.diff(grad)) > 0.5
        grad_line = grad.copy()
        grad_line[1:][jumps] = np.nan
        ax.plot(z, grad_line, "--", label="its derivative f'(z)")
        at0 = float(np.asarray(f_grad(np.zeros(1)))[0])
        ax.plot([0.0], [at0], "o", color="C1", label=f"f'(0) = {at0:g}")
        ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(0.0, color="0.8", lw=0.8, zorder=0)
        ax.set_title(name, fontsize=12)
        ax.set(xlabel="z", ylabel="value")
        ax.legend(fontsize=10)
    for ax in list(axes.flat)[len(units):]:
        ax.set_visible(False)
    fig.suptitle("Each unit and its derivative")
    fig.tight_layout()
    return fig


def derivative_products(grad_fn: Fn, n_layers: int, *, n_paths: int = 2000, scale: float = 1.0,
                        seed: int = 0) -> np.ndarray:
    r"""Mean of the product f'(z_1) f'(z_2) ... f'(z_n) along random paths, n = 1..n_layers.

    Each path draws its pre-activations z_l independently from N(0, scale^2): the factor
    the note's backpropagation multiplies in at every layer.

    Returns
    -------
    ndarray, shape (n_layers,): entry n-1 is the mean product over ``n_paths`` paths of n layers
    """
    if n_layers < 1 or n_paths < 1:
        raise ValueError("derivative_products: n_layers and n_paths must be at least 1.")
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, scale, size=(n_paths, n_layers))
    factors = np.asarray(grad_fn(z), dtype=np.float64)
    return np.cumprod(factors, axis=1).mean(axis=0)


def plot_derivative_products(sigmoid_grad: Fn, relu_grad: Fn, n_layers: int = 30, *,
                             seed: int = 0) -> Figure:
    r"""The product of derivatives across n layers, log scale: sigmoid's bound 0.25^n,
    sigmoid on random pre-activations, ReLU on a path where every unit is active, and
    ReLU's mean over random paths (the fraction of paths that are still alive).
    """
    n = np.arange(1, n_layers + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.semilogy(n, 0.25 ** n, "k:", label=r"sigmoid bound $0.25^n$")
    ax.semilogy(n, derivative_products(sigmoid_grad, n_layers, seed=seed), "C0-",
                label=r"sigmoid, $z \sim N(0, 1)$ (mean)")
    active = np.cumprod(np.asarray(relu_grad(np.ones(n_layers)), dtype=np.float64))
    ax.semilogy(n, active, "C1-", label="ReLU, every unit active")
    alive = derivative_products(relu_grad, n_layers, n_paths=100_000, seed=seed)
    alive[alive <= 0] = np.nan  # no sampled path survives: the curve stops (log scale)
    ax.semilogy(n, alive, "C1--", label=r"ReLU, $z \sim N(0, 1)$ (mean: paths still alive)")
    ax.set(title="Product of activation derivatives across n layers", xlabel="layers n",
           ylabel="product of derivatives (log scale)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_swish_beta(swish: Callable[..., np.ndarray], betas: Sequence[float] = SWISH_BETAS,
                    z: np.ndarray | None = None, ax=None) -> Figure:
    r"""Swish z * sigmoid(beta z) for several beta, between the line z/2 (beta = 0) and
    ReLU (beta -> infinity), both drawn for reference.
    """
    z = _grid(-4.0, 4.0, 801) if z is None else np.asarray(z, dtype=np.float64)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
    else:
        fig = ax.figure
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, len(betas)))
    for beta, color in zip(betas, colors, strict=True):
        ax.plot(z, swish(z, beta=beta), color=color, lw=2.5, label=rf"swish, $\beta = {beta:g}$")
    # The two limits, dashed and drawn last: they lie exactly on the beta = 0 and large-beta
    # curves, and must stay visible on top of them.
    ax.plot(z, z / 2, "--", color="black", lw=1.2, zorder=5, label=r"limit $z/2$ ($\beta = 0$)")
    ax.plot(z, np.maximum(z, 0.0), "--", color="crimson", lw=1.2, zorder=5,
            label=r"limit ReLU ($\beta \to \infty$)")
    ax.set(title=r"Swish from linear ($\beta = 0$) to ReLU ($\beta$ large)", xlabel="z",
           ylabel="swish(z)", ylim=(min(-1.0, z.min() / 2) * 1.05, z.max()))
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def swish_beta_widget(swish: Callable[..., np.ndarray], max_beta: float = 20.0):
    r"""An ipywidgets slider over beta in [0, max_beta] redrawing one swish curve.

    Returns the ``ipywidgets.interactive`` widget, or None where ipywidgets is missing.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        return None

    from IPython.display import display

    def draw(beta: float = 1.0) -> None:
        # display() this figure only: plt.show() would flush every open figure, the static
        # one included, into the slider's output, and the next redraw would erase it.
        fig = plot_swish_beta(swish, betas=(beta,))
        display(fig)
        plt.close(fig)

    slider = widgets.FloatSlider(value=1.0, min=0.0, max=max_beta, step=0.1,
                                 description="beta", continuous_update=False)
    return widgets.interactive(draw, beta=slider)


def show_swish_beta(swish: Callable[..., np.ndarray]) -> Figure:
    r"""The static figure (always), then the slider where ipywidgets can display it.

    Returns the static Figure.
    """
    from IPython.display import display

    fig = plot_swish_beta(swish)
    widget = swish_beta_widget(swish)
    if widget is not None:
        # Shown and closed before the slider, so that the slider's redraws never touch it.
        display(fig)
        plt.close(fig)
        display(widget)
    return fig


def unit_minimum(f: Fn, lo: float = -3.0, hi: float = 0.0, n: int = 30001
                 ) -> tuple[float, float]:
    r"""Where ``f`` is smallest on [lo, hi]: a fine grid, then golden-section refinement.

    Returns
    -------
    (z_min, f(z_min)) as floats
    """
    z = np.linspace(lo, hi, n)
    i = int(np.argmin(np.asarray(f(z), dtype=np.float64)))
    a, b = z[max(i - 1, 0)], z[min(i + 1, n - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        fc, fd = np.asarray(f(np.array([c, d])), dtype=np.float64)
        a, b = (a, d) if fc < fd else (c, b)
    zmin = (a + b) / 2.0
    return float(zmin), float(np.asarray(f(np.array([zmin])), dtype=np.float64)[0])


def plot_mish_vs_swish(mish: Fn, swish: Callable[..., np.ndarray], mish_delta: Fn,
                       mish_grad: Fn | None = None, swish_grad: Callable[..., np.ndarray] | None
                       = None) -> Figure:
    r"""Left: mish and swish (beta = 1) with each non-monotone minimum marked.
    Right: the note's Delta(z) = sech^2(softplus(z)), with the two derivatives if given.
    """
    z = _grid(-5.0, 3.0, 801)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    left.plot(z, mish(z), "C3", label="mish(z)")
    left.plot(z, swish(z, beta=1.0), "C0", label=r"swish(z), $\beta = 1$")
    for f, color, name in ((mish, "C3", "mish"), (lambda x: swish(x, beta=1.0), "C0", "swish")):
        zmin, fmin = unit_minimum(f)
        left.plot([zmin], [fmin], "o", color=color,
                  label=f"{name} minimum {fmin:.4f} at z = {zmin:.4f}")
    left.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    left.set(title="Mish against Swish: non-monotone below 0", xlabel="z", ylabel="value",
             ylim=(-0.6, 3.0))
    left.legend(fontsize="small")
    right.plot(z, mish_delta(z), "C2", label=r"$\Delta(z) = \mathrm{sech}^2(\mathrm{softplus}(z))$")
    if mish_grad is not None:
        right.plot(z, mish_grad(z), "C3--", label="mish'(z)")
    if swish_grad is not None:
        right.plot(z, swish_grad(z, beta=1.0), "C0--", label="swish'(z)")
    right.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    right.set(title=r"The note's $\Delta(z)$ and the derivatives", xlabel="z", ylabel="value")
    right.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_dead_fractions(results: Sequence) -> Figure:
    r"""Bars of the dead fraction before and after training, one pair per setting.

    ``results`` are :class:`course_utils.dying_relu.DyingReluResult` (label, dead_before,
    dead_after, accuracy).
    """
    if not results:
        raise ValueError("plot_dead_fractions: no results to draw.")
    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.bar(x - 0.2, [100 * r.dead_before for r in results], 0.4, label="before training")
    ax.bar(x + 0.2, [100 * r.dead_after for r in results], 0.4, label="after training")
    for xi, r in zip(x, results, strict=True):
        ax.annotate(f"acc {r.accuracy:.0%}", (xi + 0.2, 100 * r.dead_after), ha="center",
                    va="bottom", fontsize="small")
    ax.set_xticks(x, [r.label.replace(": ", ":\n") for r in results], fontsize="small")
    ax.set(title="Dying ReLU: hidden units that are zero on every digit", xlabel="setting",
           ylabel="dead units (%)", ylim=(0, 110))
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_fixes(results: Sequence) -> Figure:
    r"""The fixes for dying ReLU, side by side: per setting, the training accuracy and the
    share of hidden units negative on every example, one bar per unit (the mean over seeds,
    with the range over seeds as an error bar; 'diverged' where a run did).

    ``results`` are :class:`course_utils.dying_relu.FixResult`.
    """
    if not results:
        raise ValueError("plot_fixes: no results to draw.")
    units = list(dict.fromkeys(r.unit for r in results))
    settings = list(dict.fromkeys(r.setting for r in results))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    width = 0.8 / len(units)
    for ax, field, title in zip(axes, ("accuracy", "negative_after"),
                                ("training accuracy", "units with z < 0 on every digit"),
                                strict=True):
        for k, unit in enumerate(units):
            x = np.arange(len(settings)) + (k - (len(units) - 1) / 2) * width
            for xi, setting in zip(x, settings, strict=True):
                rows = [r for r in results if r.unit == unit and r.setting == setting]
                if any(r.diverged for r in rows):
                    ax.text(xi, 2, "diverged", rotation=90, ha="center", va="bottom",
                            fontsize="x-small", color=f"C{k}")
                    continue
                values = 100 * np.array([getattr(r, field) for r in rows])
                mean = values.mean()
                ax.bar(xi, mean, width, color=f"C{k}", label=unit if xi == x[0] else None,
                       yerr=[[mean - values.min()], [values.max() - mean]], capsize=2)
        ax.set_xticks(np.arange(len(settings)), [s.replace(": ", ":\n") for s in settings],
                      fontsize="small")
        ax.set(title=title, ylabel="%", ylim=(0, 110))
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{k}") for k in range(len(units))]
    fig.legend(handles, units, fontsize="small", loc="lower center", ncol=len(units))
    fig.suptitle("Dying ReLU and its fixes (mean over seeds, bars: the range)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
