"""course_utils.data, .training, .memory and .plotting.training: the helpers of 03_swish_mish."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from course_utils import data as data_mod  # noqa: E402
from course_utils.data import load_digits_split  # noqa: E402
from course_utils.memory import saved_for_backward, tensor_attributes  # noqa: E402
from course_utils.plotting import training as plots  # noqa: E402
from course_utils.training import (  # noqa: E402
    Run,
    input_spread,
    learned_parameters,
    make_mlp,
    run_grid,
    spread_at_init,
    summarize,
    train,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


# --- data ----------------------------------------------------------------------------------

def test_digits_split_shapes_dtypes_and_standardization(digits):
    assert digits.x_train.shape == (1347, 64) and digits.x_test.shape == (450, 64)
    assert digits.x_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert digits.n_classes == 10 and digits.n_features == 64
    assert set(np.unique(digits.y_train)) == set(range(10))
    mean, std = digits.x_train.mean(axis=0), digits.x_train.std(axis=0)
    assert np.allclose(mean, 0, atol=1e-5)
    assert np.allclose(std[std > 0], 1, atol=1e-4)        # constant pixels stay 0
    assert np.isfinite(digits.x_test).all()


def test_digits_split_is_fixed_and_seeded(digits):
    again = load_digits_split()
    assert np.array_equal(again.x_train, digits.x_train)
    assert np.array_equal(again.y_test, digits.y_test)
    other = load_digits_split(seed=1)
    assert not np.array_equal(other.y_train, digits.y_train)


def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits

    x, y = data_mod.load_digits_arrays()
    bunch = load_digits()
    assert np.array_equal(x, bunch.data) and np.array_equal(y, bunch.target)


def test_subset_and_bad_arguments(digits):
    small = digits.subset(100)
    assert small.x_train.shape == (100, 64) and small.x_test.shape == digits.x_test.shape
    with pytest.raises(ValueError, match="subset"):
        digits.subset(0)
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(test_fraction=1.0)


# --- training ------------------------------------------------------------------------------

class _Slope(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(0.25))

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight * x)


def test_make_mlp_structure():
    model = make_mlp(64, 10, width=16, depth=3, activation=_Slope)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    acts = [m for m in model if isinstance(m, _Slope)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 16), (16, 16), (16, 16),
                                                                   (16, 10)]
    assert len(acts) == 3 and len({id(a) for a in acts}) == 3   # a fresh one per layer
    assert model(torch.zeros(5, 64)).shape == (5, 10)
    assert learned_parameters(model) == [0.25, 0.25, 0.25]
    assert learned_parameters(make_mlp(4, 2, width=3, depth=2, activation=nn.ReLU)) == []
    with pytest.raises(ValueError, match="depth"):
        make_mlp(4, 2, width=3, depth=0, activation=nn.ReLU)
    with pytest.raises(ValueError, match="init"):
        make_mlp(4, 2, width=3, depth=1, activation=nn.ReLU, init="Glorot")


def test_make_mlp_initialisations_and_layer_norm():
    """He draws Var(W) = 2/n_in and Xavier 2/(n_in + n_out), biases 0; the default keeps
    PyTorch's U(-1/sqrt(n_in), 1/sqrt(n_in)), Var = 1/(3 n_in); norm puts a LayerNorm
    between each hidden Linear and its activation."""
    n_in, width = 400, 300
    expected = {"default": 1 / (3 * n_in), "He": 2 / n_in, "Xavier": 2 / (n_in + width)}
    for init, var in expected.items():
        torch.manual_seed(0)
        first = make_mlp(n_in, 10, width=width, depth=1, activation=nn.ReLU, init=init)[0]
        assert float(first.weight.detach().var()) == pytest.approx(var, rel=0.02), init
        assert (float(first.bias.detach().abs().max()) == 0) == (init != "default"), init
    model = make_mlp(8, 3, width=5, depth=2, activation=_Slope, norm=True)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "LayerNorm", "_Slope", "Linear", "LayerNorm", "_Slope", "Linear"]
    assert learned_parameters(model) == [0.25, 0.25]     # LayerNorm's gain is not a slope
    out = model[1](model[0](torch.randn(50, 8)))
    assert torch.allclose(out.mean(dim=1), torch.zeros(50), atol=1e-5)


def test_train_returns_curves_and_learns(digits):
    torch.manual_seed(0)
    model = make_mlp(64, 10, width=32, depth=1, activation=nn.ReLU)
    loss, accuracy = train(model, digits.subset(300), epochs=15, lr=1e-2)
    assert loss.shape == accuracy.shape == (15,)
    assert loss[-1] < loss[0] / 2
    assert accuracy[-1] > 0.6 and ((0 <= accuracy) & (accuracy <= 1)).all()


def test_run_grid_is_deterministic_and_ordered(digits):
    small = digits.subset(200)
    kwargs = dict(seeds=(0, 1), depths=(1, 2), width=8, epochs=3, progress=False)
    runs = run_grid({"ReLU": nn.ReLU, "slope": _Slope}, small, **kwargs)
    assert [(r.activation, r.depth, r.seed) for r in runs] == [
        (a, d, s) for a in ("ReLU", "slope") for d in (1, 2) for s in (0, 1)]
    again = run_grid({"ReLU": nn.ReLU, "slope": _Slope}, small, **kwargs)
    for a, b in zip(runs, again, strict=True):
        assert np.array_equal(a.train_loss, b.train_loss)
        assert np.array_equal(a.test_accuracy, b.test_accuracy)
    assert runs[0].learned == [] and len(runs[-1].learned) == 2
    # Mini-batches are shuffled by the seed and still reproducible.
    one = run_grid({"ReLU": nn.ReLU}, small, seeds=(3,), width=8, epochs=2, batch_size=64,
                   progress=False)
    two = run_grid({"ReLU": nn.ReLU}, small, seeds=(3,), width=8, epochs=2, batch_size=64,
                   progress=False)
    assert np.array_equal(one[0].train_loss, two[0].train_loss)


def test_same_seed_same_initial_weights_for_every_activation(digits):
    torch.manual_seed(5)
    a = make_mlp(64, 10, width=8, depth=2, activation=nn.ReLU)
    torch.manual_seed(5)
    b = make_mlp(64, 10, width=8, depth=2, activation=_Slope)
    for la, lb in zip([m for m in a if isinstance(m, nn.Linear)],
                      [m for m in b if isinstance(m, nn.Linear)], strict=True):
        assert torch.equal(la.weight, lb.weight)


def test_input_spread_is_zero_for_a_blind_network_and_one_for_centred_outputs(digits):
    model = make_mlp(64, 10, width=8, depth=1, activation=nn.Identity)
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(3.0)
    x = torch.as_tensor(digits.x_train[:100])
    assert input_spread(model, x) == 0.0                  # every input maps to (3, ..., 3)
    with torch.no_grad():
        model[0].weight.normal_()
        model[0].bias.zero_()
    assert input_spread(model, x) == pytest.approx(1.0, abs=0.05)   # x is standardised
    spread = spread_at_init({"ReLU": nn.ReLU}, digits.subset(100), seeds=(0, 1), depths=(1, 20),
                            width=16, setups={"default": {}, "He": {"init": "He"}})
    assert set(spread) == {(s, "ReLU", d) for s in ("default", "He") for d in (1, 20)}
    assert all(v.shape == (2,) and ((0 <= v) & (v <= 1)).all() for v in spread.values())
    assert spread[("default", "ReLU", 20)].max() < 1e-3 < spread[("He", "ReLU", 20)].min()


def test_summarize():
    runs = [Run("A", 2, s, np.zeros(2), np.array([0.0, acc])) for s, acc in enumerate([.5, .7])]
    runs.append(Run("A", 4, 0, np.zeros(2), np.array([0.0, 0.2])))
    assert summarize(runs) == {"A": pytest.approx((0.4666666, 0.2, 0.7))}
    by_depth = summarize(runs, by="depth")
    assert by_depth[("A", 2)] == pytest.approx((0.6, 0.5, 0.7))
    with pytest.raises(ValueError, match="by"):
        summarize(runs, by="seed")
    runs.append(Run("A", 2, 0, np.zeros(2), np.array([0.0, 0.9]), setup="He"))
    by_setup = summarize(runs, by="setup")
    assert by_setup[("default", "A", 2)] == pytest.approx((0.6, 0.5, 0.7))
    assert by_setup[("He", "A", 2)] == pytest.approx((0.9, 0.9, 0.9))


def test_run_grid_setups(digits):
    setups = {"default": {}, "He, LayerNorm": {"init": "He", "norm": True}}
    runs = run_grid({"ReLU": nn.ReLU}, digits.subset(100), seeds=(0,), depths=(2,), width=8,
                    epochs=2, setups=setups, progress=False)
    assert [r.setup for r in runs] == ["default", "He, LayerNorm"]
    assert not np.array_equal(runs[0].train_loss, runs[1].train_loss)


# --- memory --------------------------------------------------------------------------------

def test_saved_for_backward_counts_what_autograd_keeps():
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    native = saved_for_backward(F.mish, x)
    assert native.count == 1 and native.nbytes == native.unique_nbytes == 8000
    naive = saved_for_backward(lambda t: t * torch.tanh(F.softplus(t)), x)
    assert naive.count == 4 and naive.unique_nbytes == 16000 and naive.nbytes == 32000
    assert saved_for_backward(F.mish, x.detach()).count == 0     # nothing needs a gradient


class _Stash(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.twice = 2 * x
        ctx.save_for_backward(x)
        return 2 * x

    @staticmethod
    def backward(ctx, upstream):
        return 2 * upstream


def test_tensor_attributes_finds_tensors_stashed_on_ctx():
    x = torch.randn(10, requires_grad=True)
    assert tensor_attributes(_Stash.apply(x)) == ["twice"]
    assert saved_for_backward(_Stash.apply, x).count == 1   # the hooks do not see ctx.twice
    assert tensor_attributes(F.mish(x)) == []
    assert tensor_attributes(x.detach()) == []


# --- plotting ------------------------------------------------------------------------------

def _runs():
    rng = np.random.default_rng(0)
    runs = []
    for name, learned in (("ReLU", []), ("PReLU", [0.3, 0.2])):
        for depth in (2, 4):
            for seed in range(3):
                runs.append(Run(name, depth, seed, rng.random(5) + 0.1, rng.random(5),
                                list(learned)))
    return runs


@pytest.mark.parametrize("draw", [
    lambda runs: plots.plot_final_accuracy(runs),
    lambda runs: plots.plot_learned_parameters(runs, initial={"PReLU": 0.25}),
    lambda runs: plots.plot_accuracy_vs_depth(runs),
    lambda runs: plots.plot_saved_bytes({"a": 100, "b": 200}, input_bytes=100),
])
def test_figures_have_titles_labels_and_legends(draw):
    fig = draw(_runs())
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None and ax.get_legend().get_texts()
    plt.close(fig)


def test_depth_by_setup_has_a_panel_per_setup():
    runs = _runs() + [Run(r.activation, r.depth, r.seed, r.train_loss, r.test_accuracy,
                          r.learned, "He") for r in _runs()]
    fig = plots.plot_depth_by_setup(runs)
    assert [ax.get_title() for ax in fig.axes] == ["default: accuracy against depth",
                                                   "He: accuracy against depth"]
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
    assert all(ax.get_xlabel() for ax in fig.axes) and fig.axes[0].get_ylabel()
    plt.close(fig)


def test_learning_curves_have_two_labelled_panels():
    fig = plots.plot_learning_curves([r for r in _runs() if r.depth == 2])
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert fig.axes[1].get_legend() is not None
    plt.close(fig)
