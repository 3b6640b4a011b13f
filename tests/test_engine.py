"""The NumPy engine's parts against their textbook formulas: the parameter
layout, activations, output activations, losses, optimizer steps, dropout
masks, chunked forward passes. (Their derivatives against finite differences:
test_gradients.py; the compiled engine against these parts: test_kernels.py.)"""

import warnings

import numpy as np
import pytest
from helpers import away_from_kinks, engine_targets, loss_settings
from scipy.special import expit, ndtr, softmax, xlogy

from sknn_scratch import _engine
from sknn_scratch._reference import _network
from sknn_scratch._reference._activations import ACTIVATIONS, OUTPUT_ACTIVATIONS
from sknn_scratch._reference._losses import LOSSES, REGRESSION_LOSSES
from sknn_scratch._reference._network import Network, forward, layer_views
from sknn_scratch._reference._optimizers import SCHEDULES, SGD, Adam


def test_parameters_are_views_into_one_flat_vector():
    network = Network((4, 3, 2), "relu", "squared_error", np.float64)
    assert network.params.shape == (4 * 3 + 3 * 2 + 3 + 2,)
    assert [c.shape for c in network.coefs] == [(4, 3), (3, 2)]
    for view in network.coefs + network.intercepts:
        assert np.shares_memory(view, network.params)
    for view in network.coef_grads + network.intercept_grads:
        assert np.shares_memory(view, network.grad)
    # all weights first, so the penalty is one dot product over a prefix
    network.params[:] = np.arange(network.params.size)
    assert network.coefs[0][0, 0] == 0 and network.coefs[1][-1, -1] == 17
    assert network.intercepts[0][0] == 18
    coefs, _ = layer_views(network.params, (4, 3, 2))
    np.testing.assert_array_equal(coefs[1], network.coefs[1])


def mish_derivative(z):
    # the closed form e^z ω / δ² (for |z| <= 40, where e^3z stays finite)
    e = np.exp(z)
    omega = 4 * (z + 1) + 4 * e**2 + e**3 + e * (4 * z + 6)
    return e * omega / (2 * e + e**2 + 2) ** 2


# f'(z) of each activation, written independently of the engine's formulas
REFERENCE_DERIVATIVES = {
    "identity": np.ones_like,
    "logistic": lambda z: expit(z) * expit(-z),
    "tanh": lambda z: 1 / np.cosh(z) ** 2,
    "relu": lambda z: (z > 0).astype(float),
    "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01),
    "elu": lambda z: np.where(z > 0, 1.0, np.exp(z)),
    "gelu": lambda z: ndtr(z) + z * np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi),
    "silu": lambda z: expit(z) * (1 + z * expit(-z)),
    "softplus": expit,
    "mish": mish_derivative,
}


def activation_and_derivative(activation, z):
    a = np.empty_like(z)
    activation.forward(z, a)
    delta = np.ones_like(z)
    reads_z = "z" in activation.derivative_reads
    activation.derivative(
        delta, a.copy(), z.copy() if reads_z else None, np.empty_like(z)
    )
    return a, delta


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_derivatives_are_accurate_near_zero_and_in_the_tails(name, dtype):
    if name not in REFERENCE_DERIVATIVES:
        pytest.fail(f"add a reference derivative of {name!r} to this test")
    magnitudes = [0, 1e-8, 1e-4, 0.1, 0.5, 1, 1.5, 2, 5, 10, 20, 30, 40]
    z = np.array(sorted({sign * m for m in magnitudes for sign in (-1, 1)}))
    _, delta = activation_and_derivative(ACTIVATIONS[name], z.astype(dtype))
    assert delta.dtype == dtype
    expected = REFERENCE_DERIVATIVES[name](z)
    if name in ("relu", "leaky_relu"):  # the kink: the left slope, by convention
        expected[z == 0] = REFERENCE_DERIVATIVES[name](np.array([-1.0]))[0]
    # Relative precision down to the dtype's smallest normal number; but where
    # a saturates, a derivative read from a alone (1 - a², a + 1) cannot
    # resolve f' finer than a few roundings of 1.
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    tolerance = 1e-12 if dtype is np.float64 else 4 * eps
    floor = 2 * eps if ACTIVATIONS[name].derivative_reads == "a" else tiny
    np.testing.assert_allclose(delta, expected, rtol=tolerance, atol=floor)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize(("dtype", "huge"), [(np.float64, 1e300), (np.float32, 1e30)])
def test_activations_stay_finite_and_quiet_for_any_finite_input(name, dtype, huge):
    activation = ACTIVATIONS[name]
    z = np.array([-huge, -1e8, -50, -1, 0, 1, 50, 1e8, huge], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a, delta = activation_and_derivative(activation, z)
        in_place = z.copy()
        activation.forward(in_place, in_place)  # out may be z itself
    assert a.dtype == delta.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(delta).all()
    np.testing.assert_array_equal(in_place, a)
    # beyond ±50 every derivative has reached its limit (0, 1 or a slope)
    np.testing.assert_allclose(delta[[0, 1]], delta[2], atol=1e-12)
    np.testing.assert_allclose(delta[[-1, -2]], delta[-3], atol=1e-12)


def test_output_activations():
    z = np.random.RandomState(0).normal(size=(5, 3)) * 4
    for name, expected in [
        ("identity", z),
        ("logistic", expit(z)),
        ("softmax", softmax(z, axis=1)),
        ("exp", np.exp(z)),
    ]:
        out = z.copy()
        OUTPUT_ACTIVATIONS[name](out)
        np.testing.assert_allclose(out, expected, rtol=1e-12)


def naive_loss(name, z, t):
    """The per-sample losses written the textbook way (from probabilities)."""
    if name == "squared_error":
        return 0.5 * ((z - t) ** 2).sum(axis=1)
    if name == "binary_log_loss":
        p = expit(z)
        return -(xlogy(t, p) + xlogy(1 - t, 1 - p)).sum(axis=1)
    if name == "log_loss":
        return -(t * np.log(softmax(z, axis=1))).sum(axis=1)
    if name == "poisson":
        mu = np.exp(z)
        return (xlogy(t, t / mu) - t + mu).sum(axis=1)
    residual = t - z
    if name == "absolute_error":
        return np.abs(residual).sum(axis=1)
    if name == "huber":
        d = loss_settings(name)["huber_delta"]
        small = np.abs(residual) <= d
        return np.where(
            small, 0.5 * residual**2, d * np.abs(residual) - 0.5 * d**2
        ).sum(axis=1)
    if name == "quantile":
        q = loss_settings(name)["quantile"]
        return np.where(residual >= 0, q * residual, (q - 1) * residual).sum(axis=1)
    pytest.fail(f"add the textbook formula of loss {name!r} to this test")


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_values_agree_with_textbook_formulas(name):
    rng = np.random.RandomState(1)
    t = engine_targets(name, 6, rng)
    z = away_from_kinks(name, t, rng)
    loss = LOSSES[name]
    expected_a = z.copy()
    OUTPUT_ACTIVATIONS[loss.output_activation](expected_a)
    weights = rng.uniform(0.2, 2.0, 6)
    for sample_weight in [None, weights]:
        a, delta = z.copy(), np.empty_like(z)
        total = loss.forward(a, t, delta, sample_weight, **loss_settings(name))
        per_sample = naive_loss(name, z, t)
        expected = per_sample.sum() if sample_weight is None else per_sample @ weights
        assert total == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(a, expected_a, rtol=1e-12)


def test_kinks_get_the_least_subgradient():
    """At a zero residual the absolute and quantile losses' delta is 0, a valid
    subgradient of both; Huber's is continuous, ±huber_delta at |r| = d."""
    t = np.array([[0.0, 1.0, -2.0]])
    d = loss_settings("huber")["huber_delta"]
    for name, z, expected in [
        ("absolute_error", [[0.0, 1.0, -2.0]], [0.0, 0.0, 0.0]),
        ("quantile", [[0.0, 1.0, -2.0]], [0.0, 0.0, 0.0]),
        ("huber", [[d, 1.0 - d, -2.0]], [d, -d, 0.0]),
    ]:
        delta = np.empty_like(t)
        LOSSES[name].forward(np.array(z), t, delta, None, **loss_settings(name))
        np.testing.assert_array_equal(delta[0], expected)


@pytest.mark.parametrize("name", REGRESSION_LOSSES)
def test_regression_losses_apply_per_output(name):
    rng = np.random.RandomState(3)
    t = engine_targets(name, 7, rng)
    t = np.column_stack([t[:, 0], 2 * t[:, 0] + 1])  # two different outputs
    z = away_from_kinks(name, t, rng)
    loss, settings = LOSSES[name], loss_settings(name)
    weights = rng.uniform(0.5, 2.0, 7)
    delta = np.empty_like(z)
    total = loss.forward(z.copy(), t, delta, weights, **settings)
    parts = 0.0
    for k in range(2):
        column_delta = np.empty((7, 1))
        parts += loss.forward(
            z[:, [k]].copy(), t[:, [k]], column_delta, weights, **settings
        )
        np.testing.assert_array_equal(delta[:, [k]], column_delta)
    assert total == pytest.approx(parts, rel=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_quantile_loss_takes_one_quantile_per_column(dtype):
    """Several quantiles in one network: column k's pinball loss and delta
    are those of its own quantile q_k, in the work's dtype."""
    rng = np.random.RandomState(4)
    quantiles = np.array([0.1, 0.5, 0.85])
    t = rng.normal(size=(8, 1)).repeat(3, axis=1).astype(dtype)
    z = away_from_kinks("quantile", t, rng).astype(dtype)
    weights = rng.uniform(0.5, 2.0, 8).astype(dtype)
    delta = np.empty_like(z)
    total = LOSSES["quantile"].forward(z.copy(), t, delta, weights, quantile=quantiles)
    residual = t.astype(float) - z
    expected = np.where(residual >= 0, quantiles * residual, (quantiles - 1) * residual)
    assert total == pytest.approx(weights @ expected.sum(axis=1), rel=1e-6)
    assert delta.dtype == dtype
    np.testing.assert_allclose(
        delta, np.where(z > t, 1 - quantiles, -quantiles), rtol=4 * np.finfo(dtype).eps
    )
    for k, q in enumerate(quantiles):  # each column as if alone, with its q
        column_delta = np.empty((8, 1), dtype)
        LOSSES["quantile"].forward(
            z[:, [k]].copy(), t[:, [k]], column_delta, weights, quantile=q
        )
        np.testing.assert_array_equal(delta[:, [k]], column_delta)


def test_a_loss_setting_is_one_value_or_one_per_output():
    network = Network(
        (2, 3), "relu", "quantile", float, loss_settings={"quantile": 0.3}
    )
    np.testing.assert_array_equal(network.column_settings(), [0.3, 0.3, 0.3])
    per_output = np.array([0.1, 0.5, 0.9])
    network = Network(
        (2, 3), "relu", "quantile", float, loss_settings={"quantile": per_output}
    )
    np.testing.assert_array_equal(network.column_settings(), per_output)
    assert network.column_settings().dtype == np.float64
    no_setting = Network((2, 3), "relu", "squared_error", float)
    np.testing.assert_array_equal(no_setting.column_settings(), np.zeros(3))
    with pytest.raises(ValueError, match=r"one value, or one per output \(3\)"):
        Network((2, 3), "relu", "quantile", float, loss_settings={"quantile": [0.5]})


@pytest.mark.parametrize("name", ["binary_log_loss", "log_loss"])
def test_log_losses_are_exact_for_extreme_logits(name):
    z = np.array([[1e8, -1e8, 0.0], [-800.0, 800.0, 5.0]])
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or divide warnings
        probabilities = z.copy()
        total = LOSSES[name].forward(probabilities, t, np.empty_like(z), None)
    assert np.isfinite(total)
    assert np.isfinite(probabilities).all()
    # the true losses grow linearly with the logits, they are not clipped
    assert total > 1e8 + 800
    # each row's probabilities still sum to one (logistic: one per output)
    if name == "log_loss":
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
        np.testing.assert_allclose(probabilities[1], [0.0, 1.0, 0.0], atol=1e-300)


# A row's result may differ from its value among ordinary rows by rounding
# only: relative 1e-12 in float64, 1e-5 in float32.
ROW_RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def logits_with_extreme_rows(dtype):
    """Ordinary logits, and the same rows with extreme ones between them: rows
    of large values, of large negative values, and rows spanning both."""
    rng = np.random.RandomState(0)
    ordinary = rng.normal(scale=3.0, size=(40, 5)).astype(dtype)
    huge = float(np.finfo(dtype).max)
    extreme = np.array(
        [
            [1e3, -1e3, 0.0, 2.0, 1.0],
            [1e7, 1e7, -1e7, 0.0, 3.0],
            [1e16, 2.0, -1e16, 0.0, 1.0],
            [huge / 18, huge / 36, 0.0, 1.0, -1.0],  # around 1e307 in float64
            [-huge / 1.03] * 5,  # around -1.75e308: shifted by +1e307, -inf
            [-huge / 1.2, -huge / 1.1, 0.0, 5.0, 1.0],
        ]
    ).astype(dtype)
    mixed = np.concatenate([extreme[:3], ordinary[:25], extreme[3:], ordinary[25:]])
    is_ordinary = np.r_[[False] * 3, [True] * 25, [False] * 3, [True] * 15]
    return ordinary, mixed, is_ordinary


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_of_a_row_does_not_depend_on_the_other_rows(dtype):
    ordinary, mixed, is_ordinary = logits_with_extreme_rows(dtype)
    alone, together = ordinary.copy(), mixed.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OUTPUT_ACTIVATIONS["softmax"](alone)
        OUTPUT_ACTIVATIONS["softmax"](together)
    assert not np.isnan(together).any()
    np.testing.assert_allclose(together.sum(axis=1), 1.0, rtol=ROW_RTOL[alone.dtype])
    np.testing.assert_allclose(
        together[is_ordinary], alone, rtol=ROW_RTOL[alone.dtype], atol=0
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_loss_terms_of_a_row_do_not_depend_on_the_other_rows(dtype):
    """Σ_i s_i ℓ_i with the extreme rows weighted 0 is the ordinary rows' total,
    and their deltas are the same: each ℓ_i comes from row i alone."""
    ordinary, mixed, is_ordinary = logits_with_extreme_rows(dtype)
    targets = np.eye(5, dtype=dtype)[np.arange(len(mixed)) % 5]
    loss = LOSSES["log_loss"].forward
    delta_alone, delta_together = np.empty_like(ordinary), np.empty_like(mixed)
    weights = is_ordinary.astype(dtype)
    alone = loss(ordinary.copy(), targets[is_ordinary], delta_alone, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        together = loss(mixed.copy(), targets, delta_together, weights)
    rtol = ROW_RTOL[ordinary.dtype]
    assert together == pytest.approx(alone, rel=rtol)
    np.testing.assert_allclose(delta_together[is_ordinary], delta_alone, rtol=rtol)


def test_forward_in_chunks_equals_one_pass(monkeypatch):
    rng = np.random.RandomState(0)
    network = Network((5, 7, 6, 3), "tanh", "log_loss", np.float64)
    network.initialize(rng)
    X = rng.normal(size=(1000, 5))
    with _engine.using("numpy"):  # the compiled engine has its own parts
        whole = network.predict(X)
        monkeypatch.setattr(_network, "CHUNK_BYTES", 7 * 8 * 33)  # 33 rows a chunk
        chunked = forward(X, network.coefs, network.intercepts, "tanh", "softmax")
    np.testing.assert_allclose(chunked, whole, rtol=1e-14)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0)


def test_sgd_step_matches_its_formula():
    rng = np.random.RandomState(0)
    params, grads = rng.normal(size=20), rng.normal(size=(3, 20))
    for nesterov in [True, False]:
        optimizer = SGD(20, np.float64, 0.1, "constant", 0.9, nesterov, 0.5)
        p, v = params.copy(), np.zeros(20)
        actual = params.copy()
        for g in grads:
            v = 0.9 * v - 0.1 * g
            p = p + (0.9 * v - 0.1 * g if nesterov else v)
            optimizer.step(actual, g)
        np.testing.assert_allclose(actual, p, rtol=1e-13)


def test_adam_step_matches_its_formula():
    rng = np.random.RandomState(0)
    params, grads = rng.normal(size=20), rng.normal(size=(4, 20))
    optimizer = Adam(20, np.float64, 0.01, 0.8, 0.9, 1e-6)
    p, m, v = params.copy(), np.zeros(20), np.zeros(20)
    actual = params.copy()
    for k, g in enumerate(grads, start=1):
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g**2
        step_size = 0.01 * np.sqrt(1 - 0.9**k) / (1 - 0.8**k)
        p = p - step_size * m / (np.sqrt(v) + 1e-6)
        optimizer.step(actual, g)
    np.testing.assert_allclose(actual, p, rtol=1e-12)


@pytest.mark.parametrize("warmup", [0.0, 0.2])
def test_the_schedules_shapes(warmup):
    cosine = SCHEDULES["cosine"].multiplier
    flat = SCHEDULES["flat_cosine"].multiplier
    if warmup:
        # a linear warm-up from 0, reaching 1 where it ends
        for p in (0.0, 0.05, 0.1, 0.15):
            assert cosine(p, warmup) == pytest.approx(p / warmup)
            assert flat(p, warmup) == pytest.approx(p / warmup)
    assert cosine(warmup, warmup) == pytest.approx(1.0)
    # cosine: half way through the decay, half the rate; none at the end
    assert cosine(warmup + (1 - warmup) / 2, warmup) == pytest.approx(0.5)
    assert cosine(1.0, warmup) == pytest.approx(0.0, abs=1e-15)
    # flat_cosine: the full rate until half the horizon, then the same decay
    assert flat(0.3, warmup) == flat(0.49, warmup) == 1.0
    assert flat(0.75, warmup) == pytest.approx(0.5)
    assert flat(1.0, warmup) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_a_schedule_sets_each_batchs_rate_from_the_progress_at_its_middle(
    optimizer_class,
):
    # 2 epochs of 4 batches: batch b of epoch e is at (e + (b + ½) / 4) / 2
    optimizer = optimizer_class(
        5, np.float64, 0.1, schedule="cosine", warmup=0.25, horizon=2
    )
    rates = []
    for _ in range(3):  # the third epoch is past the horizon
        rates += [optimizer._rate(b, 4) for b in range(4)]
        optimizer.iteration_ends(time_step=0)
    progress = [(e + (b + 0.5) / 4) / 2 for e in range(3) for b in range(4)]
    expected = [
        0.1 * (p / 0.25 if p < 0.25 else 0.5 * (1 + np.cos(np.pi * (p - 0.25) / 0.75)))
        for p in np.minimum(progress, 1.0)
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-14, atol=1e-17)
    assert rates[-4:] == [0.0] * 4  # past the horizon: the final value, held


def test_adam_ignores_sgds_own_schedules():
    for schedule in ("invscaling", "adaptive", "constant"):
        optimizer = Adam(5, np.float64, 0.01, schedule=schedule, horizon=3)
        assert {optimizer._rate(b, 4) for b in range(4)} == {0.01}


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_decoupled_weight_decay_shrinks_the_weights_apart_from_the_update(
    optimizer_class,
):
    # W <- W - η (update + λ W), biases without the decay: one step from the
    # same state, with and without decay, differs by η λ W on the weights
    rng = np.random.RandomState(0)
    params, grad = rng.normal(size=30), rng.normal(size=30)
    n_weights, rate, decay = 20, 0.05, 0.1
    updated = {}
    for weight_decay in (0.0, decay):
        optimizer = optimizer_class(30, np.float64, rate, weight_decay=weight_decay)
        (scalar,), (eta_lambda,) = optimizer.epoch_scalars(1)
        assert eta_lambda == pytest.approx(rate * weight_decay)
        p = params.copy()
        optimizer.apply(p, grad, scalar, eta_lambda, n_weights)
        updated[weight_decay] = p
    shrink = rate * decay * params
    np.testing.assert_allclose(
        updated[decay][:n_weights],
        updated[0.0][:n_weights] - shrink[:n_weights],
        rtol=1e-12,
    )
    np.testing.assert_array_equal(updated[decay][n_weights:], updated[0.0][n_weights:])


def test_inverted_dropout_masks():
    network = Network((4, 1000, 2), "identity", "squared_error", np.float64, [0.3])
    network.initialize(np.random.RandomState(0))
    network.set_dropout_rng(np.random.default_rng(0))
    X = np.random.RandomState(1).normal(size=(200, 4))
    kept = network._forward(X, training=False)[0][0].copy()
    dropped = network._forward(X, training=True)[0][0]
    ratio = dropped[kept != 0] / kept[kept != 0]
    assert set(np.round(np.unique(ratio), 12)) == {0.0, round(1 / 0.7, 12)}
    assert (ratio == 0).mean() == pytest.approx(0.3, abs=0.01)
    # scaling by 1/(1 - p) keeps each unit's expected output
    np.testing.assert_allclose(dropped.mean(axis=0), kept.mean(axis=0), atol=0.15)
