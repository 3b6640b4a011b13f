"""Losses: the one table of them, each with its output activation.

For an output layer with pre-activation ``z``, activation ``a = g(z)`` and
target ``t``, a loss ℓ(z, t) is summed over outputs k; the output delta is
δ = ∂ℓ/∂z. Four losses are paired with their *canonical* output activation
(squared_error with identity, binary_log_loss with logistic, log_loss with
softmax, poisson with exp: a log link), for which

    δ = a - t,

so the output activation's own derivative is never needed. The robust
regression losses (absolute_error, huber, quantile) keep the identity output
and write their own δ, a function of the residual r = z - t. Each entry's
``formula`` and ``delta_formula`` give ℓ and δ (the user guide's table and
the regressor's docstring print them); the Poisson loss is half the Poisson
deviance, zero at a perfect fit.

Each loss is written from the logits ``z`` rather than from ``a``: that is exact
where ``log(a)`` would underflow, and needs no clipping of probabilities.

``LOSSES`` is the one table of losses: each entry holds its output
activation, ``forward`` (the value and the output delta, side by side), its
formulas for the documentation, which estimator offers it, the estimator
parameters it reads, and whether the compiled engine fuses it.
``forward(z, t, delta, sample_weight, **settings)`` overwrites ``z`` with
``a = g(z)``, writes ∂ℓ/∂z into ``delta`` and returns Σ_i s_i ℓ_i, the
sample-weighted sum of the per-sample losses (s_i = 1 without weights);
``settings`` are the entry's parameters by name. The work is done in a few
whole-array NumPy calls: this runs once per mini-batch.
"""

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
from scipy.special import expit, xlogy

from ._activations import exp, ones, shift_rows, softmax


def _weighted_total(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """Σ_i s_i Σ_k values_ik."""
    if sample_weight is None:
        return float(values.sum())
    return float(np.dot(sample_weight, values).sum())


def _weighted_inner(t: np.ndarray, z: np.ndarray, sample_weight) -> float:
    """Σ_i s_i Σ_k t_ik z_ik."""
    if sample_weight is None:
        return float(np.vdot(t, z))
    return float(np.einsum("i,ij,ij->", sample_weight, t, z))


def _squared_error(z, t, delta, sample_weight) -> float:
    # a = z, so δ = z - t and ℓ = ½ Σ_k δ_k².
    np.subtract(z, t, out=delta)
    if sample_weight is None:
        return 0.5 * float(np.vdot(delta, delta))
    return 0.5 * _weighted_inner(delta, delta, sample_weight)


def _binary_log_loss(z, t, delta, sample_weight) -> float:
    # ℓ = Σ_k log(1 + e^z) - t z, with Σ max(z, 0) and Σ log(1 + e^-|z|)
    # (the two parts of softplus) totalled apart so that no temporary is needed
    np.maximum(z, 0.0, out=delta)
    total = _weighted_total(delta, sample_weight)
    np.abs(z, out=delta)
    np.negative(delta, out=delta)
    np.exp(delta, out=delta)
    np.log1p(delta, out=delta)
    total += _weighted_total(delta, sample_weight)
    total -= _weighted_inner(t, z, sample_weight)
    expit(z, out=z)
    np.subtract(z, t, out=delta)
    return total


def _softmax_log_loss(z, t, delta, sample_weight) -> float:
    # Softmax and ℓ do not change when a constant is subtracted from a row of
    # z; shift_rows shifts each row by its own maximum, so exp()
    # neither overflows nor loses a row to underflow, and each row's ℓ_i is
    # computed from that row alone.
    shift_rows(z)
    t_dot_z = _weighted_inner(t, z, sample_weight)
    np.exp(z, out=z)
    normaliser = z @ ones(z.shape[1], z.dtype)  # row sums
    z /= normaliser[:, None]
    np.subtract(z, t, out=delta)
    # ℓ_i = log Σ_k e^z_ik - Σ_k t_ik z_ik, t one-hot
    log_normaliser = np.log(normaliser)
    if sample_weight is None:
        return float(log_normaliser.sum()) - t_dot_z
    return float(np.dot(sample_weight, log_normaliser)) - t_dot_z


def _poisson_loss(z, t, delta, sample_weight) -> float:
    # ℓ = Σ_k e^z - t z + t log t - t; the last two terms do not depend on the
    # parameters but make ℓ the half Poisson deviance, zero at a perfect fit.
    total = -_weighted_inner(t, z, sample_weight)
    xlogy(t, t, out=delta)  # delta is free until the end: use it as scratch
    delta -= t
    total += _weighted_total(delta, sample_weight)
    exp(z)
    np.subtract(z, t, out=delta)
    return total + _weighted_total(z, sample_weight)


# -- regression losses with their own output delta ------------------------------
# With r = z - t (the identity output: a = z), each is a function of r alone,
# summed over outputs, and δ = ∂ℓ/∂z = ℓ'(r). Where ℓ has a kink (at r = 0 for
# the absolute and quantile losses), δ is 0 there: a valid subgradient of both
# (0 lies in [-1, 1] and in [-q, 1 - q]), the one of least magnitude, so that
# a perfect fit is a stationary point.
def _absolute_error(z, t, delta, sample_weight) -> float:
    # ℓ = Σ_k |r_k|, δ = sign(r)
    np.subtract(z, t, out=delta)
    if sample_weight is None:
        total = float(np.abs(delta).sum())
    else:
        total = _weighted_total(np.abs(delta), sample_weight)
    np.sign(delta, out=delta)
    return total


def _huber(z, t, delta, sample_weight, huber_delta) -> float:
    # ℓ = ½ r² where |r| <= d, d (|r| - ½ d) beyond (d = huber_delta), which is
    # c (|r| - ½ c) with c = min(|r|, d); δ = clip(r, -d, d). ℓ' is continuous:
    # no kink, only a jump of ℓ'' at |r| = d.
    d = float(huber_delta)  # a NumPy scalar would promote float32 work
    np.subtract(z, t, out=delta)
    size = np.abs(delta)
    clipped = np.minimum(size, d)
    clipped *= 0.5
    size -= clipped
    clipped *= 2.0
    size *= clipped
    total = _weighted_total(size, sample_weight)
    np.clip(delta, -d, d, out=delta)
    return total


def _quantile(z, t, delta, sample_weight, quantile) -> float:
    # The pinball loss of the residual t - z: ℓ = q (t - z) where t >= z and
    # (1 - q)(z - t) where t < z, which is ½ |r| + (½ - q) r; its minimiser
    # over z is the q-quantile of t. δ = 1 - q where r > 0, -q where r < 0.
    # ``quantile`` is one q for every output, or one per output column
    # (several quantiles in one network), broadcast over the rows.
    q = np.asarray(quantile, dtype=np.float64)
    np.subtract(z, t, out=delta)
    size = np.abs(delta)
    total = 0.5 * _weighted_total(size, sample_weight)
    if q.ndim == 0:
        total += (0.5 - float(q)) * _weighted_total(delta, sample_weight)
    else:  # Σ_k (½ - q_k) r_k, in float64 as the compiled kernel sums it
        total += _weighted_total(delta * (0.5 - q), sample_weight)
    np.sign(delta, out=delta)  # δ = ½ sign(r) + (½ - q) |sign(r)|
    np.abs(delta, out=size)
    size *= (0.5 - q).astype(delta.dtype)  # in the dtype, as the kernel does
    delta *= 0.5
    delta += size
    return total


class Loss(NamedTuple):
    """A loss: one entry of ``LOSSES`` (see the module docstring).

    ``estimator`` says who offers it: the classifier picks its loss from the
    targets; the regressor's ``loss`` parameter takes the "regressor" entries.
    ``settings`` names the estimator parameters that ``forward`` reads.
    """

    output_activation: str
    forward: Callable[..., float]
    formula: str
    delta_formula: str
    estimator: Literal["classifier", "regressor"]
    settings: tuple[str, ...]
    compiled: bool  # _compiled/_losses.pyx.tp has its block: value and delta
    in_sklearn: bool


LOSSES: dict[str, Loss] = {
    "squared_error": Loss(
        "identity",
        _squared_error,
        "½ Σ_k (z_k - t_k)²",
        "z - t",
        "regressor",
        (),
        True,
        True,
    ),
    "binary_log_loss": Loss(
        "logistic",
        _binary_log_loss,
        "Σ_k log(1 + e^z_k) - t_k z_k",
        "expit(z) - t",
        "classifier",
        (),
        True,
        True,
    ),
    "log_loss": Loss(
        "softmax",
        _softmax_log_loss,
        "logsumexp(z) - Σ_k t_k z_k",
        "softmax(z) - t",
        "classifier",
        (),
        True,
        True,
    ),
    "poisson": Loss(
        "exp",
        _poisson_loss,
        "Σ_k e^z_k - t_k z_k + t_k log t_k - t_k",
        "e^z - t",
        "regressor",
        (),
        True,
        True,
    ),
    "absolute_error": Loss(
        "identity",
        _absolute_error,
        "Σ_k |z_k - t_k|",
        "sign(z - t) (0 where z = t)",
        "regressor",
        (),
        True,
        False,
    ),
    "huber": Loss(
        "identity",
        _huber,
        "Σ_k h(z_k - t_k), h(r) = ½ r² if |r| ≤ d else d (|r| - ½ d), d = huber_delta",
        "clip(z - t, -d, d)",
        "regressor",
        ("huber_delta",),
        True,
        False,
    ),
    "quantile": Loss(
        "identity",
        _quantile,
        "Σ_k max(q (t_k - z_k), (q - 1) (t_k - z_k)), q = quantile",
        "1 - q if z > t, -q if z < t, 0 where z = t",
        "regressor",
        ("quantile",),
        True,
        False,
    ),
}

REGRESSION_LOSSES = tuple(
    name for name, loss in LOSSES.items() if loss.estimator == "regressor"
)


def class_probabilities(logits: np.ndarray, output_activation: str) -> np.ndarray:
    """Probability of each class from the output logits (overwritten).

    A single logistic output is a binary problem: its columns become the two
    classes, with logits -z and z, so that P(class 0) = expit(-z) is exact
    where 1 - expit(z) would round to 0. Softmax rows are computed each from
    its own logits (see ``shift_rows``), and are never NaN for finite logits.
    """
    if output_activation == "logistic" and logits.shape[1] == 1:
        logits = np.column_stack([-logits[:, 0], logits[:, 0]])
    if output_activation == "softmax":
        softmax(logits)
        return logits
    # logistic: one independent probability per column
    return expit(logits, out=logits)
