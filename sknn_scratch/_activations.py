"""Activation functions, each forward pass written beside its derivative.

A hidden layer computes ``a = f(z)``. Backpropagation needs ``f'(z)``, and for
every activation used here the derivative can be written in terms of the output
``a`` alone, so ``z`` never has to be kept:

==========  =====================  ==========================
name        f(z)                   f'(z) written with a = f(z)
==========  =====================  ==========================
identity    z                      1
logistic    1 / (1 + exp(-z))      a (1 - a)
tanh        tanh(z)                1 - a²
relu        max(z, 0)              1 if a > 0 else 0
==========  =====================  ==========================

Output layers also use ``softmax`` and ``exp``; their derivatives are never
needed on their own because each is paired with its canonical loss (see
``_losses``), whose output delta is simply ``a - t``.

Every function works in place, on buffers the network allocated once, so the
training loop does not allocate arrays of the layers' size.
``forward(z)`` overwrites ``z`` with ``f(z)``; ``derivative(a, delta, scratch)``
multiplies ``delta`` by ``f'(z)``, using ``scratch`` (same shape as ``a``) for the
intermediate values.
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import expit


class Activation(NamedTuple):
    """An elementwise activation: its in-place forward and derivative."""

    forward: Callable[[np.ndarray], None]
    derivative: Callable[[np.ndarray, np.ndarray, np.ndarray], None]


# identity: f(z) = z, f'(z) = 1
def _identity(z: np.ndarray) -> None:
    pass


def _identity_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    pass


# logistic: f(z) = 1 / (1 + exp(-z)), f'(z) = a (1 - a)
def _logistic(z: np.ndarray) -> None:
    # expit saturates to exactly 0 or 1 without overflow warnings.
    expit(z, out=z)


def _logistic_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    np.subtract(1.0, a, out=scratch)
    scratch *= a
    delta *= scratch


# tanh: f(z) = tanh(z), f'(z) = 1 - a²
def _tanh(z: np.ndarray) -> None:
    np.tanh(z, out=z)


def _tanh_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    np.multiply(a, a, out=scratch)
    np.subtract(1.0, scratch, out=scratch)
    delta *= scratch


# relu: f(z) = max(z, 0), f'(z) = 1 where a > 0 and 0 elsewhere
def _relu(z: np.ndarray) -> None:
    np.maximum(z, 0.0, out=z)


def _relu_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    np.greater(a, 0.0, out=scratch)
    delta *= scratch


HIDDEN_ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(_identity, _identity_derivative),
    "logistic": Activation(_logistic, _logistic_derivative),
    "tanh": Activation(_tanh, _tanh_derivative),
    "relu": Activation(_relu, _relu_derivative),
}


# Output-only activations. Their derivatives are folded into the loss delta.
@functools.cache
def ones(n: int, dtype) -> np.ndarray:
    """A read-only vector of n ones: row sums of an (m, n) array as one matrix
    product, faster in NumPy than a reduction along short rows."""
    vector = np.ones(n, dtype=dtype)
    vector.setflags(write=False)
    return vector


# How far below 0 a row's largest shifted logit may lie before exp() of it
# loses precision: e^-40 and e^-600 are far above float32's and float64's
# smallest normal numbers (e^-87 and e^-708).
_SAFE_SHIFT = {np.dtype(np.float32).char: 40.0, np.dtype(np.float64).char: 600.0}


def shift_rows(z: np.ndarray) -> None:
    """Subtract from each row of ``z`` a constant that puts its largest entry in
    [-limit, 0] (limit: ``_SAFE_SHIFT``), so that exp() neither overflows nor
    underflows there. Softmax and log-softmax do not change.

    Nothing needs subtracting when every entry already lies in [-limit, limit],
    the usual case, found by two fast reductions: e^limit times any number of
    classes stays finite. Otherwise, subtracting each row's own maximum would
    do, but reducing along short rows is slow in NumPy; the array's overall
    maximum is one fast reduction, and only rows whose mean (a lower bound of
    their maximum, got by one matrix product) lies more than the limit below it
    need their own maximum.
    """
    limit = _SAFE_SHIFT.get(z.dtype.char, 600.0)
    if -limit <= z.min() and z.max() <= limit:
        return
    z -= z.max()
    limit *= z.shape[1]
    row_sum = z @ ones(z.shape[1], z.dtype)
    far_below = np.flatnonzero(row_sum < -limit)  # mean below -limit
    if far_below.size:
        rows = z[far_below]
        z[far_below] = rows - rows.max(axis=1, keepdims=True)


def softmax(z: np.ndarray) -> None:
    """Overwrite each row of ``z`` with ``exp(z) / Σ exp(z)``.

    The rows are shifted first (``shift_rows``), so no exponent overflows
    whatever the magnitude of ``z``; row sums are taken as a matrix product
    with a vector of ones, which is faster than a reduction over short rows.
    """
    shift_rows(z)
    np.exp(z, out=z)
    z /= (z @ ones(z.shape[1], z.dtype))[:, None]


def exp(z: np.ndarray) -> None:
    """Overwrite ``z`` with ``exp(z)``, the inverse of the Poisson log link."""
    with np.errstate(over="ignore"):
        np.exp(z, out=z)


OUTPUT_ACTIVATIONS: dict[str, Callable[[np.ndarray], None]] = {
    "identity": _identity,
    "logistic": _logistic,
    "softmax": softmax,
    "exp": exp,
}
