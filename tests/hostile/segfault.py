import ctypes


def relu_grad(z):
    """Crashes the kernel: reads address 0."""
    return ctypes.string_at(0)
