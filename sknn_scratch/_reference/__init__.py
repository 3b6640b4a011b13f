"""The NumPy reference engine: the tables and the network, in NumPy only.

The code a reader learns backpropagation from, and the engine the compiled
one (``sknn_scratch._compiled``) reproduces to rounding:

- ``_activations``: the table of hidden activations, each forward beside its
  derivative, and the output activations;
- ``_losses``: the table of losses, each value beside its output delta;
- ``_optimizers``: the table of solvers, SGD, Adam and the L-BFGS bridge;
- ``_network``: the network on one flat parameter vector, its forward and
  backward passes;
- ``_training``: one epoch of mini-batches.

It imports NumPy and SciPy only: never scikit-learn, never the estimators.
"""
