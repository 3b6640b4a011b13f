"""Sample weights for training: validated, then scaled by a power of two.

The loss divides by the sum S of the sample weights, as scikit-learn's does:

    E = Σ_i s_i ℓ_i / S  +  ½ α ‖W‖² / S.

Scaling every weight by one factor c leaves the data term as it is and divides
the penalty's strength by c: for uniformly tiny weights the penalty dominates,
for huge ones it vanishes. Computed as given, weights near the ends of the
floating-point range overflow S or 1/S (all 1e-320 or all 1e308, a class
weight of 1e308, or 1e39 when float32 X makes the weights float32).

So the weights are validated in float64 and divided by the power of two 2^k
that brings the largest into [1, 2), and α by the same 2^k: E is unchanged,
and dividing by a power of two is exact, so weights in an ordinary range train
bit for bit as given. What stays unrepresentable is α / S itself, when the
weights are so small that the penalty's strength exceeds the training dtype's
range: that is an error which names the weights.
"""

import math
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_array


class ScaledWeights(NamedTuple):
    """Sample weights as ``values * 2**exponent``, the largest value in [1, 2)."""

    values: np.ndarray
    exponent: int


def scaled(weights: np.ndarray, exponent: int = 0) -> ScaledWeights:
    """``weights * 2**exponent`` as ScaledWeights (``weights`` not all zero)."""
    _, largest = np.frexp(weights.max())
    shift = int(largest) - 1
    return ScaledWeights(np.ldexp(weights, -shift), exponent + shift)


class WeightRangeError(ValueError):
    """The sample (or class) weights put the L2 penalty beyond the dtype."""


def validate_sample_weight(sample_weight, n_samples: int) -> ScaledWeights | None:
    """``sample_weight`` checked as scikit-learn's MLP checks it, with its
    messages, and scaled (see the module docstring). None stays None.

    Unlike scikit-learn's MLP, negative weights are refused.
    """
    if sample_weight is None:
        return None
    if np.isscalar(sample_weight) and not isinstance(sample_weight, str):
        sample_weight = np.full(n_samples, sample_weight)
    try:
        weights = check_array(
            sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
        )
    except (TypeError, ValueError) as error:
        if "sample_weight" in str(error):  # scikit-learn's own message
            raise
        raise ValueError(f"{error}. sample_weight must be numeric.") from None
    if weights.ndim != 1:
        raise ValueError(
            "Sample weights must be 1D array or scalar, got "
            f"{weights.ndim}D array. Expected either a scalar value or a 1D "
            f"array of length {n_samples}."
        )
    if weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == ({weights.shape[0]},), expected "
            f"({n_samples},)! One weight per sample."
        )
    if (weights < 0).any():
        raise ValueError("sample_weight must be non-negative; got negative values.")
    if not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return scaled(weights)


def weights_for_training(
    weights: ScaledWeights | None, alpha: float, dtype
) -> tuple[np.ndarray | None, float]:
    """The weights in the training dtype and the α that goes with them.

    Returns ``weights.values`` and α / 2^exponent, which give the loss E of
    the weights as they were. Raises WeightRangeError when α / S is beyond the
    range of ``dtype``.
    """
    alpha = float(alpha)
    if weights is None:
        return None, alpha
    values = weights.values.astype(dtype)
    if alpha == 0.0:
        return values, alpha
    # log2(α / S), with S = Σ values · 2^exponent: no overflow on the way
    log2_alpha = math.log2(alpha) - weights.exponent
    log2_strength = log2_alpha - math.log2(float(weights.values.sum()))
    if log2_strength >= math.log2(float(np.finfo(dtype).max)) or log2_alpha >= 1023:
        log10_total = math.log10(float(weights.values.sum())) + (
            weights.exponent * math.log10(2.0)
        )
        raise WeightRangeError(
            "The sample weights (times class_weight, if given) sum to about "
            f"1e{log10_total:.0f}, so little that the L2 penalty's strength "
            f"alpha / sum(weights) = {alpha:g} / 1e{log10_total:.0f} is beyond "
            f"the range of {np.dtype(dtype)}. Only the ratios of the weights "
            "matter to the data loss: multiply them all by a common factor, or "
            "lower alpha."
        )
    return values, math.ldexp(alpha, -weights.exponent)
