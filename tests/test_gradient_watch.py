"""course_utils.gradient_watch and plotting.watch: 04's training, watched layer by layer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import gradient_watch as watch  # noqa: E402
from course_utils.data import load_digits_split  # noqa: E402
from course_utils.plotting import watch as watch_plots  # noqa: E402
from course_utils.reference import mlp_backward, mlp_forward  # noqa: E402
from course_utils.stability_lab import INITS  # noqa: E402
from course_utils.units import ACTIVATIONS  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits_split().subset(120)


def test_the_recorded_gradients_are_autograds(digits):
    """Epoch 0's norms and the weights after one step, against torch autograd on the same
    network: hidden layers, read-out, mean softmax cross-entropy, one SGD step."""
    depth, width, lr = 3, 6, 0.3
    w = watch.watch_training(mlp_forward, mlp_backward, digits, "mish", "He", depth=depth,
                             width=width, epochs=1, lr=lr, seed=4)
    rng = np.random.default_rng(4)
    sizes = [digits.n_features] + [width] * depth
    weights = [torch.tensor(INITS["He"](a, b, rng), requires_grad=True)
               for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    readout = torch.tensor(rng.normal(0, np.sqrt(1 / width), (digits.n_classes, width)),
                           requires_grad=True)
    x, y = torch.tensor(digits.x_train, dtype=torch.float64), torch.tensor(digits.y_train)

    def loss_of(ws, v):
        a = x
        for W in ws:
            a = torch.nn.functional.mish(a @ W.T)
        return torch.nn.functional.cross_entropy(a @ v.T, y)

    loss_of(weights, readout).backward()
    norms = [float(W.grad.norm()) for W in weights]
    assert w.grad_norms[0] == pytest.approx(norms, rel=1e-10)
    with torch.no_grad():
        stepped = [W - lr * W.grad for W in weights]
        v = readout - lr * readout.grad
    stepped = [W.clone().requires_grad_(True) for W in stepped]
    loss_of(stepped, v).backward()
    assert w.grad_norms[1] == pytest.approx([float(W.grad.norm()) for W in stepped], rel=1e-8)


def test_shapes_determinism_and_snapshots(digits):
    kwargs = dict(depth=4, width=5, epochs=3, lr=0.1, seed=1, snapshot_at=(0, 3), sample=50)
    a = watch.watch_training(mlp_forward, mlp_backward, digits, "tanh", "Xavier", **kwargs)
    b = watch.watch_training(mlp_forward, mlp_backward, digits, "tanh", "Xavier", **kwargs)
    assert a.grad_norms.shape == (4, 4) and a.test_accuracy.shape == (4,)
    assert np.array_equal(a.grad_norms, b.grad_norms)
    assert sorted(a.snapshots) == [0, 3] and a.snapshots[0].shape == (4, 50)
    assert np.abs(a.snapshots[3]).max() < 1                     # tanh activations
    assert 0 <= a.final_accuracy <= 1


def test_a_diverging_run_is_trapped_and_out_of_band(digits):
    w = watch.watch_training(mlp_forward, mlp_backward, digits, "relu", "N(0,1)", depth=8,
                             width=32, epochs=5, lr=0.2, seed=0)
    assert w.grad_norms[0].min() > 1e3
    assert watch.epochs_in_band(w) == 0
    assert watch.trapped_at(w) is not None and watch.trapped_at(w) <= 3


def test_band_trapped_and_saturation_on_made_up_records():
    def fake(norms, act="tanh", snapshots=None):
        return watch.Watch(act, "He", 0, np.array(norms, dtype=float), np.zeros(len(norms)),
                           snapshots or {})

    assert watch.epochs_in_band(fake([[1, 1], [1, 2e3], [1, 1]])) == 1
    assert watch.epochs_in_band(fake([[1, 1], [1, 1]])) == 2
    assert watch.trapped_at(fake([[1, 1], [np.nan, 0], [0, np.inf]])) == 1
    assert watch.trapped_at(fake([[0, 0], [1, 1], [0, 0]])) == 2
    assert watch.trapped_at(fake([[0, 0], [0, 0]])) == 0
    assert watch.trapped_at(fake([[0, 0], [1, 1]])) is None
    snaps = {0: np.array([[0.995, -0.999, 0.5, 0.0]])}
    assert watch.saturation(fake([[1]], "tanh", snaps), 0) == 0.5
    assert watch.saturation(fake([[1]], "sigmoid", {0: np.array([[0.001, 0.5]])}), 0) == 0.5
    with pytest.raises(ValueError, match="sigmoid and tanh"):
        watch.saturation(fake([[1]], "relu", snaps), 0)


def test_units_match_the_reference():
    from course_utils import reference

    z = np.linspace(-40, 40, 801)
    for name in ("swish", "mish"):
        sigma, grad = ACTIVATIONS[name]
        assert np.allclose(sigma(z), getattr(reference, name)(z), rtol=1e-12, atol=1e-300)
        assert np.allclose(grad(z), getattr(reference, f"{name}_grad")(z), rtol=1e-12,
                           atol=1e-15)


def test_grid_order_and_figures(digits):
    runs = watch.watch_grid(mlp_forward, mlp_backward, digits, activations=("tanh", "relu"),
                            inits=("N(0,1)", "He"), seeds=(0, 1), depth=3, width=4, epochs=2,
                            snapshot_at=(0, 2), progress=False)
    assert [(w.activation, w.init, w.seed) for w in runs] == [
        (a, i, s) for a in ("tanh", "relu") for i in ("N(0,1)", "He") for s in (0, 1)]
    assert list(watch.by_config(runs)) == [("tanh", "N(0,1)"), ("tanh", "He"),
                                           ("relu", "N(0,1)"), ("relu", "He")]
    fig = watch_plots.plot_norms_during_training(runs)
    assert len(fig.axes) == 5 and fig.axes[0].get_title().startswith("tanh, N(0,1)")
    assert fig.axes[-1].get_ylabel() == "log10 ||dL/dW||"             # the colour bar
    plt.close(fig)
    fig = watch_plots.plot_activation_violins(runs, [("tanh", "He"), ("relu", "N(0,1)")])
    assert [ax.get_title() for ax in fig.axes] == [
        "tanh, He, epoch 0", "relu, N(0,1), epoch 0", "tanh, He, epoch 2",
        "relu, N(0,1), epoch 2"]
    assert fig.axes[0].get_ylabel() and fig.axes[2].get_xlabel()
    plt.close(fig)
