def relu_grad(z):
    """Never returns: the cell that calls it runs into the time limit."""
    while True:
        pass
