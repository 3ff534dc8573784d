"""04_numerical_stability, graded by its own test cells in one live kernel per notebook.

- the source notebook runs top to bottom and every test cell passes;
- the release (stubs) earns 0: every test cell fails, saying the function is not implemented;
- for each graded function, a catalogue of wrong answers is redefined in the source kernel and
  the relevant test cell fails with a message naming the problem;
- several different correct formulations pass every test cell of their function.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest
from nbsession import NotebookSession, grade_cells, release_outcomes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NAME = "04_numerical_stability"
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"

ELEMENTWISE = ["stable_sigmoid", "softplus", "log_sigmoid"]
TESTS = {
    **{f"{fn}_{aspect}": points for fn in ELEMENTWISE
       for aspect, points in [("values", 2), ("edges", 2)]},
    "mlp_forward_values": 3, "mlp_forward_shape": 1,
    "mlp_backward_values": 3, "mlp_backward_shape": 1,
    "xavier_normal_stats": 2, "xavier_normal_rng": 1,
    "he_normal_stats": 2, "he_normal_rng": 1,
    "layer_gradient_norms_values": 3, "layer_gradient_norms_params": 1,
    "layer_norm_forward_values": 2, "layer_norm_forward_shape": 1,
    "layer_norm_backward_values": 3, "layer_norm_backward_shape": 1,
}
#: grade ids of each graded function's test cells, and the solution cell that defines it.
CELLS = {fn: [g for g in TESTS if g.startswith(fn + "_")] for fn in
         ELEMENTWISE + ["mlp_forward", "mlp_backward", "xavier_normal", "he_normal",
                        "layer_gradient_norms", "layer_norm_forward", "layer_norm_backward"]}
SOLUTION = {fn: f"{fn}_solution" for fn in CELLS}
SOLUTION["xavier_normal"] = SOLUTION["he_normal"] = "initialisers_solution"
SOLUTION["layer_norm_forward"] = SOLUTION["layer_norm_backward"] = "layer_norm_solution"


@pytest.fixture(scope="module")
def source():
    with NotebookSession(SOURCE, timeout=180) as nb:
        outcomes = nb.run_all()
        nb.outcomes = outcomes
        nb.solutions = {
            cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.nb.cells
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"}
        yield nb


def define(nb, code: str) -> None:
    outcome = nb.run(textwrap.dedent(code))
    assert outcome.passed, outcome.text


def restore(nb, *functions: str) -> None:
    for solution_id in dict.fromkeys(SOLUTION[fn] for fn in functions):
        define(nb, nb.solutions[solution_id])


# --------------------------------------------------------------------------------------
# The notebook as shipped


def test_grade_cells_and_points():
    nb = nbformat.read(SOURCE, as_version=4)
    cells = grade_cells(nb)
    assert {gid: cell.metadata["nbgrader"]["points"] for gid, cell in cells.items()} == TESTS
    written = [c for c in nb.cells if c.cell_type == "markdown"
               and c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata["nbgrader"]["grade_id"] for c in written] == ["remedy_answer"]
    assert sum(TESTS.values()) + written[0].metadata["nbgrader"]["points"] == 42
    # conventions (comment, imports, mark schemes): tests/test_build_checks.py


def test_source_passes_every_test_cell(source):
    assert set(source.outcomes) == set(TESTS)
    failed = {gid: o.text for gid, o in source.outcomes.items() if not o.passed}
    assert not failed


def test_source_experiments_run_without_error(source):
    outcome = source.run(
        "assert all(lab.in_band(c['after']) for r in remedy_runs.values() for c in r.values())\n"
        "assert zeros.mean() > 0.3 and zeros_scaled.mean() < 0.01\n"
        "assert np.isinf(rel_error[-1]) and rel_error.min() < 1e-2")
    assert outcome.passed, outcome.text


def test_release_earns_zero():
    assert set(release_outcomes(RELEASE, timeout=180)) == set(TESTS)


# --------------------------------------------------------------------------------------
# Wrong answers, one redefinition at a time: (function, label, code, failing cells, words)

WRONG = [
    # stable_sigmoid
    ("stable_sigmoid", "naive formula overflows", """
        def stable_sigmoid(z):
            z = as_float(z)
            return 1 / (1 + np.exp(-z))
     """, ["stable_sigmoid_edges"], "overflow"),
    ("stable_sigmoid", "small relative error", """
        def stable_sigmoid(z):
            z = as_float(z)
            e = np.exp(-np.abs(z))
            return np.where(z >= 0, 1 / (1 + e), e / (1 + e)) * (1 + 1e-5)
     """, ["stable_sigmoid_values"], "values are wrong"),
    ("stable_sigmoid", "clipped input loses the tails", """
        def stable_sigmoid(z):
            z = as_float(z)
            return 1 / (1 + np.exp(-np.clip(z, -30, 30)))
     """, ["stable_sigmoid_values", "stable_sigmoid_edges"], "values are wrong"),
    ("stable_sigmoid", "wrong at 0", """
        def stable_sigmoid(z):
            z = as_float(z)
            e = np.exp(-np.abs(z))
            return np.where(z > 0, 1 / (1 + e), np.where(z < 0, e / (1 + e), 0.0))
     """, ["stable_sigmoid_values"], "z = 0.0: expected 0.5"),
    ("stable_sigmoid", "wrong sign region (branches swapped)", """
        def stable_sigmoid(z):
            z = as_float(z)
            e = np.exp(-np.abs(z))
            return np.where(z >= 0, e / (1 + e), 1 / (1 + e))
     """, ["stable_sigmoid_values", "stable_sigmoid_edges"], "values are wrong"),
    ("stable_sigmoid", "float32 promoted to float64", """
        def stable_sigmoid(z):
            z = np.asarray(z, dtype=np.float64)
            e = np.exp(-np.abs(z))
            return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
     """, ["stable_sigmoid_edges"], "dtype float64"),
    ("stable_sigmoid", "input overwritten in place", """
        def stable_sigmoid(z):
            z = as_float(z)
            e = np.exp(-np.abs(z))
            z[...] = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
            return z
     """, ["stable_sigmoid_edges"], "stable_sigmoid"),
    # softplus
    ("softplus", "naive formula overflows", """
        def softplus(z):
            z = as_float(z)
            return np.log(1 + np.exp(z))
     """, ["softplus_edges"], "overflow"),
    ("softplus", "log instead of log1p cancels", """
        def softplus(z):
            z = as_float(z)
            return np.maximum(z, 0) + np.log(1 + np.exp(-np.abs(z)))
     """, ["softplus_values"], "values are wrong"),
    ("softplus", "ReLU only", """
        def softplus(z):
            return np.maximum(as_float(z), 0)
     """, ["softplus_values", "softplus_edges"], "values are wrong"),
    ("softplus", "wrong sign region", """
        def softplus(z):
            z = as_float(z)
            return np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))
     """, ["softplus_values", "softplus_edges"], "values are wrong"),
    ("softplus", "float32 promoted to float64", """
        def softplus(z):
            return np.logaddexp(0.0, np.asarray(z, dtype=np.float64))
     """, ["softplus_edges"], "dtype float64"),
    # log_sigmoid
    ("log_sigmoid", "naive formula overflows", """
        def log_sigmoid(z):
            z = as_float(z)
            return np.log(1 / (1 + np.exp(-z)))
     """, ["log_sigmoid_edges"], "overflow"),
    ("log_sigmoid", "log of a stable sigmoid gives -inf", """
        def log_sigmoid(z):
            return np.log(stable_sigmoid(z))
     """, ["log_sigmoid_edges"], "divide by zero"),
    ("log_sigmoid", "log instead of log1p cancels", """
        def log_sigmoid(z):
            z = as_float(z)
            return np.minimum(z, 0) - np.log(1 + np.exp(-np.abs(z)))
     """, ["log_sigmoid_values"], "values are wrong"),
    ("log_sigmoid", "wrong sign region", """
        def log_sigmoid(z):
            z = as_float(z)
            return np.minimum(-z, 0) - np.log1p(np.exp(-np.abs(z)))
     """, ["log_sigmoid_values", "log_sigmoid_edges"], "values are wrong"),
    ("log_sigmoid", "float32 promoted to float64", """
        def log_sigmoid(z):
            z = np.asarray(z, dtype=np.float64)
            return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))
     """, ["log_sigmoid_edges"], "dtype float64"),
    # mlp_forward
    ("mlp_forward", "no sigma on the last layer", """
        def mlp_forward(x, weights, sigma):
            a = x
            for W in weights[:-1]:
                a = sigma(a @ W.T)
            return a @ weights[-1].T, None
     """, ["mlp_forward_values"], "apply sigma to the last layer"),
    ("mlp_forward", "small relative error", """
        def mlp_forward(x, weights, sigma):
            a = x
            for W in weights:
                a = sigma(a @ W.T)
            return a * (1 + 1e-5), None
     """, ["mlp_forward_values"], "values are wrong"),
    ("mlp_forward", "sigma parameter ignored", """
        def mlp_forward(x, weights, sigma):
            a = x
            for W in weights:
                a = np.tanh(a @ W.T)
            return a, None
     """, ["mlp_forward_values"], "values are wrong"),
    ("mlp_forward", "float32 result", """
        def mlp_forward(x, weights, sigma):
            a = x.astype(np.float32)
            for W in weights:
                a = sigma(a @ W.T.astype(np.float32))
            return a, None
     """, ["mlp_forward_shape", "mlp_forward_values"], "float32"),
    ("mlp_forward", "input modified in place", """
        def mlp_forward(x, weights, sigma):
            a = x
            for W in weights:
                a = sigma(a @ W.T)
            x *= 0.5
            return a, None
     """, ["mlp_forward_shape"], "in place"),
    ("mlp_forward", "returns y only", """
        def mlp_forward(x, weights, sigma):
            a = x
            for W in weights:
                a = sigma(a @ W.T)
            return a
     """, ["mlp_forward_values", "mlp_forward_shape"], "expected a pair (y, cache)"),
    # mlp_backward
    ("mlp_backward", "averaged over the batch", """
        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            activations, pre = cache
            g, grads = dL_dy, [None] * len(weights)
            for l in reversed(range(len(weights))):
                delta = sigma_grad(pre[l]) * g
                grads[l] = delta.T @ activations[l] / len(dL_dy)
                g = delta @ weights[l]
            return grads, g
     """, ["mlp_backward_values"], "do not average over N"),
    ("mlp_backward", "sigma' taken at a instead of z", """
        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            activations, pre = cache
            g, grads = dL_dy, [None] * len(weights)
            for l in reversed(range(len(weights))):
                delta = sigma_grad(activations[l + 1]) * g
                grads[l] = delta.T @ activations[l]
                g = delta @ weights[l]
            return grads, g
     """, ["mlp_backward_values"], "not at a"),
    ("mlp_backward", "wrong sign", """
        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            activations, pre = cache
            g, grads = -dL_dy, [None] * len(weights)
            for l in reversed(range(len(weights))):
                delta = sigma_grad(pre[l]) * g
                grads[l] = delta.T @ activations[l]
                g = delta @ weights[l]
            return grads, g
     """, ["mlp_backward_values"], "wrong sign"),
    ("mlp_backward", "gradients transposed", """
        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            activations, pre = cache
            g, grads = dL_dy, [None] * len(weights)
            for l in reversed(range(len(weights))):
                delta = sigma_grad(pre[l]) * g
                grads[l] = activations[l].T @ delta
                g = delta @ weights[l]
            return grads, g
     """, ["mlp_backward_values", "mlp_backward_shape"], "has shape"),
    ("mlp_backward", "sigma_grad ignored", """
        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            activations, pre = cache
            g, grads = dL_dy, [None] * len(weights)
            for l in reversed(range(len(weights))):
                delta = (1 - np.tanh(pre[l]) ** 2) * g
                grads[l] = delta.T @ activations[l]
                g = delta @ weights[l]
            return grads, g
     """, ["mlp_backward_values"], "values are wrong"),
    ("mlp_backward", "cache modified in place", """
        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            activations, pre = cache
            g, grads = dL_dy, [None] * len(weights)
            for l in reversed(range(len(weights))):
                pre[l] *= 1.0 + 1e-3
                delta = sigma_grad(pre[l]) * g
                grads[l] = delta.T @ activations[l]
                g = delta @ weights[l]
            return grads, g
     """, ["mlp_backward_shape"], "in place"),
    # xavier_normal / he_normal
    ("xavier_normal", "variance passed as the standard deviation", """
        def xavier_normal(fan_in, fan_out, rng):
            return rng.normal(0.0, 2.0 / (fan_in + fan_out), size=(fan_out, fan_in))
     """, ["xavier_normal_stats"], "standard deviation"),
    ("xavier_normal", "uniform with the right variance", """
        def xavier_normal(fan_in, fan_out, rng):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=(fan_out, fan_in))
     """, ["xavier_normal_stats"], "kurtosis"),
    ("xavier_normal", "shape (fan_in, fan_out)", """
        def xavier_normal(fan_in, fan_out, rng):
            return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
     """, ["xavier_normal_stats", "xavier_normal_rng"], "(fan_out, fan_in)"),
    ("xavier_normal", "rng ignored: global np.random", """
        def xavier_normal(fan_in, fan_out, rng):
            return np.random.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_out, fan_in))
     """, ["xavier_normal_rng"], "same seed"),
    ("xavier_normal", "rng ignored: a fixed seed inside", """
        def xavier_normal(fan_in, fan_out, rng):
            rng = np.random.default_rng(0)
            return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_out, fan_in))
     """, ["xavier_normal_rng"], "seeds 123 and 124"),
    ("xavier_normal", "float32 weights", """
        def xavier_normal(fan_in, fan_out, rng):
            std = np.sqrt(2.0 / (fan_in + fan_out))
            return rng.normal(0.0, std, (fan_out, fan_in)).astype(np.float32)
     """, ["xavier_normal_rng"], "float32"),
    ("he_normal", "fan_out instead of fan_in", """
        def he_normal(fan_in, fan_out, rng):
            return rng.normal(0.0, np.sqrt(2.0 / fan_out), size=(fan_out, fan_in))
     """, ["he_normal_stats"], "2 / fan_out"),
    ("he_normal", "Xavier's variance", """
        def he_normal(fan_in, fan_out, rng):
            return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))
     """, ["he_normal_stats"], "variance"),
    ("he_normal", "not centred", """
        def he_normal(fan_in, fan_out, rng):
            return rng.normal(0.05, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
     """, ["he_normal_stats"], "mean"),
    # layer_gradient_norms
    ("layer_gradient_norms", "x drawn before the weights", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            x = rng.standard_normal((32, width))
            weights = [init(width, width, rng) for _ in range(depth)]
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return np.array([np.linalg.norm(g) for g in grads])
     """, ["layer_gradient_norms_values"], "order of draws"),
    ("layer_gradient_norms", "layers reversed", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return np.array([np.linalg.norm(g) for g in grads[::-1]])
     """, ["layer_gradient_norms_values"], "layer 1"),
    ("layer_gradient_norms", "squared norms", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return np.array([np.sum(g ** 2) for g in grads])
     """, ["layer_gradient_norms_values"], "square root"),
    ("layer_gradient_norms", "dL/dy not divided by the batch", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)), weights, sigma_grad)
            return np.array([np.linalg.norm(g) for g in grads])
     """, ["layer_gradient_norms_values"], "same factor 32"),
    ("layer_gradient_norms", "init parameter ignored", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [xavier_normal(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return np.array([np.linalg.norm(g) for g in grads])
     """, ["layer_gradient_norms_values", "layer_gradient_norms_params"], "layer_gradient_norms"),
    ("layer_gradient_norms", "rng parameter ignored", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            rng = np.random.default_rng(0)
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return np.array([np.linalg.norm(g) for g in grads])
     """, ["layer_gradient_norms_values", "layer_gradient_norms_params"], "layer_gradient_norms"),
    ("layer_gradient_norms", "sigma_grad parameter ignored", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights,
                                    lambda z: 1 - np.tanh(z) ** 2)
            return np.array([np.linalg.norm(g) for g in grads])
     """, ["layer_gradient_norms_params"], "sigma_grad"),
    ("layer_gradient_norms", "a list, not an array", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return [np.linalg.norm(g) for g in grads]
     """, ["layer_gradient_norms_values", "layer_gradient_norms_params"], "NumPy array"),
    # layer_norm_forward
    ("layer_norm_forward", "normalised over the batch (axis 0)", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            c = z - z.mean(axis=0, keepdims=True)
            s = np.sqrt((c ** 2).mean(axis=0, keepdims=True) + eps)
            return gamma * (c / s) + beta, (c / s, s, gamma)
     """, ["layer_norm_forward_values"], "axis=1"),
    ("layer_norm_forward", "unbiased variance (ddof=1)", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            c = z - z.mean(axis=1, keepdims=True)
            s = np.sqrt(z.var(axis=1, ddof=1, keepdims=True) + eps)
            return gamma * (c / s) + beta, (c / s, s, gamma)
     """, ["layer_norm_forward_values"], "biased"),
    ("layer_norm_forward", "eps outside the square root", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            c = z - z.mean(axis=1, keepdims=True)
            s = np.sqrt((c ** 2).mean(axis=1, keepdims=True)) + eps
            return gamma * (c / s) + beta, (c / s, s, gamma)
     """, ["layer_norm_forward_values"], "inside the square root"),
    ("layer_norm_forward", "E[z^2] - E[z]^2 cancels", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            m = z.mean(axis=1, keepdims=True)
            var = np.maximum((z * z).mean(axis=1, keepdims=True) - m * m, 0.0)
            s = np.sqrt(var + eps)
            return gamma * ((z - m) / s) + beta, ((z - m) / s, s, gamma)
     """, ["layer_norm_forward_values"], "shifted by 1e8"),
    ("layer_norm_forward", "gamma and beta swapped", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            c = z - z.mean(axis=1, keepdims=True)
            s = np.sqrt((c ** 2).mean(axis=1, keepdims=True) + eps)
            return beta * (c / s) + gamma, (c / s, s, beta)
     """, ["layer_norm_forward_values"], "values are wrong"),
    ("layer_norm_forward", "eps ignored (always 1e-5)", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            c = z - z.mean(axis=1, keepdims=True)
            s = np.sqrt((c ** 2).mean(axis=1, keepdims=True) + 1e-5)
            return gamma * (c / s) + beta, (c / s, s, gamma)
     """, ["layer_norm_forward_shape"], "eps you are given"),
    ("layer_norm_forward", "normalises z in place", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            z -= z.mean(axis=1, keepdims=True)
            s = np.sqrt((z ** 2).mean(axis=1, keepdims=True) + eps)
            z /= s
            return gamma * z + beta, (z.copy(), s, gamma)
     """, ["layer_norm_forward_shape"], "in place"),
    # layer_norm_backward, on the cache of the source's layer_norm_forward: (zhat, inv_std, gamma)
    ("layer_norm_backward", "the term of the mean missing", """
        def layer_norm_backward(cache, upstream):
            zhat, inv_std, gamma = cache
            g = upstream * gamma
            dz = inv_std * (g - zhat * (g * zhat).mean(axis=1, keepdims=True))
            return dz, (upstream * zhat).sum(axis=0), upstream.sum(axis=0)
     """, ["layer_norm_backward_values"], "term of the mean"),
    ("layer_norm_backward", "the term of the variance missing", """
        def layer_norm_backward(cache, upstream):
            zhat, inv_std, gamma = cache
            g = upstream * gamma
            dz = inv_std * (g - g.mean(axis=1, keepdims=True))
            return dz, (upstream * zhat).sum(axis=0), upstream.sum(axis=0)
     """, ["layer_norm_backward_values"], "term of the variance"),
    ("layer_norm_backward", "gamma left out of dz", """
        def layer_norm_backward(cache, upstream):
            zhat, inv_std, gamma = cache
            dz = inv_std * (upstream - upstream.mean(axis=1, keepdims=True)
                            - zhat * (upstream * zhat).mean(axis=1, keepdims=True))
            return dz, (upstream * zhat).sum(axis=0), upstream.sum(axis=0)
     """, ["layer_norm_backward_values"], "through gamma"),
    ("layer_norm_backward", "dgamma and dbeta averaged over the batch", """
        def layer_norm_backward(cache, upstream):
            zhat, inv_std, gamma = cache
            g = upstream * gamma
            dz = inv_std * (g - g.mean(axis=1, keepdims=True)
                            - zhat * (g * zhat).mean(axis=1, keepdims=True))
            return dz, (upstream * zhat).mean(axis=0), upstream.mean(axis=0)
     """, ["layer_norm_backward_values"], "sums over the batch"),
    ("layer_norm_backward", "dz as if mean and variance were constants", """
        def layer_norm_backward(cache, upstream):
            zhat, inv_std, gamma = cache
            return upstream * gamma * inv_std, (upstream * zhat).sum(axis=0), upstream.sum(axis=0)
     """, ["layer_norm_backward_values"], "values are wrong"),
    ("layer_norm_backward", "scales upstream in place", """
        def layer_norm_backward(cache, upstream):
            zhat, inv_std, gamma = cache
            dbeta, dgamma = upstream.sum(axis=0), (upstream * zhat).sum(axis=0)
            upstream *= gamma
            dz = inv_std * (upstream - upstream.mean(axis=1, keepdims=True)
                            - zhat * (upstream * zhat).mean(axis=1, keepdims=True))
            return dz, dgamma, dbeta
     """, ["layer_norm_backward_shape"], "in place"),
]


@pytest.mark.parametrize("fn, label, code, failing, words", WRONG,
                         ids=[f"{w[0]}: {w[1]}" for w in WRONG])
def test_wrong_answer_is_rejected(source, fn, label, code, failing, words):
    define(source, code)
    try:
        outcomes = source.run_tests(failing)
    finally:
        restore(source, fn)
    for gid, outcome in outcomes.items():
        assert not outcome.passed, f"{gid} accepted: {label}"
        assert fn in outcome.text, outcome.text
        assert len(outcome.error.splitlines()) <= 8, outcome.error
    assert words in outcomes[failing[0]].text, outcomes[failing[0]].text


# --------------------------------------------------------------------------------------
# Different correct formulations: every test cell of the function passes

CORRECT = [
    (["stable_sigmoid"], "exp(min(z, 0)) / (1 + exp(-|z|))", """
        def stable_sigmoid(z):
            z = as_float(z)
            return np.exp(np.minimum(z, 0)) / (1 + np.exp(-np.abs(z)))
     """),
    (["stable_sigmoid"], "masks and a copy", """
        def stable_sigmoid(z):
            z = as_float(z)
            out = np.empty_like(z)
            pos = z >= 0
            out[pos] = 1 / (1 + np.exp(-z[pos]))
            e = np.exp(z[~pos])
            out[~pos] = e / (1 + e)
            return out
     """),
    (["softplus"], "np.logaddexp(0, z)", """
        def softplus(z):
            z = as_float(z)
            return np.logaddexp(np.zeros_like(z), z)
     """),
    (["softplus"], "piecewise with np.where", """
        def softplus(z):
            z = as_float(z)
            tail = np.log1p(np.exp(-np.abs(z)))
            return np.where(z > 0, z + tail, tail)
     """),
    (["log_sigmoid"], "-logaddexp(0, -z)", """
        def log_sigmoid(z):
            z = as_float(z)
            return -np.logaddexp(np.zeros_like(z), -z)
     """),
    (["log_sigmoid"], "-softplus(-z) with your softplus", """
        def log_sigmoid(z):
            return -softplus(-as_float(z))
     """),
    (["mlp_forward", "mlp_backward"], "dict cache, einsum", """
        def mlp_forward(x, weights, sigma):
            cache = {"a": [np.array(x, dtype=float)], "z": []}
            for W in weights:
                cache["z"].append(np.einsum("ni,oi->no", cache["a"][-1], W))
                cache["a"].append(sigma(cache["z"][-1]))
            return cache["a"][-1], cache

        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            grads, g = [], dL_dy
            for W, z, a in zip(weights[::-1], cache["z"][::-1], cache["a"][-2::-1]):
                delta = g * sigma_grad(z)
                grads.insert(0, np.einsum("no,ni->oi", delta, a))
                g = np.einsum("no,oi->ni", delta, W)
            return grads, g
     """),
    (["mlp_forward", "mlp_backward"], "the note's columns, one example at a time, explicit diag",
     """
        def mlp_forward(x, weights, sigma):
            cache, a = [], np.array(x, dtype=float)
            for W in weights:
                z = (W @ a.T).T
                cache.append((a, z))
                a = sigma(z)
            return a, cache

        def mlp_backward(cache, dL_dy, weights, sigma_grad):
            grads = [np.zeros_like(W) for W in weights]
            dx = np.zeros_like(cache[0][0])
            for n in range(dL_dy.shape[0]):
                g = dL_dy[n]
                for l in reversed(range(len(weights))):
                    a_prev, z = cache[l]
                    delta = np.diag(sigma_grad(z[n])) @ g
                    grads[l] += np.outer(delta, a_prev[n])
                    g = weights[l].T @ delta
                dx[n] = g
            return grads, dx
     """),
    (["xavier_normal", "he_normal"], "standard_normal times the standard deviation", """
        def xavier_normal(fan_in, fan_out, rng):
            return rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / (fan_in + fan_out))

        def he_normal(fan_in, fan_out, rng):
            return rng.standard_normal(size=(fan_out, fan_in)) * (2 / fan_in) ** 0.5
     """),
    (["xavier_normal", "he_normal"], "drawn transposed, keyword scale", """
        def xavier_normal(fan_in, fan_out, rng):
            w = rng.normal(loc=0.0, scale=1.0, size=(fan_in, fan_out))
            return np.ascontiguousarray(w.T) / np.sqrt((fan_in + fan_out) / 2)

        def he_normal(fan_in, fan_out, rng):
            return rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
     """),
    (["layer_gradient_norms"], "a loop and the sum of squares", """
        def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
            weights = []
            for _ in range(depth):
                weights.append(init(width, width, rng))
            x = rng.standard_normal(size=(32, width))
            _, cache = mlp_forward(x, weights, sigma)
            grads, _ = mlp_backward(cache, np.full((32, width), 1 / 32), weights, sigma_grad)
            return np.sqrt(np.array([np.sum(g * g) for g in grads]))
     """),
    (["layer_norm_forward", "layer_norm_backward"], "np.var, and the full Jacobian per row", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            mu = np.mean(z, axis=1)[:, None]
            var = np.var(z, axis=1)[:, None]
            zhat = (z - mu) / np.sqrt(var + eps)
            return zhat * gamma[None, :] + beta[None, :], {"zhat": zhat, "var": var,
                                                           "gamma": gamma.copy(), "eps": eps}

        def layer_norm_backward(cache, upstream):
            zhat, var, gamma = cache["zhat"], cache["var"], cache["gamma"]
            n, d = zhat.shape
            dz = np.empty_like(zhat)
            for i in range(n):
                jac = (np.eye(d) - 1.0 / d - np.outer(zhat[i], zhat[i]) / d)
                dz[i] = jac.T @ (upstream[i] * gamma) / np.sqrt(var[i, 0] + cache["eps"])
            return dz, np.einsum("nd,nd->d", upstream, zhat), upstream.sum(axis=0)
     """),
    (["layer_norm_forward", "layer_norm_backward"], "the sum form of the backward", """
        def layer_norm_forward(z, gamma, beta, eps=1e-5):
            d = z.shape[1]
            mu = z.sum(axis=1, keepdims=True) / d
            xc = z - mu
            var = (xc * xc).sum(axis=1, keepdims=True) / d
            ivar = 1 / np.sqrt(var + eps)
            return gamma * xc * ivar + beta, (xc, ivar, gamma)

        def layer_norm_backward(cache, upstream):
            xc, ivar, gamma = cache
            d = xc.shape[1]
            zhat = xc * ivar
            g = upstream * gamma
            dz = (ivar / d) * (d * g - g.sum(axis=1, keepdims=True)
                               - zhat * (g * zhat).sum(axis=1, keepdims=True))
            return dz, (upstream * zhat).sum(axis=0), upstream.sum(axis=0)
     """),
]


@pytest.mark.parametrize("functions, label, code", CORRECT,
                         ids=[f"{'+'.join(c[0])}: {c[1]}" for c in CORRECT])
def test_correct_formulation_passes(source, functions, label, code):
    define(source, code)
    try:
        outcomes = source.run_tests([gid for fn in functions for gid in CELLS[fn]])
    finally:
        restore(source, *functions)
    failed = {gid: o.text for gid, o in outcomes.items() if not o.passed}
    assert not failed, label
