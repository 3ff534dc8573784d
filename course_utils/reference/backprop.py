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
