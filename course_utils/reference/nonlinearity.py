r"""Reference solutions of 01_nonlinearity: linear collapse and random-feature networks.

Shape letters (the same in every module): N batch size, d input size, m hidden width,
D output size, n_l width of layer l. A batch is stored one example per row, and a weight
matrix maps columns as in the note: W has shape (n_out, n_in) and a layer computes
``x @ W.T + b``.

The assignment's one-hidden-layer network is

.. math::

    f_\epsilon(x) = W_2^\top \sigma(W_1 x + b_1),

with ``W1`` and ``b1`` drawn at random and frozen, so that only the output layer ``W2`` is
fitted. Fitting ``W2`` is then a linear least-squares problem: exact, and milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["collapse_linear_stack", "hidden_features", "fit_output_layer", "sup_error"]


def collapse_linear_stack(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]
                          ) -> tuple[np.ndarray, np.ndarray]:
    r"""The single affine map equal to a stack of affine layers without activation.

    The stack computes :math:`h_l = W_l h_{l-1} + b_l` for :math:`l = 1..L`, starting at
    :math:`h_0 = x`. Unrolling the recursion,

    .. math::

        h_L = \underbrace{W_L \cdots W_1}_{A}\, x
              + \underbrace{\sum_{l=1}^{L} W_L \cdots W_{l+1}\, b_l}_{b},

    which is computed left to right as :math:`A \leftarrow W_l A`,
    :math:`b \leftarrow W_l b + b_l`.

    Parameters
    ----------
    weights : sequence of L >= 1 arrays, ``W_l`` of shape (n_l, n_{l-1})
    biases : sequence of L arrays, ``b_l`` of shape (n_l,)

    Returns
    -------
    A : ndarray (n_L, n_0)
    b : ndarray (n_L,)
        New arrays, in the inputs' (promoted) float dtype; the inputs are not modified.

    Examples
    --------
    >>> W1, b1 = np.array([[2.0]]), np.array([1.0])
    >>> W2, b2 = np.array([[3.0]]), np.array([-1.0])
    >>> collapse_linear_stack([W1, W2], [b1, b2])   # 3 * (2x + 1) - 1 = 6x + 2
    (array([[6.]]), array([2.]))
    """
    if len(weights) == 0 or len(weights) != len(biases):
        raise ValueError("collapse_linear_stack: expected as many biases as weights (at least "
                         f"one layer), got {len(weights)} weights and {len(biases)} biases.")
    A = np.array(weights[0], copy=True)
    b = np.array(biases[0], copy=True)
    for W, bias in zip(weights[1:], biases[1:], strict=True):
        A = W @ A
        b = W @ b + bias
    return A, b


def hidden_features(x: np.ndarray, W1: np.ndarray, b1: np.ndarray,
                    sigma: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    r"""The hidden layer of a one-hidden-layer network, for a batch.

    .. math::

        H_{nj} = \sigma\big((W_1 x_n)_j + (b_1)_j\big),
        \qquad H = \sigma(x W_1^\top + b_1).

    Parameters
    ----------
    x : ndarray (N, d), one example per row
    W1 : ndarray (m, d), one hidden unit per row
    b1 : ndarray (m,)
    sigma : callable, elementwise: maps an array to an array of the same shape
        (``np.tanh``, a lambda, a learner's ``relu``); it is called once, on the (N, m)
        array of pre-activations.

    Returns
    -------
    H : ndarray (N, m)

    Examples
    --------
    >>> hidden_features(np.array([[1.0], [-1.0]]), np.array([[1.0], [2.0]]),
    ...                 np.array([0.0, 1.0]), lambda z: np.maximum(z, 0))
    array([[1., 3.],
           [0., 0.]])
    """
    return sigma(x @ W1.T + b1)


def fit_output_layer(H: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Least-squares output weights of a random-feature network.

    .. math::

        W_2 \in \arg\min_W \lVert H W - y \rVert_F^2 ,

    solved by ``np.linalg.lstsq(H, y, rcond=None)``: an SVD that drops singular values
    below ``eps * max(N, m) * s_max``. When ``H`` is rank-deficient (a polynomial
    sigma, or more units than points) the minimiser is not unique; lstsq returns the one of
    least norm, and every minimiser gives the same predictions ``H @ W2``.

    Parameters
    ----------
    H : ndarray (N, m), hidden features
    y : ndarray (N,) or (N, D), targets

    Returns
    -------
    W2 : ndarray (m,) or (m, D), following the shape of ``y``
    """
    W2, *_ = np.linalg.lstsq(H, y, rcond=None)
    return W2


def sup_error(f: Callable[[np.ndarray], np.ndarray], g: Callable[[np.ndarray], np.ndarray],
              xs: np.ndarray) -> float:
    r"""The sup-norm distance of two functions, measured on a grid.

    .. math::

        \max_{x \in \text{xs}} \lVert f(x) - g(x) \rVert_2,

    the absolute value for scalar outputs, the Euclidean norm per point for vector outputs.
    On a fine grid of a compact set K this estimates (from below) the note's
    :math:`\sup_{x \in K} \lVert f(x) - f_\epsilon(x) \rVert`. A nan anywhere gives nan.

    Parameters
    ----------
    f, g : callables, vectorised over the grid: ``f(xs)`` has shape (N,) or (N, D)
    xs : ndarray (N,) or (N, d), the grid (N >= 1)

    Returns
    -------
    float
    """
    diff = np.asarray(f(xs), dtype=np.float64) - np.asarray(g(xs), dtype=np.float64)
    per_point = np.abs(diff) if diff.ndim <= 1 else np.sqrt(np.sum(diff**2, axis=-1))
    return float(np.max(per_point))
