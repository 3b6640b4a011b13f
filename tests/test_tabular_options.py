"""What the options for tabular data do: numerical embeddings (``embedding``,
``embedding_columns``, ``embedding_size``, ``embedding_scale``), packed members
(``n_members``) and the regressor's ``normalize_y``.

Expectations are computed here from the definitions: the piecewise-linear
encoding case by case from its bins, and those bins as NumPy's inverted-CDF
quantiles; the periodic encoding from its frequencies; the members' mean
prediction layer by layer from ``coefs_`` and ``member_scales_``; standardised
targets from a fit on targets standardised by hand. (Their bad values and the
continuations they refuse: test_bad_input.py; sparse X: test_inputs.py;
check_gradients: test_gradients.py; the two engines: test_engines.py; saving
and crafted fitted attributes: test_persistence.py and test_failures.py;
ONNX: test_onnx.py.)"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]

EMBEDDINGS = ["periodic", "piecewise_linear"]


def data(n_samples=60, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    return X, X[:, 0] + X[:, 1] ** 2 - X[:, 2]


def parameters_of(estimator) -> list[np.ndarray]:
    """Copies of every trained array: weights, biases, the members' scales
    and the embedding's frequencies (where there are some)."""
    arrays = estimator.coefs_ + estimator.intercepts_
    for name in ("member_scales_", "embedding_params_"):
        extra = getattr(estimator, name, None)
        if extra is not None:
            arrays = [*arrays, extra]
    return [np.array(a, copy=True) for a in arrays]


def assert_same_parameters(a, b, rtol=0.0, atol=0.0) -> None:
    pa, pb = parameters_of(a), parameters_of(b)
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb, strict=True):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def relu(z):
    return np.maximum(z, 0.0)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def member_outputs_by_hand(estimator, first_layer_input) -> np.ndarray:
    """Each member's logits, (n_samples, k, n_outputs_), layer by layer from
    the fitted arrays (relu units): member m reads the input times its scales
    r_m, goes through the shared hidden layers, and its head is the m-th block
    of columns of the last layer."""
    scales = getattr(estimator, "member_scales_", None)
    k = 1 if scales is None else scales.shape[0]
    width = estimator.n_outputs_
    outputs = []
    for m in range(k):
        a = first_layer_input if scales is None else first_layer_input * scales[m]
        for W, b in zip(estimator.coefs_[:-1], estimator.intercepts_[:-1], strict=True):
            a = relu(a @ W + b)
        head = slice(m * width, (m + 1) * width)
        outputs.append(
            a @ estimator.coefs_[-1][:, head] + estimator.intercepts_[-1][head]
        )
    return np.stack(outputs, axis=1)


# -- the piecewise-linear encoding -----------------------------------------------------
def quantile_edges(column, size, weights=None) -> np.ndarray:
    """The bins' edges as the documentation defines them: the distinct
    weighted inverted-CDF quantiles of levels 0, 1/size, ..., 1."""
    levels = np.linspace(0.0, 1.0, size + 1)
    return np.unique(
        np.quantile(column, levels, method="inverted_cdf", weights=weights)
    )


def piecewise_linear_by_hand(x: float, edges: np.ndarray) -> list[float]:
    """The encoding of one value, case by case: in bin t (edges e_(t-1) to
    e_t), the bins below read 1, bin t the position of x in it, those above
    0; below the first edge only the first bin reads (linearly, below 0),
    above the last edge every bin reads 1 but the last, which goes on
    linearly above 1."""
    n_bins = len(edges) - 1

    def position(t):
        return (x - edges[t]) / (edges[t + 1] - edges[t])

    if x < edges[0]:
        return [position(0)] + [0.0] * (n_bins - 1)
    if x >= edges[-1]:
        return [1.0] * (n_bins - 1) + [position(n_bins - 1)]
    t = int(np.searchsorted(edges, x, side="right")) - 1  # e_t <= x < e_(t+1)
    return [1.0] * t + [position(t)] + [0.0] * (n_bins - 1 - t)


def test_piecewise_linear_encoding_on_its_quantile_bins():
    # column 0: 0..8 (edges 0, 2, 4, 6, 8 for 4 bins), column 2: a skewed
    # column; column 1 passes through, after the embedded ones
    X, y = data(n_samples=45, n_features=3)
    X[:, 0] = np.arange(45) % 9
    X[:, 2] = np.exp(X[:, 2])
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(7,),
        embedding="piecewise_linear",
        embedding_columns=[2, 0],
        embedding_size=4,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    embedding = regressor.embedding_
    np.testing.assert_array_equal(embedding.columns, [0, 2])
    np.testing.assert_array_equal(embedding.passthrough, [1])
    np.testing.assert_array_equal(embedding.constants[0], [0.0, 2.0, 4.0, 6.0, 8.0])
    np.testing.assert_array_equal(embedding.constants[1], quantile_edges(X[:, 2], 4))
    assert regressor.embedding_params_ is None  # nothing of its own trains
    # 4 bins for each embedded column, then the column passed through
    assert embedding.width == 4 + 4 + 1 == regressor.coefs_[0].shape[0]

    # new values below, inside, on and above the bins
    X_new = np.array(
        [[-3.0, 0.5, 0.1], [0.0, -1.0, 1.0], [3.0, 2.0, 2.5], [8.0, 0.0, 50.0],
         [11.5, 1.5, 0.0], [4.0, 4.0, 1e-3], [7.99, -2.0, 0.7]]
    )  # fmt: skip
    encoded = np.array(
        [
            piecewise_linear_by_hand(row[0], embedding.constants[0])
            + piecewise_linear_by_hand(row[2], embedding.constants[1])
            + [row[1]]
            for row in X_new
        ]
    )
    np.testing.assert_allclose(encoded[0, :4], [-1.5, 0, 0, 0])
    np.testing.assert_allclose(encoded[4, :4], [1, 1, 1, 2.75])
    expected = member_outputs_by_hand(regressor, encoded)[:, 0, 0]
    np.testing.assert_allclose(regressor.predict(X_new), expected, rtol=1e-12)


def test_piecewise_linear_bins_are_at_most_the_distinct_quantiles():
    X, y = data(n_samples=40, n_features=3)
    X[:, 0] = np.arange(40) % 2  # two values: one bin
    X[:, 1] = 3.0  # one value: one bin around it
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), embedding="piecewise_linear", embedding_size=8,
        max_iter=2, random_state=0,
    ).fit(X, y)  # fmt: skip
    edges = regressor.embedding_.constants
    np.testing.assert_array_equal(edges[0], [0.0, 1.0])
    np.testing.assert_array_equal(edges[1], [2.0, 4.0])
    np.testing.assert_array_equal(edges[2], quantile_edges(X[:, 2], 8))
    assert len(edges[2]) == 9
    assert regressor.coefs_[0].shape[0] == 1 + 1 + 8


def test_weighted_bins_are_the_bins_of_repeated_rows():
    X, y = data(n_samples=50)
    weights = np.arange(50) % 4  # 0 to 3: rows of weight 0 count for nothing
    params = dict(
        hidden_layer_sizes=(5,), embedding="piecewise_linear", embedding_size=5,
        max_iter=2, random_state=0,
    )  # fmt: skip
    weighted = ScratchMLPRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = ScratchMLPRegressor(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    unweighted = ScratchMLPRegressor(**params).fit(X, y)
    for j in range(X.shape[1]):
        kept = weights > 0
        expected = quantile_edges(X[kept, j], 5, weights=weights[kept])
        np.testing.assert_array_equal(weighted.embedding_.constants[j], expected)
        np.testing.assert_array_equal(repeated.embedding_.constants[j], expected)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(
            weighted.embedding_.constants, unweighted.embedding_.constants, strict=True
        )
    )


def test_the_bins_are_fixed_at_the_first_fit():
    X, y = data()
    params = dict(
        hidden_layer_sizes=(5,), embedding="piecewise_linear", embedding_size=4,
        random_state=0,
    )  # fmt: skip
    streamed = ScratchMLPRegressor(**params)
    streamed.partial_fit(X, y)
    first = [edges.copy() for edges in streamed.embedding_.constants]
    streamed.partial_fit(X + 5.0, y)  # other data: the same bins
    warm = ScratchMLPRegressor(warm_start=True, max_iter=2, **params).fit(X, y)
    warm.fit(X * 3.0, y)
    for model in (streamed, warm):
        for edges, kept in zip(model.embedding_.constants, first, strict=True):
            np.testing.assert_array_equal(edges, kept)
    # a fit from scratch takes the bins of its own data
    streamed.set_params(max_iter=2).fit(X + 5.0, y)
    for j, edges in enumerate(streamed.embedding_.constants):
        np.testing.assert_array_equal(edges, quantile_edges(X[:, j] + 5.0, 4))


# -- the periodic encoding -------------------------------------------------------------
def test_periodic_encoding_is_cosines_then_sines_of_its_frequencies():
    X, y = data(n_features=3)
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(6,),
        embedding="periodic",
        embedding_columns=[0, 2],
        embedding_size=3,
        embedding_scale=0.5,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    frequencies = regressor.embedding_params_
    assert frequencies.shape == (2, 3)
    # 2 × 3 values for each embedded column, then the one passed through
    assert regressor.embedding_.width == 6 + 6 + 1 == regressor.coefs_[0].shape[0]
    X_new = np.random.default_rng(1).normal(scale=2.0, size=(20, 3))
    phases = [2 * np.pi * frequencies[c] * X_new[:, [j]] for c, j in enumerate((0, 2))]
    encoded = np.hstack(
        [
            *(np.cos(phases[0]), np.sin(phases[0])),
            *(np.cos(phases[1]), np.sin(phases[1])),
            X_new[:, [1]],
        ]
    )
    expected = member_outputs_by_hand(regressor, encoded)[:, 0, 0]
    np.testing.assert_allclose(regressor.predict(X_new), expected, rtol=1e-12)


def test_the_frequencies_train_and_start_from_draws_of_scale_sigma():
    X, y = data()
    # a step so small that the frequencies are still their initial draws
    params = dict(
        hidden_layer_sizes=(5,), embedding="periodic", embedding_size=4,
        solver="sgd", learning_rate_init=1e-12, max_iter=1, random_state=0,
    )  # fmt: skip
    narrow = ScratchMLPRegressor(embedding_scale=0.1, **params).fit(X, y)
    wide = ScratchMLPRegressor(embedding_scale=10.0, **params).fit(X, y)
    # N(0, σ²) draws are σ times the same standard normal draws
    np.testing.assert_allclose(
        wide.embedding_params_, 100 * narrow.embedding_params_, rtol=1e-6
    )
    # the layers' draws come first, and do not depend on σ
    np.testing.assert_allclose(wide.coefs_[0], narrow.coefs_[0], rtol=1e-9)
    trained = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), embedding="periodic", embedding_size=4,
        max_iter=20, learning_rate_init=0.01, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert not np.allclose(trained.embedding_params_, narrow.embedding_params_)


def test_embedding_scale_is_ignored_by_the_piecewise_linear_encoding():
    X, y = data()
    params = dict(
        hidden_layer_sizes=(5,), embedding="piecewise_linear", max_iter=5,
        random_state=0,
    )  # fmt: skip
    a = ScratchMLPRegressor(embedding_scale=0.1, **params).fit(X, y)
    b = ScratchMLPRegressor(embedding_scale=7.0, **params).fit(X, y)
    assert_same_parameters(a, b)


# -- which columns ---------------------------------------------------------------------
COLUMN_NAMES = ["num__a", "cat__b", "num__c", "num__d"]


@pytest.mark.parametrize("kind", EMBEDDINGS)
@pytest.mark.parametrize(
    "columns",
    [
        [0, 2, 3],
        (3, 0, 2, 2),  # any order, repeats
        np.array([True, False, True, True]),
        [True, False, True, True],
        ["num__a", "num__c", "num__d"],
        ["num__d", "num__a", "num__c"],
        "^num__",
        "__[acd]$",
    ],
    ids=repr,
)
def test_every_way_to_name_the_columns_embeds_the_same_ones(kind, columns):
    X, y = data()
    frame = pd.DataFrame(X, columns=COLUMN_NAMES)
    params = dict(hidden_layer_sizes=(5,), embedding=kind, max_iter=3, random_state=0)
    named = ScratchMLPRegressor(embedding_columns=columns, **params).fit(frame, y)
    by_indices = ScratchMLPRegressor(embedding_columns=[0, 2, 3], **params)
    by_indices.fit(X, y)
    np.testing.assert_array_equal(named.embedding_.columns, [0, 2, 3])
    np.testing.assert_array_equal(named.embedding_.passthrough, [1])
    assert_same_parameters(named, by_indices)
    np.testing.assert_array_equal(named.predict(frame), by_indices.predict(X))


@pytest.mark.parametrize("kind", EMBEDDINGS)
def test_no_columns_given_embeds_them_all(kind):
    X, y = data()
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), embedding=kind, embedding_size=3, max_iter=2,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_array_equal(regressor.embedding_.columns, [0, 1, 2, 3])
    assert regressor.embedding_.passthrough.size == 0
    width = 4 * (2 * 3 if kind == "periodic" else 3)
    assert regressor.coefs_[0].shape[0] == regressor.embedding_.width == width


def test_a_pattern_that_matches_no_column_embeds_nothing():
    X, y = data()
    frame = pd.DataFrame(X, columns=COLUMN_NAMES)
    params = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    plain = ScratchMLPRegressor(**params).fit(frame, y)
    nothing = ScratchMLPRegressor(
        embedding="periodic", embedding_columns="^date__", **params
    )
    nothing.fit(frame, y)
    for name in ("embedding_", "embedding_params_"):
        assert not hasattr(nothing, name)
    assert_same_parameters(nothing, plain)
    # a refit that embeds nothing leaves no embedding of an earlier fit behind
    embedded = clone(nothing).set_params(embedding_columns="^num__").fit(frame, y)
    assert embedded.coefs_[0].shape[0] == 3 * 32 + 1
    embedded.set_params(embedding_columns="^date__").fit(frame, y)
    for name in ("embedding_", "embedding_params_"):
        assert not hasattr(embedded, name)
    assert_same_parameters(embedded, plain)


def test_no_embedding_ignores_the_embedding_parameters():
    X, y = data()
    params = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    plain = ScratchMLPClassifier(**params).fit(X, y > 0)
    ignored = ScratchMLPClassifier(
        embedding_columns=[0], embedding_size=3, embedding_scale=2.0, **params
    ).fit(X, y > 0)
    assert not hasattr(ignored, "embedding_")
    assert_same_parameters(ignored, plain)


# -- packed members --------------------------------------------------------------------
@pytest.mark.parametrize("targets", [1, 2])
def test_members_layout_and_mean_prediction_of_the_regressor(targets):
    X, y = data()
    y = y if targets == 1 else np.c_[y, X[:, 3]]
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(6, 5), n_members=3, max_iter=20, random_state=0
    ).fit(X, y)
    # as the docstring says: the heads side by side in the last layer
    assert regressor.n_outputs_ == targets
    assert [c.shape for c in regressor.coefs_] == [(4, 6), (6, 5), (5, 3 * targets)]
    assert [b.shape for b in regressor.intercepts_] == [(6,), (5,), (3 * targets,)]
    assert regressor.member_scales_.shape == (3, 4)
    members = member_outputs_by_hand(regressor, X)
    expected = members.mean(axis=1)
    np.testing.assert_allclose(
        regressor.predict(X), expected[:, 0] if targets == 1 else expected, rtol=1e-12
    )
    # the members differ: their mean is not any one of them
    assert np.ptp(members, axis=1).min() > 0


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_members_probabilities_are_the_mean_of_theirs(kind):
    X, y = data()
    target = {
        "binary": y > 0,
        "multiclass": np.digitize(y, [-0.5, 1.0]),
        "multilabel": np.c_[y > 0, X[:, 3] > 0, y > 1],
    }[kind]
    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(6,), n_members=4, max_iter=30, random_state=0
    ).fit(X, target)
    n_outputs = {"binary": 1, "multiclass": 3, "multilabel": 3}[kind]
    assert classifier.n_outputs_ == n_outputs
    assert classifier.coefs_[-1].shape == (6, 4 * n_outputs)
    logits = member_outputs_by_hand(classifier, X)
    if kind == "multiclass":
        expected = softmax(logits).mean(axis=1)
    else:
        expected = sigmoid(logits).mean(axis=1)
        if kind == "binary":
            expected = np.c_[1.0 - expected[:, 0], expected[:, 0]]
    probabilities = classifier.predict_proba(X)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        classifier.predict_log_proba(X), np.log(probabilities), rtol=1e-12
    )
    if kind == "multilabel":
        np.testing.assert_array_equal(classifier.predict(X), expected > 0.5)
    else:
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
        labels = classifier.classes_[probabilities.argmax(axis=1)]
        np.testing.assert_array_equal(classifier.predict(X), labels)


def test_members_read_the_embedding_scaled_by_their_own_scales():
    X, y = data()
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), n_members=2, embedding="piecewise_linear",
        embedding_columns=[1], embedding_size=4, max_iter=20, random_state=0,
    ).fit(X, y)  # fmt: skip
    width = regressor.embedding_.width
    assert width == 4 + 3
    assert regressor.member_scales_.shape == (2, width)
    assert regressor.coefs_[0].shape == (width, 5)
    edges = regressor.embedding_.constants[0]
    encoded = np.array(
        [piecewise_linear_by_hand(x, edges) for x in X[:, 1]]
    )  # fmt: skip
    inputs = np.hstack([encoded, X[:, [0, 2, 3]]])
    expected = member_outputs_by_hand(regressor, inputs).mean(axis=1)[:, 0]
    np.testing.assert_allclose(regressor.predict(X), expected, rtol=1e-12)


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_one_member_is_the_plain_network_bit_for_bit(estimator_class):
    X, y = data()
    y = y > 0 if estimator_class is ScratchMLPClassifier else y
    params = dict(hidden_layer_sizes=(5, 4), max_iter=10, random_state=0)
    plain = estimator_class(**params).fit(X, y)
    one = estimator_class(n_members=1, **params).fit(X, y)
    assert not hasattr(one, "member_scales_")
    assert_same_parameters(one, plain)
    assert one.loss_curve_ == plain.loss_curve_


def test_the_members_scales_start_as_random_signs():
    X, y = data()
    # a step so small that the scales are still their initial draws
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), n_members=4, solver="sgd", learning_rate_init=1e-12,
        max_iter=1, random_state=0,
    ).fit(X, y)  # fmt: skip
    scales = regressor.member_scales_
    np.testing.assert_allclose(np.abs(scales), 1.0, rtol=1e-9)
    assert (scales > 0).any() and (scales < 0).any()
    # and they train
    trained = clone(regressor).set_params(learning_rate_init=0.01, max_iter=10)
    trained.fit(X, y)
    assert not np.allclose(np.abs(trained.member_scales_), 1.0)


def test_members_loss_is_the_mean_of_the_members_losses():
    X, y = data()
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), n_members=3, alpha=0.0, solver="lbfgs",
        max_iter=5, random_state=0,
    ).fit(X, y)  # fmt: skip
    members = member_outputs_by_hand(regressor, X)[:, :, 0]
    each = 0.5 * ((members - y[:, None]) ** 2).mean(axis=0)
    assert regressor.loss_ == pytest.approx(each.mean(), rel=1e-9)
    # not the loss of their mean prediction
    assert regressor.loss_ > 0.5 * np.mean((members.mean(axis=1) - y) ** 2) * 1.001


def test_members_with_class_weight_as_sample_weights():
    X, y = data()
    labels = np.digitize(y, [-0.5, 1.0])
    class_weight = {0: 3.0, 2: 0.5}
    per_sample = np.array([3.0, 1.0, 0.5])[labels]
    params = dict(hidden_layer_sizes=(5,), n_members=3, max_iter=10, random_state=0)
    weighted = ScratchMLPClassifier(class_weight=class_weight, **params)
    weighted.fit(X, labels)
    reference = ScratchMLPClassifier(**params).fit(X, labels, sample_weight=per_sample)
    assert_same_parameters(weighted, reference, rtol=1e-12, atol=1e-14)
    unweighted = ScratchMLPClassifier(**params).fit(X, labels)
    assert not np.allclose(unweighted.coefs_[-1], weighted.coefs_[-1])


def test_members_with_integer_weights_fit_repeated_rows():
    X, y = data()
    weights = np.arange(len(y)) % 3
    params = dict(
        hidden_layer_sizes=(5,), n_members=3, solver="lbfgs", max_iter=10,
        random_state=0,
    )  # fmt: skip
    weighted = ScratchMLPRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = ScratchMLPRegressor(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert_same_parameters(weighted, repeated, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("embedding", [None, *EMBEDDINGS])
def test_partial_fit_with_members_is_one_epoch_of_fit(embedding):
    X, y = data()
    params = dict(
        hidden_layer_sizes=(5,), n_members=2, embedding=embedding, embedding_size=3,
        shuffle=False, batch_size=16, random_state=0,
    )  # fmt: skip
    fitted = ScratchMLPRegressor(max_iter=2, tol=0.0, **params).fit(X, y)
    streamed = ScratchMLPRegressor(**params)
    for _ in range(2):
        streamed.partial_fit(X, y)
    assert_same_parameters(streamed, fitted, rtol=1e-12, atol=1e-14)
    assert streamed.loss_curve_ == pytest.approx(fitted.loss_curve_, rel=1e-12)
    # the fitted arrays are the ones trained in place
    scales = streamed.member_scales_
    before = scales.copy()
    streamed.partial_fit(X, y)
    assert streamed.member_scales_ is scales
    assert not np.array_equal(scales, before)


def test_members_early_stopping_scores_their_mean_prediction():
    X, y = data(n_samples=120)
    rows = np.arange(len(y)) % 4 == 0
    X_train, y_train, X_val, y_val = X[~rows], y[~rows], X[rows], y[rows]
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(8,), n_members=3, early_stopping=True, alpha=0.0,
        n_iter_no_change=5, learning_rate_init=0.05, max_iter=200, random_state=0,
    ).fit(X_train, y_train, X_val=X_val, y_val=y_val)  # fmt: skip
    assert regressor.validation_scores_[-1] < regressor.best_validation_score_
    # the kept weights are those of the best score: R² of the mean prediction
    assert regressor.best_validation_score_ == pytest.approx(
        regressor.score(X_val, y_val), rel=1e-9
    )
    members = member_outputs_by_hand(regressor, X_val)[:, :, 0]
    assert regressor.best_validation_score_ == pytest.approx(
        r2_score(y_val, members.mean(axis=1)), rel=1e-9
    )
    mean_of_scores = np.mean([r2_score(y_val, members[:, m]) for m in range(3)])
    assert regressor.best_validation_score_ != pytest.approx(mean_of_scores, rel=1e-6)
    # its validation loss is the members' mean loss, as in training
    best = int(np.argmax(regressor.validation_scores_))
    each = 0.5 * ((members - y_val[:, None]) ** 2).mean(axis=0)
    assert regressor.validation_loss_curve_[best] == pytest.approx(
        each.mean(), rel=1e-9
    )


def test_members_with_dropout_train_reproducibly_and_predict_deterministically():
    X, y = data()
    params = dict(hidden_layer_sizes=(8, 6), n_members=3, max_iter=10, random_state=0)
    plain = ScratchMLPRegressor(**params).fit(X, y)
    dropped = ScratchMLPRegressor(dropout=0.3, **params).fit(X, y)
    again = ScratchMLPRegressor(dropout=0.3, **params).fit(X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    assert_same_parameters(dropped, again)
    np.testing.assert_array_equal(dropped.predict(X), dropped.predict(X))
    expected = member_outputs_by_hand(dropped, X).mean(axis=1)[:, 0]
    np.testing.assert_allclose(dropped.predict(X), expected, rtol=1e-12)


# -- normalize_y -----------------------------------------------------------------------
def test_normalize_y_fits_the_standardised_targets_and_predicts_in_y_units():
    X, y = data()
    y_big = 1e5 * y + 3e5
    mean, std = y_big.mean(), y_big.std()
    params = dict(
        hidden_layer_sizes=(6,), learning_rate_init=0.01, max_iter=100, random_state=0
    )
    normalized = ScratchMLPRegressor(normalize_y=True, **params).fit(X, y_big)
    by_hand = ScratchMLPRegressor(**params).fit(X, (y_big - mean) / std)
    np.testing.assert_allclose(normalized.y_mean_, [mean], rtol=1e-12)
    np.testing.assert_allclose(normalized.y_scale_, [std], rtol=1e-12)
    assert_same_parameters(normalized, by_hand, rtol=1e-8, atol=1e-10)
    X_new = data(seed=1)[0]
    np.testing.assert_allclose(
        normalized.predict(X_new), std * by_hand.predict(X_new) + mean, rtol=1e-9
    )
    # the loss is that of the standardised targets, the score that of y
    assert normalized.loss_curve_ == pytest.approx(by_hand.loss_curve_, rel=1e-8)
    assert normalized.score(X, y_big) == pytest.approx(
        r2_score(y_big, normalized.predict(X)), rel=1e-12
    )
    # y in the hundred thousands is out of adam's reach without it (its steps
    # are of about learning_rate_init)
    plain = ScratchMLPRegressor(**params).fit(X, y_big)
    assert normalized.score(X, y_big) > 0.8
    assert plain.score(X, y_big) < 0


def test_normalize_y_takes_weighted_moments_of_each_target():
    X, y = data()
    Y = np.c_[1e3 * y - 50, 1e-3 * X[:, 3]]
    weights = np.arange(len(y)) % 4  # as repeated rows
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), normalize_y=True, max_iter=2, random_state=0
    ).fit(X, Y, sample_weight=weights)
    repeated = np.repeat(Y, weights, axis=0)
    np.testing.assert_allclose(regressor.y_mean_, repeated.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(regressor.y_scale_, repeated.std(axis=0), rtol=1e-12)
    assert regressor.y_mean_.shape == regressor.y_scale_.shape == (2,)


def test_normalize_y_keeps_the_first_fits_moments():
    X, y = data()
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), normalize_y=True, random_state=0
    )
    regressor.partial_fit(X, y)
    moments = regressor.y_mean_.copy(), regressor.y_scale_.copy()
    regressor.partial_fit(X, 10 * y + 7)
    np.testing.assert_array_equal(regressor.y_mean_, moments[0])
    np.testing.assert_array_equal(regressor.y_scale_, moments[1])
    regressor.set_params(max_iter=2).fit(X, 10 * y + 7)  # from scratch: its own
    np.testing.assert_allclose(regressor.y_mean_, 10 * moments[0] + 7, rtol=1e-12)
    np.testing.assert_allclose(regressor.y_scale_, 10 * moments[1], rtol=1e-12)


def test_normalize_y_of_a_constant_target_divides_by_one():
    X, _ = data()
    params = dict(hidden_layer_sizes=(5,), max_iter=10, random_state=0)
    constant = ScratchMLPRegressor(normalize_y=True, **params)
    constant.fit(X, np.full(len(X), 1e6 + 0.1))
    np.testing.assert_array_equal(constant.y_scale_, [1.0])
    np.testing.assert_allclose(constant.y_mean_, [1e6 + 0.1], rtol=1e-15)
    zeros = ScratchMLPRegressor(**params).fit(X, np.zeros(len(X)))
    np.testing.assert_allclose(
        constant.predict(X), zeros.predict(X) + 1e6 + 0.1, rtol=0, atol=1e-6
    )


def test_normalize_y_validation_loss_is_in_standardised_units():
    X, y = data(n_samples=120)
    y = 1e3 * y + 40
    rows = np.arange(len(y)) % 4 == 0
    X_train, y_train, X_val, y_val = X[~rows], y[~rows], X[rows], y[rows]
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(8,), normalize_y=True, early_stopping=True, alpha=0.0,
        n_iter_no_change=5, learning_rate_init=0.05, max_iter=200, random_state=0,
    ).fit(X_train, y_train, X_val=X_val, y_val=y_val)  # fmt: skip
    best = int(np.argmax(regressor.validation_scores_))
    scale = regressor.y_scale_[0]
    by_hand = 0.5 * np.mean(((regressor.predict(X_val) - y_val) / scale) ** 2)
    assert regressor.validation_loss_curve_[best] == pytest.approx(by_hand, rel=1e-9)
    # and the score early stopping monitors is R² (the same in either unit)
    assert regressor.best_validation_score_ == pytest.approx(
        regressor.score(X_val, y_val), rel=1e-9
    )


@pytest.mark.parametrize("targets", [1, 2])
def test_normalize_y_keeps_several_quantiles_sorted_in_y_units(targets):
    X, y = data()
    Y = 1e3 * y + 5 if targets == 1 else np.c_[1e3 * y + 5, -20 * X[:, 3]]
    regressor = ScratchMLPRegressor(
        loss="quantile", quantile=[0.1, 0.5, 0.9], normalize_y=True,
        hidden_layer_sizes=(6,), max_iter=20, random_state=0,
    ).fit(X, Y)  # fmt: skip
    assert regressor.y_mean_.shape == (targets,)
    outputs = member_outputs_by_hand(regressor, X)[:, 0, :].reshape(len(X), targets, 3)
    in_y_units = outputs * regressor.y_scale_[:, None] + regressor.y_mean_[:, None]
    expected = np.sort(in_y_units, axis=-1)
    predicted = regressor.predict(X)
    np.testing.assert_allclose(
        predicted, expected[:, 0] if targets == 1 else expected, rtol=1e-12
    )
    assert (np.diff(predicted, axis=-1) >= 0).all()
