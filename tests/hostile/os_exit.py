import os


def relu_grad(z):
    """Ends the kernel process without a trace."""
    os._exit(3)
