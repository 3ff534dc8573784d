"""Reference solutions of 01_nonlinearity: linear collapse and random-feature networks.

Shape letters (the same in every module): N batch size, d input size, m hidden width,
D output size, n_l width of layer l. A batch is stored one example per row, and a weight
matrix maps columns as in the note: W has shape (n_out, n_in) and a layer computes
``x @ W.T + b``.
"""

# TODO(01 helper): implement.


def collapse_linear_stack(weights, biases):
    """weights [W1..WL] with W_l (n_l, n_{l-1}); biases [b1..bL] with b_l (n_l,) -> (A (n_L, n_0), b (n_L,))."""
    raise NotImplementedError


def hidden_features(x, W1, b1, sigma):
    """x (N, d), W1 (m, d), b1 (m,), sigma elementwise -> H (N, m) = sigma(x @ W1.T + b1)."""
    raise NotImplementedError


def fit_output_layer(H, y):
    """H (N, m), y (N,) or (N, D) -> W2 (m,) or (m, D), the least-squares solution of H @ W2 ~ y."""
    raise NotImplementedError


def sup_error(f, g, xs):
    """max over the grid xs of |f(x) - g(x)| (Euclidean norm per x for vector outputs) -> float."""
    raise NotImplementedError
