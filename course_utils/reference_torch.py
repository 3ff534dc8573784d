"""PyTorch reference of 03_swish_mish: custom autograd Functions and modules.

TODO(torch helper): implement SwishFunction, MishFunction, Swish, Mish, PReLU.
"""
