

def relu_grad(z):
    """ReLU derivative with the other convention at the kink (0 at z = 0)."""
    return (z > 0).astype(float)
