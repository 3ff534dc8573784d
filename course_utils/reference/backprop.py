r"""Reference solutions of 04_numerical_stability: the note's MLP, backprop and initialisers.

Shape letters as in ``nonlinearity``: a batch is x (N, n_0), one example per row;
W^(l) has shape (n_l, n_{l-1}) as in the note; z^(l) = a^(l-1) @ W^(l).T, a^(l) = sigma(z^(l)),
for l = 1..L, with sigma on every layer including the last, as the note writes it.
No biases (the note's network has none).
"""

from __future__ import annotations

import numpy as np

#: Batch size of the input that ``layer_gradient_norms`` draws.
GRADIENT_NORM_BATCH = 32


def mlp_forward(x, weights, sigma):
    r"""Forward pass of the note's MLP, keeping what backpropagation needs.

        a^(0) = x,   z^(l) = a^(l-1) W^(l)T,   a^(l) = sigma(z^(l)),   y = a^(L)

    Parameters
    ----------
    x : ndarray (N, n_0), float64
        A batch, one example per row.
    weights : list of L ndarrays, ``weights[l-1]`` of shape (n_l, n_{l-1})
        W^(1), ..., W^(L).
    sigma : callable, elementwise activation applied after every layer (the last included).

    Returns
    -------
    y : ndarray (N, n_L)
    cache : tuple ``(activations, pre_activations)``
        ``activations = [a^(0), ..., a^(L)]`` (L + 1 arrays, a^(0) a copy of x) and
        ``pre_activations = [z^(1), ..., z^(L)]``.

    Examples
    --------
    >>> W = [np.eye(2), 2 * np.eye(2)]
    >>> y, cache = mlp_forward(np.array([[1.0, -1.0]]), W, np.tanh)
    >>> y.shape
    (1, 2)
    """
    a = np.array(x, dtype=np.result_type(x, np.float64), copy=True)
    activations, pre_activations = [a], []
    for W in weights:
        z = a @ W.T
        a = sigma(z)
        pre_activations.append(z)
        activations.append(a)
    return a, (activations, pre_activations)


def mlp_backward(cache, dL_dy, weights, sigma_grad):
    r"""Backpropagation through the note's MLP: the gradients of every weight and of x.

    With delta^(l) = dL/dz^(l) (one row per example), from l = L down to 1:

        delta^(l) = sigma'(z^(l)) * dL/da^(l)           (elementwise: diag(sigma'(z^(l))))
        dL/dW^(l) = delta^(l)T a^(l-1)                  (summed over the batch)
        dL/da^(l-1) = delta^(l) W^(l)                   (the note's W^(l)T delta, row-wise)

    Parameters
    ----------
    cache : the second value returned by ``mlp_forward``.
    dL_dy : ndarray (N, n_L), the upstream gradient dL/dy.
    weights : list of L ndarrays, as given to ``mlp_forward``.
    sigma_grad : callable, the derivative of sigma (elementwise).

    Returns
    -------
    grads_W : list of L ndarrays, ``grads_W[l-1]`` of W^(l)'s shape (n_l, n_{l-1}).
    dL_dx : ndarray (N, n_0).
    """
    activations, pre_activations = cache
    upstream = np.asarray(dL_dy)
    grads = [None] * len(weights)
    for layer in reversed(range(len(weights))):
        delta = sigma_grad(pre_activations[layer]) * upstream
        grads[layer] = delta.T @ activations[layer]
        upstream = delta @ weights[layer]
    return grads, upstream


def xavier_normal(fan_in, fan_out, rng):
    r"""Xavier (Glorot) normal initialisation.

        W_ij ~ N(0, 2 / (fan_in + fan_out))

    Parameters
    ----------
    fan_in, fan_out : int, the layer's input and output sizes.
    rng : numpy.random.Generator, the only source of randomness.

    Returns
    -------
    ndarray (fan_out, fan_in), float64.
    """
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def he_normal(fan_in, fan_out, rng):
    r"""He (Kaiming) normal initialisation, for ReLU layers.

        W_ij ~ N(0, 2 / fan_in)

    Parameters
    ----------
    fan_in, fan_out : int, the layer's input and output sizes.
    rng : numpy.random.Generator, the only source of randomness.

    Returns
    -------
    ndarray (fan_out, fan_in), float64.
    """
    std = np.sqrt(2.0 / fan_in)
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def lecun_normal(fan_in, fan_out, rng):
    r"""LeCun normal initialisation, for SELU layers.

        W_ij ~ N(0, 1 / fan_in)

    Parameters
    ----------
    fan_in, fan_out : int, the layer's input and output sizes.
    rng : numpy.random.Generator, the only source of randomness.

    Returns
    -------
    ndarray (fan_out, fan_in), float64.
    """
    std = np.sqrt(1.0 / fan_in)
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
    r"""Frobenius norm of dL/dW^(l) for every layer of a freshly initialised deep MLP.

    What it builds, in this order, all from ``rng``:

    1. ``weights[l] = init(width, width, rng)`` for l = 1..depth;
    2. ``x = rng.standard_normal((32, width))`` (N = 32 examples);
    3. the forward pass with ``sigma`` on every layer, then backpropagation of
       ``dL_dy = np.ones((32, width)) / 32`` (the loss is the batch mean of sum(y)).

    Parameters
    ----------
    depth, width : int, the number of layers L and the width of every layer.
    sigma, sigma_grad : callables, the activation and its derivative.
    init : callable ``init(fan_in, fan_out, rng) -> (fan_out, fan_in)``.
    rng : numpy.random.Generator.

    Returns
    -------
    ndarray (depth,), float64: ``||dL/dW^(l)||_F``, layer 1 (next to the input) first.
    """
    weights = [init(width, width, rng) for _ in range(depth)]
    x = rng.standard_normal((GRADIENT_NORM_BATCH, width))
    _, cache = mlp_forward(x, weights, sigma)
    dL_dy = np.ones((GRADIENT_NORM_BATCH, width)) / GRADIENT_NORM_BATCH
    grads, _ = mlp_backward(cache, dL_dy, weights, sigma_grad)
    return np.array([np.linalg.norm(g) for g in grads], dtype=np.float64)


def layer_norm_forward(z, gamma, beta, eps=1e-5):
    r"""Layer normalisation over the features of each example ("change z" of the note).

        mu_n = mean_j z_nj,   var_n = mean_j (z_nj - mu_n)^2          (biased, over D)
        zhat_nj = (z_nj - mu_n) / sqrt(var_n + eps),   out_nj = gamma_j zhat_nj + beta_j

    The variance is the mean of the squared deviations (two passes), not
    E[z^2] - E[z]^2, which cancels catastrophically when the mean is large; it is the
    same as ``torch.nn.functional.layer_norm``.

    Parameters
    ----------
    z : ndarray (N, D), float64, one example per row
    gamma, beta : ndarray (D,), the learned scale and shift
    eps : float, default 1e-5, added to the variance

    Returns
    -------
    out : ndarray (N, D)
    cache : tuple ``(zhat, inv_std, gamma)``, zhat (N, D) and inv_std (N, 1) =
        1 / sqrt(var + eps): what the backward pass needs.
    """
    z = np.asarray(z, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    centred = z - z.mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(np.mean(centred * centred, axis=1, keepdims=True) + eps)
    zhat = centred * inv_std
    return gamma * zhat + np.asarray(beta, dtype=np.float64), (zhat, inv_std, gamma.copy())


def layer_norm_backward(cache, upstream):
    r"""The gradients of layer normalisation, from ``layer_norm_forward``'s cache.

    With g = upstream * gamma (N, D) and the means over the D features of each row,

        dL/dz     = inv_std * (g - mean_j g - zhat * mean_j (g * zhat))
        dL/dgamma = sum_n upstream * zhat,      dL/dbeta = sum_n upstream

    The two subtracted means are what the mean and the variance contribute: every z_nj
    moves mu_n and var_n, and through them every zhat of its row.

    Parameters
    ----------
    cache : the second value ``layer_norm_forward`` returned
    upstream : ndarray (N, D), dL/dout

    Returns
    -------
    dz : ndarray (N, D);  dgamma, dbeta : ndarray (D,)
    """
    zhat, inv_std, gamma = cache
    upstream = np.asarray(upstream, dtype=np.float64)
    g = upstream * gamma
    dz = inv_std * (g - g.mean(axis=1, keepdims=True)
                    - zhat * np.mean(g * zhat, axis=1, keepdims=True))
    return dz, np.sum(upstream * zhat, axis=0), np.sum(upstream, axis=0)
