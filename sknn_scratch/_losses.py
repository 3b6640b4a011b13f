"""Losses, each paired with its canonical output activation.

For an output layer with pre-activation ``z``, activation ``a = g(z)`` and target
``t``, every pair below is *canonical*: the derivative of the per-sample loss with
respect to ``z`` is

    δ = ∂ℓ/∂z = a - t,

so the output delta is the same expression for all four, and the activation's
own derivative is never needed. Losses are summed over outputs; averaging over
samples (with optional sample weights) is done by the network.

==============  ==========  ==========================================
loss            g(z)        ℓ(z, t), summed over outputs k
==============  ==========  ==========================================
squared_error   z           ½ (z - t)²
binary_log      logistic    log(1 + e^z) - t z
softmax_log     softmax     logsumexp(z) Σ t - Σ t z
poisson         exp         e^z - t z + t log t - t      (half deviance)
==============  ==========  ==========================================

Each loss is written from the logits ``z`` rather than from ``a``: that is exact
where ``log(a)`` would underflow, and needs no clipping of probabilities.

``forward(z, t, delta)`` overwrites ``z`` with ``a = g(z)``, writes ``a - t``
into ``delta`` and returns the per-sample loss (a vector of length n).
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import expit, xlogy

from ._activations import exp


def _rowwise_dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Σ_k u_ik v_ik for every row i, without a temporary the size of u."""
    return np.einsum("ij,ij->i", u, v)


def _squared_error(z: np.ndarray, t: np.ndarray, delta: np.ndarray) -> np.ndarray:
    # a = z, so δ = z - t and ℓ = ½ Σ_k δ_k².
    np.subtract(z, t, out=delta)
    return 0.5 * _rowwise_dot(delta, delta)


def _binary_log_loss(z: np.ndarray, t: np.ndarray, delta: np.ndarray) -> np.ndarray:
    # ℓ = Σ_k log(1 + e^z) - t z; logaddexp(0, z) never overflows.
    per_sample = np.logaddexp(0.0, z).sum(axis=1) - _rowwise_dot(t, z)
    expit(z, out=z)
    np.subtract(z, t, out=delta)
    return per_sample


def _softmax_log_loss(z: np.ndarray, t: np.ndarray, delta: np.ndarray) -> np.ndarray:
    # Shift each row by its maximum (this changes neither softmax nor ℓ), then
    # ℓ = log Σ_k e^z_k · Σ_k t_k - Σ_k t_k z_k.
    z -= z.max(axis=1, keepdims=True)
    t_dot_z = _rowwise_dot(t, z)
    np.exp(z, out=z)
    normaliser = z.sum(axis=1)
    z /= normaliser[:, None]
    np.subtract(z, t, out=delta)
    return np.log(normaliser) * t.sum(axis=1) - t_dot_z


def _poisson_loss(z: np.ndarray, t: np.ndarray, delta: np.ndarray) -> np.ndarray:
    # ℓ = Σ_k e^z - t z + t log t - t; the last two terms do not depend on the
    # parameters but make ℓ the half Poisson deviance, zero at a perfect fit.
    t_dot_z = _rowwise_dot(t, z)
    exp(z)
    np.subtract(z, t, out=delta)
    return z.sum(axis=1) - t_dot_z + (xlogy(t, t) - t).sum(axis=1)


class Loss(NamedTuple):
    """A loss and the output activation it is canonically paired with."""

    output_activation: str
    forward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


LOSSES: dict[str, Loss] = {
    "squared_error": Loss("identity", _squared_error),
    "binary_log_loss": Loss("logistic", _binary_log_loss),
    "log_loss": Loss("softmax", _softmax_log_loss),
    "poisson": Loss("exp", _poisson_loss),
}


def log_probabilities(logits: np.ndarray, output_activation: str) -> np.ndarray:
    """Logarithm of the class probabilities, computed from the logits in place.

    ``log softmax(z) = z - logsumexp(z)`` and ``log expit(z) = -log(1 + e^-z)``
    stay finite where ``log(probability)`` would give ``-inf``.
    """
    if output_activation == "softmax":
        logits -= logits.max(axis=1, keepdims=True)
        logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return logits
    # logistic: one column per output, p = expit(z); log p = -log(1 + e^-z)
    return -np.logaddexp(0.0, -logits)
