"""Reference solutions of 04_numerical_stability: the note's MLP, backprop and initialisers.

Shape letters as in ``nonlinearity``: a batch is x (N, n_0), one example per row;
W^(l) has shape (n_l, n_{l-1}) as in the note; z^(l) = a^(l-1) @ W^(l).T, a^(l) = sigma(z^(l)),
for l = 1..L, with sigma on every layer including the last, as the note writes it.
"""

# TODO(04 helper): implement.


def mlp_forward(x, weights, sigma):
    """-> (y (N, n_L), cache) ; cache holds what mlp_backward needs (documented there)."""
    raise NotImplementedError


def mlp_backward(cache, dL_dy, weights, sigma_grad):
    """-> (grads_W [same shapes as weights], dL_dx (N, n_0))."""
    raise NotImplementedError


def xavier_normal(fan_in, fan_out, rng):
    """-> W (fan_out, fan_in) ~ N(0, 2 / (fan_in + fan_out))."""
    raise NotImplementedError


def he_normal(fan_in, fan_out, rng):
    """-> W (fan_out, fan_in) ~ N(0, 2 / fan_in)."""
    raise NotImplementedError


def layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng):
    """-> array (depth,) of ||grad W^(l)||_F for l = 1..depth."""
    raise NotImplementedError
