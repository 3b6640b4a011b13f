"""Activation functions: the one table of hidden activations, and the outputs.

A hidden layer computes ``a = f(z)``. Backpropagation multiplies the incoming
delta by ``f'(z)``. Each entry of ``ACTIVATIONS`` is everything about one
activation: its forward and its derivative written side by side, which of
``z`` and ``a`` the derivative reads, the initialisation rule of the weights
that feed it, its formulas for the documentation, and whether the compiled
engine has a fused kernel for it. Parameter validation, the docstrings, the
user guide's table, the tests' parametrisation and both engines read this
table, so adding an activation means adding one entry (and, if it is to be
compiled, its kernel block in ``_compiled/_activations.pyx.tp``).

Conventions of an entry's functions, which work in place on buffers the
network allocated once:

- ``forward(z, out)`` writes ``f(z)`` into ``out``; ``out`` may be ``z``
  itself, which is how the engine calls it when the derivative reads ``a``
  alone (then ``z`` need not be kept).
- ``derivative(delta, a, z, scratch)`` multiplies ``delta`` by ``f'(z)``.
  ``a`` is ``f(z)``; ``z`` is the pre-activation, passed only when
  ``derivative_reads`` includes it (None otherwise); ``scratch`` is a free
  array of the same shape.

Output layers also use ``softmax`` and ``exp`` (``OUTPUT_ACTIVATIONS``); their
derivatives are never needed on their own, because each is paired with a loss
(see ``_losses``) whose output delta is written beside its value.
"""

import functools
import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
from scipy.special import erfc, expit


class InitRule(NamedTuple):
    """How the weights of a layer are drawn: uniformly in ±bound.

    ``hidden`` gives the bound of layers that feed this activation, ``output``
    that of the output layer, both from the layer's fan-in and fan-out. The
    bias of a layer is drawn with the bound of its weights, after them.
    """

    description: str
    hidden: Callable[[int, int], float]
    output: Callable[[int, int], float]


def _glorot(factor: float) -> Callable[[int, int], float]:
    def bound(fan_in: int, fan_out: int) -> float:
        return math.sqrt(factor / (fan_in + fan_out))

    return bound


def _he(fan_in: int, fan_out: int) -> float:
    return math.sqrt(6.0 / fan_in)


# scikit-learn's rule, kept for its four activations so that the same seed
# draws the same weights: Glorot-uniform, with k = 2 for logistic units.
GLOROT = InitRule(
    "Glorot-uniform, ±√(6 / (fan_in + fan_out))", _glorot(6.0), _glorot(6.0)
)
GLOROT_LOGISTIC = InitRule(
    "Glorot-uniform for logistic units, ±√(2 / (fan_in + fan_out))",
    _glorot(2.0),
    _glorot(2.0),
)
# The ReLU family halves the variance of what passes it; He's rule doubles
# the weights' variance to keep the signal's (and Glorot's for the output).
HE = InitRule(
    "He-uniform for hidden layers, ±√(6 / fan_in); Glorot-uniform for the output",
    _he,
    _glorot(6.0),
)


class Activation(NamedTuple):
    """A hidden activation: one entry of ``ACTIVATIONS`` (see the module)."""

    formula: str
    derivative_formula: str
    forward: Callable[[np.ndarray, np.ndarray], None]
    derivative: Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray], None]
    derivative_reads: Literal["a", "z", "az"]
    init: InitRule
    compiled: bool  # _compiled/_activations.pyx.tp has its forward and derivative
    in_sklearn: bool  # one of scikit-learn's four (parity, ONNX export)


# identity: f(z) = z, f'(z) = 1
def _identity(z: np.ndarray, out: np.ndarray) -> None:
    if out is not z:
        np.copyto(out, z)


def _identity_derivative(delta, a, z, scratch) -> None:
    pass


# logistic: f(z) = 1 / (1 + exp(-z)), f'(z) = a (1 - a)
def _logistic(z: np.ndarray, out: np.ndarray) -> None:
    # expit saturates to exactly 0 or 1 without overflow warnings.
    expit(z, out=out)


def _logistic_derivative(delta, a, z, scratch) -> None:
    np.subtract(1.0, a, out=scratch)
    scratch *= a
    delta *= scratch


# tanh: f(z) = tanh(z), f'(z) = 1 - a²
def _tanh(z: np.ndarray, out: np.ndarray) -> None:
    np.tanh(z, out=out)


def _tanh_derivative(delta, a, z, scratch) -> None:
    np.multiply(a, a, out=scratch)
    np.subtract(1.0, scratch, out=scratch)
    delta *= scratch


# relu: f(z) = max(z, 0), f'(z) = 1 where a > 0 and 0 elsewhere
def _relu(z: np.ndarray, out: np.ndarray) -> None:
    np.maximum(z, 0.0, out=out)


def _relu_derivative(delta, a, z, scratch) -> None:
    np.greater(a, 0.0, out=scratch)
    delta *= scratch


# leaky_relu: f(z) = z if z > 0 else 0.01 z, f'(z) = 1 where a > 0 else 0.01
_LEAKY_SLOPE = 0.01


def _leaky_relu(z: np.ndarray, out: np.ndarray) -> None:
    negative = z < 0.0  # before out (possibly z itself) is written
    if out is not z:
        np.copyto(out, z)
    np.multiply(out, _LEAKY_SLOPE, out=out, where=negative)


def _leaky_relu_derivative(delta, a, z, scratch) -> None:
    # a has the sign of z; at z = 0 the slope of the left side, as relu's
    np.multiply(delta, _LEAKY_SLOPE, out=delta, where=a <= 0.0)


# elu: f(z) = z if z > 0 else e^z - 1, f'(z) = 1 where a > 0 else a + 1 (= e^z)
def _elu(z: np.ndarray, out: np.ndarray) -> None:
    # e^z - 1 >= z everywhere, so f = max(z, e^min(z, 0) - 1); the exponent
    # never sees a positive z, so never overflows.
    negative_part = np.minimum(z, 0.0)
    np.expm1(negative_part, out=negative_part)
    np.maximum(z, negative_part, out=out)


def _elu_derivative(delta, a, z, scratch) -> None:
    # a + 1 is e^z to within one rounding of 1 (f' is continuous at 0: α = 1)
    np.add(a, 1.0, out=scratch)
    np.minimum(scratch, 1.0, out=scratch)
    delta *= scratch


# gelu: f(z) = z Φ(z), f'(z) = Φ(z) + z φ(z), with Φ the standard normal
# distribution function, Φ(z) = ½ erfc(-z / √2) (erfc keeps the left tail's
# relative precision, where 1 + erf(z / √2) would cancel to 0), and φ its density.
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Beyond ±40, φ(z) = 0 and Φ(z) is exactly 0 or 1 in float64 (and float32), so
# clipping there changes no derivative and keeps z² finite.
_GAUSSIAN_TAIL = 40.0


def _gelu(z: np.ndarray, out: np.ndarray) -> None:
    cdf = np.multiply(z, -_SQRT_HALF)
    erfc(cdf, out=cdf)
    cdf *= 0.5
    np.multiply(z, cdf, out=out)


def _gelu_derivative(delta, a, z, scratch) -> None:
    clipped = np.clip(z, -_GAUSSIAN_TAIL, _GAUSSIAN_TAIL)
    np.multiply(clipped, clipped, out=scratch)
    scratch *= -0.5
    np.exp(scratch, out=scratch)
    scratch *= clipped
    scratch *= _INV_SQRT_2PI  # z φ(z)
    clipped *= -_SQRT_HALF
    erfc(clipped, out=clipped)
    clipped *= 0.5  # Φ(z)
    scratch += clipped
    delta *= scratch


# silu: f(z) = z σ(z), f'(z) = σ(z) (1 + z σ(-z)), σ the logistic function
def _silu(z: np.ndarray, out: np.ndarray) -> None:
    np.multiply(z, expit(z), out=out)


def _silu_derivative(delta, a, z, scratch) -> None:
    # σ(-z) rather than 1 - σ(z): exact in the right tail; the product is
    # formed before delta is touched, so no intermediate can overflow.
    np.negative(z, out=scratch)
    expit(scratch, out=scratch)
    scratch *= z
    scratch += 1.0
    scratch *= expit(z)
    delta *= scratch


# softplus: f(z) = log(1 + e^z), f'(z) = σ(z) = 1 - e^-a
def softplus(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """log(1 + e^z) as max(z, 0) + log(1 + e^-|z|): no overflow for any z.

    ``out`` may be ``z`` itself; returns ``out`` (a new array if None).
    """
    positive_part = np.maximum(z, 0.0)
    tail = np.abs(z, out=out)
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    tail += positive_part
    return tail


def _softplus(z: np.ndarray, out: np.ndarray) -> None:
    softplus(z, out)


def _softplus_derivative(delta, a, z, scratch) -> None:
    # σ(z) = 1 - e^-a: expm1 keeps the relative precision of small σ (a ≈ e^z)
    np.negative(a, out=scratch)
    np.expm1(scratch, out=scratch)
    np.negative(scratch, out=scratch)
    delta *= scratch


# mish: f(z) = z tanh(softplus(z)),
# f'(z) = tanh(softplus(z)) + z (1 - tanh²(softplus(z))) σ(z)
def _mish(z: np.ndarray, out: np.ndarray) -> None:
    gate = softplus(z)
    np.tanh(gate, out=gate)
    np.multiply(z, gate, out=out)


def _mish_derivative(delta, a, z, scratch) -> None:
    gate = softplus(z)
    np.negative(gate, out=scratch)
    np.expm1(scratch, out=scratch)
    np.negative(scratch, out=scratch)  # σ(z) = 1 - e^-softplus(z)
    scratch *= z
    np.tanh(gate, out=gate)
    sech2 = np.multiply(gate, gate)
    np.subtract(1.0, sech2, out=sech2)
    scratch *= sech2
    scratch += gate
    delta *= scratch


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(
        "z", "1", _identity, _identity_derivative, "a", GLOROT, True, True
    ),
    "logistic": Activation(
        "1 / (1 + e^-z)",
        "a (1 - a)",
        _logistic,
        _logistic_derivative,
        "a",
        GLOROT_LOGISTIC,
        True,
        True,
    ),
    "tanh": Activation(
        "tanh(z)", "1 - a²", _tanh, _tanh_derivative, "a", GLOROT, True, True
    ),
    "relu": Activation(
        "max(z, 0)",
        "1 if z > 0 else 0",
        _relu,
        _relu_derivative,
        "a",
        GLOROT,
        True,
        True,
    ),
    # The rest are not scikit-learn's. Their initialisation keeps the second
    # moment of the pre-activations through the layers: for z ~ N(0, 1),
    # E[f(z)²] is 0.50 (leaky_relu), 0.65 (elu), 0.43 (gelu), 0.36 (silu) and
    # 0.45 (mish), close to relu's ½, which He's doubled weight variance
    # makes up for; softplus passes 0.92 of it, so Glorot's rule (about
    # 1/fan_in) keeps it, where He's would nearly double it at every layer.
    "leaky_relu": Activation(
        f"z if z > 0 else {_LEAKY_SLOPE} z",
        f"1 if z > 0 else {_LEAKY_SLOPE}",
        _leaky_relu,
        _leaky_relu_derivative,
        "a",
        HE,
        True,
        False,
    ),
    "elu": Activation(
        "z if z > 0 else e^z - 1",
        "1 if z > 0 else e^z (= a + 1)",
        _elu,
        _elu_derivative,
        "a",
        HE,
        True,
        False,
    ),
    "gelu": Activation(
        "z Φ(z), Φ(z) = ½ erfc(-z / √2)",
        "Φ(z) + z φ(z), φ(z) = e^(-z²/2) / √(2π)",
        _gelu,
        _gelu_derivative,
        "z",
        HE,
        True,
        False,
    ),
    "silu": Activation(
        "z σ(z), σ(z) = 1 / (1 + e^-z)",
        "σ(z) (1 + z σ(-z))",
        _silu,
        _silu_derivative,
        "z",
        HE,
        True,
        False,
    ),
    "softplus": Activation(
        "log(1 + e^z)",
        "σ(z) (= 1 - e^-a)",
        _softplus,
        _softplus_derivative,
        "a",
        GLOROT,
        True,
        False,
    ),
    "mish": Activation(
        "z tanh(s), s = log(1 + e^z)",
        "tanh(s) + z σ(z) (1 - tanh²(s))",
        _mish,
        _mish_derivative,
        "z",
        HE,
        True,
        False,
    ),
}


# -- output activations: their derivatives are folded into the loss delta ------
@functools.cache
def ones(n: int, dtype) -> np.ndarray:
    """A read-only vector of n ones: row sums of an (m, n) array as one matrix
    product, faster in NumPy than a reduction along short rows."""
    vector = np.ones(n, dtype=dtype)
    vector.setflags(write=False)
    return vector


def shift_rows(z: np.ndarray) -> None:
    """Subtract from each row of ``z`` its own maximum, so that exp() neither
    overflows nor loses the row to underflow; softmax and log-softmax do not
    change.

    Every row is shifted, whatever its values, as scikit-learn's softmax and
    the compiled engine shift it: the same operations in both engines, and
    each row's result depends on that row alone. (A finite row minus its
    finite maximum is at most 0, and exactly 0 at the maximum: its
    exponentials sum to at least 1; a difference below the dtype's range is
    -inf, whose exponential is 0.)
    """
    with np.errstate(over="ignore"):
        z -= z.max(axis=1, keepdims=True)


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


def _in_place(forward: Callable[[np.ndarray, np.ndarray], None]):
    return lambda z: forward(z, z)


OUTPUT_ACTIVATIONS: dict[str, Callable[[np.ndarray], None]] = {
    "identity": _in_place(_identity),
    "logistic": _in_place(_logistic),
    "softmax": softmax,
    "exp": exp,
}
