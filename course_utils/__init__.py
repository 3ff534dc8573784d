"""Activation Units: the course's shared package.

Modules
-------
reference        NumPy reference solutions of every graded function (not on student installs).
reference_torch  PyTorch reference: SwishFunction, MishFunction, Swish, Mish, PReLU.
checks           The checks every notebook test cell calls (visible and hidden).
fixtures         Reference values precomputed for the visible checks.
"""

__version__ = "0.1.0"
