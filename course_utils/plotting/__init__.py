"""Figures of the course, one module per assignment topic.

activations    02: units and derivatives, products of derivatives, Swish's beta, Mish's Delta.
approximation  01: sup error against width.
gradients      04: per-layer gradient norms, remedies, float limits.
training       03: learning curves, accuracy against depth, learned parameters.
watch          04: gradient norms and activations of every layer during training.
beyond         05: GELU's forms, SELU's layer statistics, second derivatives, loss landscapes.
"""
