"""Backpropagation against central finite differences of the loss.

For every hidden activation × output/loss pair × depth 0, 1 and 2, in float64,
the engine's gradient must match (E(p + εe_i) - E(p - εe_i)) / 2ε for every
parameter p_i, to 1e-6 in relative norm.
"""

import zlib

import numpy as np
import pytest
from helpers import engine_targets, loss_settings

from sknn_scratch import _activations, _losses
from sknn_scratch._network import Network

ACTIVATIONS = list(_activations.ACTIVATIONS)
LOSSES = list(_losses.LOSSES)
HIDDEN = {0: (), 1: (5,), 2: (5, 4)}


def finite_difference_gradient(network, X, T, sample_weight, alpha, epsilon=1e-6):
    params = network.params
    gradient = np.empty_like(params)
    for i in range(params.size):
        saved = params[i]
        params[i] = saved + epsilon
        loss_plus = network.loss_and_gradient(X, T, sample_weight, alpha)
        params[i] = saved - epsilon
        loss_minus = network.loss_and_gradient(X, T, sample_weight, alpha)
        params[i] = saved
        gradient[i] = (loss_plus - loss_minus) / (2 * epsilon)
    return gradient


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


@pytest.mark.parametrize("depth", sorted(HIDDEN))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_finite_differences(activation, loss, depth):
    rng = np.random.RandomState(zlib.crc32(f"{activation}-{loss}-{depth}".encode()))
    n_samples, n_features = 11, 3
    X = rng.normal(size=(n_samples, n_features))
    T = engine_targets(loss, n_samples, rng)
    network = Network(
        (n_features, *HIDDEN[depth], T.shape[1]),
        activation,
        loss,
        float,
        loss_settings=loss_settings(loss),
    )
    network.initialize(rng)
    network.params += rng.normal(scale=0.3, size=network.params.size)

    for sample_weight, alpha in [(None, 0.0), (rng.uniform(0.1, 3, n_samples), 0.7)]:
        network.loss_and_gradient(X, T, sample_weight, alpha)
        backprop = network.grad.copy()
        numeric = finite_difference_gradient(network, X, T, sample_weight, alpha)
        assert np.abs(backprop).max() > 1e-3  # a real gradient, not a zero one
        assert relative_error(backprop, numeric) < 1e-6


def test_finite_difference_check_detects_a_wrong_gradient():
    """The check itself has teeth: a perturbed gradient fails it."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(9, 3))
    T = engine_targets("log_loss", 9, rng)
    network = Network((3, 4, 3), "tanh", "log_loss", float)
    network.initialize(rng)
    network.loss_and_gradient(X, T)
    wrong = network.grad.copy()
    wrong[0] *= 1.01
    assert (
        relative_error(wrong, finite_difference_gradient(network, X, T, None, 0)) > 1e-6
    )


@pytest.mark.parametrize("rows_per_chunk", [1, 4, 11])
def test_chunked_full_batch_gradient_is_the_same(rows_per_chunk):
    """Splitting the rows into chunks only changes the order of the sums."""
    rng = np.random.RandomState(1)
    X, T = rng.normal(size=(11, 3)), engine_targets("squared_error", 11, rng)
    weights = rng.uniform(0.5, 2, 11)
    network = Network((3, 6, 2), "relu", "squared_error", float)
    network.initialize(rng)
    whole = network.loss_and_gradient(X, T, weights, 0.1)
    whole_grad = network.grad.copy()
    chunked = network.loss_and_gradient(X, T, weights, 0.1, max_rows=rows_per_chunk)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
    np.testing.assert_allclose(network.grad, whole_grad, rtol=1e-10, atol=1e-14)
