"""What each option beyond scikit-learn's MLP does: class weights, the
validation loss curve, early stopping's scoring and validation set of one's
own, dropout, LossCurveDisplay, and several quantiles in one network. (Their
bad values:
test_bad_input.py; check_gradients: test_gradients.py; the new activations and
losses are table entries, tested wherever the tables are.)"""

import copy
import warnings

import numpy as np
import pytest
from helpers import (
    assert_same_weights,
    weights_of,
)
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    balanced_accuracy_score,
    d2_pinball_score,
    log_loss,
    mean_pinball_loss,
    r2_score,
)
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import (
    LossCurveDisplay,
    ScratchMLPClassifier,
    ScratchMLPRegressor,
)

pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]


# -- class_weight -------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_class_weight_dict_multiplies_sample_weights(iris, solver):
    X, y = iris
    class_weight = {0: 3.0, 2: 0.5}  # class 1 left out: weight 1
    per_sample = np.array([3.0, 1.0, 0.5])[y]
    params = dict(solver=solver, max_iter=20, random_state=0)
    weighted = ScratchMLPClassifier(class_weight=class_weight, **params).fit(X, y)
    reference = ScratchMLPClassifier(**params).fit(X, y, sample_weight=per_sample)
    assert_same_weights(weighted, reference)

    sample_weight = np.linspace(0.5, 1.5, len(y))
    both = ScratchMLPClassifier(class_weight=class_weight, **params)
    both.fit(X, y, sample_weight=sample_weight)
    reference.fit(X, y, sample_weight=per_sample * sample_weight)
    assert_same_weights(both, reference)


def test_class_weight_balanced_weighs_classes_inversely_to_their_counts(iris):
    X, y = iris
    keep = np.r_[0:50, 50:70, 100:105]  # 50, 20 and 5 samples
    X, y = X[keep], y[keep]
    expected = len(y) / (3 * np.bincount(y))
    params = dict(max_iter=20, random_state=0)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params).fit(X, y)
    reference = ScratchMLPClassifier(**params).fit(X, y, sample_weight=expected[y])
    assert_same_weights(balanced, reference)


def test_class_weight_balanced_counts_samples_by_their_weights(iris):
    """Weight 2 on a sample counts it twice, as repeating it would."""
    X, y = iris
    sample_weight = np.where(np.arange(150) % 3 == 0, 2.0, 1.0)
    sample_weight[y == 2] = 0.5
    totals = np.bincount(y, weights=sample_weight)
    expected = totals.sum() / (3 * totals)
    params = dict(max_iter=20, random_state=0)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params)
    balanced.fit(X, y, sample_weight=sample_weight)
    reference = ScratchMLPClassifier(**params)
    reference.fit(X, y, sample_weight=expected[y] * sample_weight)
    assert_same_weights(balanced, reference)


def test_class_weight_balanced_for_multilabel_targets(iris):
    """Each label's 0s and 1s are balanced; a sample's weight is the product."""
    X, y = iris
    Y = np.c_[y == 0, y != 1].astype(int)  # label 0: 50 ones; label 1: 100 ones
    column_0 = np.where(Y[:, 0] == 1, 150 / (2 * 50), 150 / (2 * 100))
    column_1 = np.where(Y[:, 1] == 1, 150 / (2 * 100), 150 / (2 * 50))
    params = dict(max_iter=20, random_state=0)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params).fit(X, Y)
    reference = ScratchMLPClassifier(**params)
    reference.fit(X, Y, sample_weight=column_0 * column_1)
    assert_same_weights(balanced, reference)


def test_class_weight_balanced_helps_the_minority_class():
    X, y = make_classification(
        2000, 6, n_informative=4, weights=[0.95], flip_y=0.02, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, random_state=0
    )
    params = dict(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    plain = ScratchMLPClassifier(**params).fit(X_train, y_train)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params)
    balanced.fit(X_train, y_train)
    plain_score = balanced_accuracy_score(y_test, plain.predict(X_test))
    balanced_score = balanced_accuracy_score(y_test, balanced.predict(X_test))
    assert balanced_score > plain_score + 0.03


def test_class_weight_in_partial_fit(iris):
    X, y = iris
    per_sample = np.array([2.0, 1.0, 1.0])[y]
    weighted = ScratchMLPClassifier(class_weight={0: 2.0}, random_state=0)
    reference = ScratchMLPClassifier(random_state=0)
    for _ in range(3):
        weighted.partial_fit(X, y, classes=[0, 1, 2])
        reference.partial_fit(X, y, classes=[0, 1, 2], sample_weight=per_sample)
    assert_same_weights(weighted, reference)
    balanced = ScratchMLPClassifier(class_weight="balanced")
    assert not hasattr(balanced, "partial_fit")
    with pytest.raises(ValueError, match="unavailable with class_weight='balanced'"):
        balanced.partial_fit(X, y, classes=[0, 1, 2])


# -- validation_loss_curve_ -----------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_validation_loss_curve(iris, solver):
    X, y = iris
    X = X[:, :2]  # a noisy problem, so the best epoch is not the last
    plain = ScratchMLPClassifier(solver=solver, max_iter=20, random_state=0).fit(X, y)
    assert plain.validation_loss_curve_ is None

    clf = ScratchMLPClassifier(
        solver=solver, early_stopping=True, validation_fraction=0.3, alpha=0.01,
        n_iter_no_change=5, learning_rate_init=0.05, max_iter=200, random_state=0,
    )  # fmt: skip
    clf.fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_)
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    # Recompute the validation loss of the restored (best) weights by hand:
    # rebuild the split (after the initial weights' draws) and take the
    # log-loss plus the L2 penalty over the validation samples.
    rng = np.random.RandomState(0)
    for coef, intercept in zip(clf.coefs_, clf.intercepts_, strict=True):
        rng.uniform(size=coef.shape)
        rng.uniform(size=intercept.shape)
    _, X_val, _, y_val = train_test_split(
        X, y, test_size=0.3, random_state=rng, stratify=y
    )
    penalty = 0.5 * 0.01 * sum((c**2).sum() for c in clf.coefs_) / len(y_val)
    by_hand = log_loss(y_val, clf.predict_proba(X_val)) + penalty
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert clf.validation_loss_curve_[best_epoch] == pytest.approx(by_hand, rel=1e-9)


def test_validation_loss_curve_for_regression_and_warm_start(iris):
    X, _ = iris
    reg = ScratchMLPRegressor(max_iter=5, random_state=0, warm_start=True)
    reg.fit(X, X[:, 0])
    assert reg.validation_loss_curve_ is None
    reg.set_params(early_stopping=True)
    reg.fit(X, X[:, 0])
    assert len(reg.validation_loss_curve_) == 5
    assert all(np.isfinite(reg.validation_loss_curve_))
    lbfgs = ScratchMLPRegressor(solver="lbfgs", early_stopping=True).fit(X, X[:, 0])
    assert not hasattr(lbfgs, "validation_loss_curve_")


# -- scoring: what early stopping monitors --------------------------------------
def split_off(estimator, X, y, test_size, seed=0):
    """Early stopping's validation rows, rebuilt: the seed's RandomState
    draws the initial weights and biases layer by layer, then splits."""
    rng = np.random.RandomState(seed)
    for coef, intercept in zip(estimator.coefs_, estimator.intercepts_, strict=True):
        rng.uniform(size=coef.shape)
        rng.uniform(size=intercept.shape)
    stratify = y if isinstance(estimator, ScratchMLPClassifier) else None
    _, X_val, _, y_val = train_test_split(
        X, y, test_size=test_size, random_state=rng, stratify=stratify
    )
    return X_val, y_val


EARLY = dict(
    early_stopping=True, validation_fraction=0.3, n_iter_no_change=5,
    learning_rate_init=0.05, max_iter=200, random_state=0,
)  # fmt: skip


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_scoring_loss_monitors_the_validation_loss_without_the_penalty(
    iris, estimator_class
):
    X, y = iris
    X = X[:, :2]  # a noisy problem, so the best epoch is not the last
    est = estimator_class(scoring="loss", alpha=0.01, **EARLY).fit(X, y)
    assert est.validation_scores_[-1] < est.best_validation_score_  # it did stop
    assert est.best_validation_score_ == max(est.validation_scores_)
    X_val, y_val = split_off(est, X, y, 0.3)
    if estimator_class is ScratchMLPClassifier:
        loss = log_loss(y_val, est.predict_proba(X_val))
    else:  # squared_error: ½ (z - t)², averaged
        loss = 0.5 * np.mean((est.predict(X_val) - y_val) ** 2)
    # the kept weights are those of the best (highest) negative loss
    assert est.best_validation_score_ == pytest.approx(-loss, rel=1e-9)
    # the validation loss curve adds the L2 penalty; the monitored loss does not
    penalty = 0.5 * 0.01 * sum((c**2).sum() for c in est.coefs_) / len(y_val)
    best = int(np.argmax(est.validation_scores_))
    assert est.validation_loss_curve_[best] == pytest.approx(loss + penalty, rel=1e-9)


@pytest.mark.parametrize(
    ("estimator_class", "scorer_name", "factor"),
    [
        # the negative log-loss is our loss without the penalty
        (ScratchMLPClassifier, "neg_log_loss", 1.0),
        # and the negative squared error twice the halved squared error
        (ScratchMLPRegressor, "neg_mean_squared_error", 2.0),
    ],
)
def test_a_scorer_by_name_monitors_the_score_it_names(
    iris, estimator_class, scorer_name, factor
):
    X, y = iris
    by_loss = estimator_class(scoring="loss", alpha=0.0, **EARLY).fit(X, y)
    by_name = estimator_class(scoring=scorer_name, alpha=0.0, **EARLY).fit(X, y)
    assert by_name.n_iter_ == by_loss.n_iter_
    expected = [factor * score for score in by_loss.validation_scores_]
    assert by_name.validation_scores_ == pytest.approx(expected, rel=1e-9)
    assert_same_weights(by_name, by_loss)


def test_a_callable_scorer_sees_labels_and_the_weights_of_each_epoch(iris):
    X, labels = iris
    y = np.array(["setosa", "versicolor", "virginica"])[labels]
    seen = []

    def macro_recall(estimator, X_val, y_val):
        seen.append((X_val, y_val, weights_of(estimator)))
        return balanced_accuracy_score(y_val, estimator.predict(X_val))

    clf = ScratchMLPClassifier(scoring=macro_recall, **EARLY).fit(X, y)
    assert len(seen) == clf.n_iter_ == len(clf.validation_scores_)
    X_val, y_val, _ = seen[0]
    assert set(y_val) <= set(y)  # the user's labels, not their encoding
    expected_X_val, expected_y_val = split_off(clf, X, y, 0.3)
    np.testing.assert_array_equal(X_val, expected_X_val)
    np.testing.assert_array_equal(y_val, expected_y_val)
    # the weights of the best epoch are kept
    best = int(np.argmax(clf.validation_scores_))
    for kept, at_best in zip(weights_of(clf), seen[best][2], strict=True):
        np.testing.assert_array_equal(kept, at_best)
    assert macro_recall(clf, X_val, y_val) == clf.best_validation_score_


def test_a_scorer_gets_the_users_rows_when_x_has_feature_names(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    seen = []

    def score(estimator, X_val, y_val):
        seen.append(X_val)
        return estimator.score(X_val, y_val)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "feature names" warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = ScratchMLPClassifier(scoring=score, **{**EARLY, "max_iter": 3})
        clf.fit(frame, y)
    assert all(isinstance(rows, pd.DataFrame) for rows in seen)
    assert list(seen[0].columns) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_scoring_is_ignored_without_early_stopping(iris, estimator_class):
    X, y = iris
    plain = estimator_class(max_iter=10, random_state=0).fit(X, y)
    scored = estimator_class(max_iter=10, random_state=0, scoring="neg_max_error")
    scored.fit(X, y)
    assert_same_weights(scored, plain, rtol=0, atol=0)
    assert scored.validation_scores_ is None


# -- X_val, y_val, sample_weight_val: a validation set of one's own ---------------
def given_split(X, y):
    """A validation set of every fourth row, and the rest to train on."""
    rows = np.arange(len(y)) % 4 == 0
    return X[~rows], y[~rows], X[rows], y[rows]


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_a_given_validation_set_replaces_the_split(iris, estimator_class):
    X, y = iris
    X_train, y_train, X_val, y_val = given_split(X[:, :2], y)
    est = estimator_class(**EARLY).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    # all of X trains: every epoch sees every training row
    assert est.t_ == est.n_iter_ * len(y_train)
    assert est.validation_scores_[-1] < est.best_validation_score_  # it did stop
    assert est.score(X_val, y_val) == pytest.approx(est.best_validation_score_)
    # validation_fraction is ignored
    other = estimator_class(**{**EARLY, "validation_fraction": 0.5})
    other.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    assert other.validation_scores_ == est.validation_scores_
    assert_same_weights(other, est, rtol=0, atol=0)


def test_a_given_validation_set_is_weighted(iris):
    X, y = iris
    X_train, y_train, X_val, y_val = given_split(X[:, :2], y)
    w_val = np.linspace(0.1, 3.0, len(y_val))
    class_weight = {0: 1.0, 1: 2.0, 2: 0.5}
    clf = ScratchMLPClassifier(class_weight=class_weight, alpha=0.01, **EARLY)
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=w_val)
    # as in training, sample_weight_val times class_weight weighs each row
    weights = w_val * np.array([class_weight[label] for label in y_val])
    best = int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == pytest.approx(
        clf.score(X_val, y_val, sample_weight=weights)
    )
    penalty = 0.5 * 0.01 * sum((c**2).sum() for c in clf.coefs_) / weights.sum()
    loss = log_loss(y_val, clf.predict_proba(X_val), sample_weight=weights)
    assert clf.validation_loss_curve_[best] == pytest.approx(loss + penalty, rel=1e-9)


# -- several quantiles in one network -------------------------------------------
QUANTILES = [0.1, 0.5, 0.9]


def quantile_regressor(quantile=QUANTILES, **params):
    return ScratchMLPRegressor(
        loss="quantile",
        quantile=quantile,
        **{"max_iter": 20, "random_state": 0, **params},
    )


@pytest.mark.parametrize("quantile", [QUANTILES, [0.3]], ids=["three", "one"])
def test_a_sequence_of_quantiles_predicts_an_axis_of_quantiles(iris, quantile):
    X, _ = iris
    n_quantiles = len(quantile)
    one_target = quantile_regressor(quantile).fit(X[:, 1:], X[:, 0])
    assert one_target.n_outputs_ == n_quantiles
    assert one_target.predict(X[:, 1:]).shape == (len(X), n_quantiles)
    two_targets = quantile_regressor(quantile).fit(X[:, 2:], X[:, :2])
    assert two_targets.n_outputs_ == 2 * n_quantiles
    assert two_targets.predict(X[:, 2:]).shape == (len(X), 2, n_quantiles)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("targets", [1, 2])
def test_one_quantile_in_a_sequence_fits_what_the_float_fits(iris, solver, targets):
    X, _ = iris
    y = X[:, 0] if targets == 1 else X[:, :2]
    as_float = quantile_regressor(0.3, solver=solver).fit(X[:, 2:], y)
    in_a_list = quantile_regressor([0.3], solver=solver).fit(X[:, 2:], y)
    assert_same_weights(in_a_list, as_float, rtol=0, atol=0)
    np.testing.assert_array_equal(
        in_a_list.predict(X[:, 2:])[..., 0], as_float.predict(X[:, 2:])
    )
    assert in_a_list.loss_ == as_float.loss_


def linear_quantile_network(coefs, intercepts, targets: int):
    """A regressor of quantiles without a hidden layer on one feature, whose
    output weights and biases are set by hand (the fit only makes the
    attributes)."""
    n_quantiles = len(coefs) // targets
    regressor = quantile_regressor(
        QUANTILES[:n_quantiles] if n_quantiles < 3 else QUANTILES,
        hidden_layer_sizes=(),
        max_iter=1,
    )
    x = np.linspace(-1, 1, 10).reshape(-1, 1)
    regressor.fit(x, np.zeros((10, targets)) if targets > 1 else np.zeros(10))
    regressor.coefs_[0][...] = [coefs]
    regressor.intercepts_[0][...] = intercepts
    return regressor


def total_pinball_loss(y, predictions, quantiles) -> np.ndarray:
    """Each row's pinball loss, summed over the quantiles (the last axis)."""
    residual = y[:, None] - predictions
    return np.where(
        residual >= 0, quantiles * residual, (quantiles - 1) * residual
    ).sum(axis=-1)


def test_predictions_never_cross_where_the_outputs_do():
    x = np.linspace(-2, 2, 41).reshape(-1, 1)
    # outputs x, 0 and -x for the quantiles 0.1, 0.5 and 0.9: in reverse order
    # wherever x > 0
    regressor = linear_quantile_network([1.0, 0.0, -1.0], [0.0, 0.0, 0.0], 1)
    outputs = np.c_[x, 0 * x, -x]
    assert (outputs[:, 0] > outputs[:, 2]).sum() == 20  # they cross
    predicted = regressor.predict(x)
    np.testing.assert_array_equal(predicted, np.c_[-np.abs(x), 0 * x, np.abs(x)])
    # sorting never makes a row's pinball loss worse, and here it does better
    y = np.random.default_rng(0).normal(size=len(x))
    sorted_loss = total_pinball_loss(y, predicted, np.array(QUANTILES))
    crossed_loss = total_pinball_loss(y, outputs, np.array(QUANTILES))
    assert (sorted_loss <= crossed_loss + 1e-12).all()
    assert (sorted_loss < crossed_loss - 1e-3).any()


def test_the_quantiles_of_each_target_are_sorted_apart():
    x = np.linspace(-2, 2, 41).reshape(-1, 1)
    # target 0: x and -x; target 1: 5 + x and 5 - x (quantiles 0.1 and 0.5)
    regressor = linear_quantile_network([1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 5.0, 5.0], 2)
    predicted = regressor.predict(x)
    assert predicted.shape == (41, 2, 2)
    np.testing.assert_array_equal(predicted[:, 0], np.c_[-np.abs(x), np.abs(x)])
    np.testing.assert_array_equal(predicted[:, 1], np.c_[5 - np.abs(x), 5 + np.abs(x)])


@pytest.mark.parametrize("targets", [1, 2])
def test_the_score_of_several_quantiles_is_their_mean_d2_pinball_score(iris, targets):
    X, _ = iris
    y = X[:, 0] if targets == 1 else X[:, :2]
    weights = np.linspace(0.5, 2.0, len(X))
    regressor = quantile_regressor(max_iter=50).fit(X[:, 2:], y)
    predicted = regressor.predict(X[:, 2:])
    for sample_weight in (None, weights):
        expected = np.mean(
            [
                d2_pinball_score(
                    y, predicted[..., k], alpha=q, sample_weight=sample_weight
                )
                for k, q in enumerate(QUANTILES)
            ]
        )
        score = regressor.score(X[:, 2:], y, sample_weight=sample_weight)
        assert score == pytest.approx(expected, rel=1e-12)
        assert 0 < score < 1
    # a float quantile keeps R²
    one = quantile_regressor(0.5, max_iter=50).fit(X[:, 2:], y)
    assert one.score(X[:, 2:], y) == pytest.approx(r2_score(y, one.predict(X[:, 2:])))


def test_early_stopping_monitors_the_score_of_several_quantiles(iris):
    X, _ = iris
    X_train, y_train, X_val, y_val = given_split(X[:, 1:], X[:, 0])
    w_val = np.linspace(0.5, 2.0, len(y_val))
    regressor = quantile_regressor(**{**EARLY, "n_iter_no_change": 3})
    regressor.fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=w_val)
    assert regressor.validation_scores_[-1] < regressor.best_validation_score_
    # the kept weights are those of the best score, as ``score`` gives it
    assert regressor.best_validation_score_ == pytest.approx(
        regressor.score(X_val, y_val, sample_weight=w_val), rel=1e-9
    )
    # scoring='loss': the negative mean of the pinball losses, summed over the
    # quantiles
    by_loss = quantile_regressor(**{**EARLY, "scoring": "loss", "alpha": 0.0})
    by_loss.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    losses = [
        mean_pinball_loss(y_val, by_loss.predict(X_val)[:, k], alpha=q)
        for k, q in enumerate(QUANTILES)
    ]
    assert by_loss.best_validation_score_ == pytest.approx(-sum(losses), rel=1e-9)


def test_sample_weights_weigh_the_loss_of_every_quantile(iris):
    # integer weights fit what repeated rows fit (L-BFGS: the whole data at once)
    X, _ = iris
    X, y = X[:, 1:], X[:, 0]
    weights = np.arange(len(y)) % 3
    regressor = quantile_regressor(solver="lbfgs", max_iter=10, hidden_layer_sizes=(5,))
    weighted = clone(regressor).fit(X, y, sample_weight=weights)
    repeated = clone(regressor).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert_same_weights(weighted, repeated, rtol=1e-8, atol=1e-10)
    unweighted = clone(regressor).fit(X, y)
    assert not np.allclose(unweighted.coefs_[0], weighted.coefs_[0])


# -- dropout --------------------------------------------------------------------
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_zero_dropout_is_bit_identical(iris, estimator_class):
    X, y = iris
    params = dict(hidden_layer_sizes=(5, 4), max_iter=10, random_state=0)
    default = estimator_class(**params).fit(X, y)
    zeros = estimator_class(dropout=[0.0, 0.0], **params).fit(X, y)
    for a, b in zip(weights_of(default), weights_of(zeros), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_dropout_trains_reproducibly_and_predicts_deterministically(
    iris, estimator_class
):
    X, y = iris
    params = dict(hidden_layer_sizes=(16, 8), max_iter=30, random_state=0)
    plain = estimator_class(**params).fit(X, y)
    dropped = estimator_class(dropout=0.3, **params).fit(X, y)
    again = estimator_class(dropout=0.3, **params).fit(X, y)
    per_layer = estimator_class(dropout=[0.3, 0.0], **params).fit(X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    assert not np.allclose(dropped.coefs_[0], per_layer.coefs_[0])
    for a, b in zip(weights_of(dropped), weights_of(again), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dropped.predict(X), dropped.predict(X))
    # the training loss, measured with units dropped, is higher than without
    assert np.mean(dropped.loss_curve_[-5:]) > np.mean(plain.loss_curve_[-5:])


def test_dropout_keeps_partial_fit_masks_fresh(iris):
    X, y = iris
    clf = ScratchMLPClassifier((8,), dropout=0.5, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    generator_state = copy.deepcopy(clf._dropout_rng.bit_generator.state)
    clf.partial_fit(X, y)
    assert clf._dropout_rng.bit_generator.state != generator_state


# -- LossCurveDisplay ----------------------------------------
@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_loss_curve_display_with_validation_curves(iris, pyplot):
    X, y = iris
    clf = ScratchMLPClassifier(
        early_stopping=True, max_iter=30, random_state=0, learning_rate_init=0.01
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(clf)
    assert display.ax_.figure is display.figure_
    np.testing.assert_array_equal(display.line_.get_ydata(), clf.loss_curve_)
    np.testing.assert_array_equal(
        display.validation_line_.get_ydata(), clf.validation_loss_curve_
    )
    np.testing.assert_array_equal(
        display.score_line_.get_ydata(), clf.validation_scores_
    )
    np.testing.assert_array_equal(
        display.line_.get_xdata(), np.arange(1, clf.n_iter_ + 1)
    )
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["training loss", "validation loss", "validation accuracy"]
    assert display.ax_.get_title() == "ScratchMLPClassifier"


def test_loss_curve_display_without_validation(iris, pyplot):
    X, _ = iris
    reg = ScratchMLPRegressor(max_iter=10, random_state=0).fit(X, X[:, 0])
    _, ax = pyplot.subplots()
    display = LossCurveDisplay.from_estimator(reg, ax=ax, name="mine", color="red")
    assert display.ax_ is ax
    assert display.validation_line_ is None and display.score_line_ is None
    assert display.line_.get_color() == "red"
    assert ax.get_title() == "mine"


def test_loss_curve_display_errors(iris, pyplot, monkeypatch):
    X, y = iris
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(ScratchMLPClassifier())
    lbfgs = ScratchMLPClassifier(solver="lbfgs", max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="needs loss_curve_"):
        LossCurveDisplay.from_estimator(lbfgs)
    adam = ScratchMLPClassifier(max_iter=5).fit(X, y)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        LossCurveDisplay.from_estimator(adam)


def test_loss_curve_display_from_a_pipeline_or_a_search(iris, pyplot):
    X, y = iris
    network = ScratchMLPClassifier((4,), max_iter=8, random_state=0)
    pipeline = make_pipeline(StandardScaler(), network).fit(X, y)
    display = LossCurveDisplay.from_estimator(pipeline)
    np.testing.assert_array_equal(display.line_.get_ydata(), pipeline[-1].loss_curve_)

    grid = {"scratchmlpclassifier__alpha": [1e-4, 1e-1]}
    search = GridSearchCV(make_pipeline(StandardScaler(), network), grid, cv=2)
    search.fit(X, y)
    display = LossCurveDisplay.from_estimator(search)
    best = search.best_estimator_[-1]
    np.testing.assert_array_equal(display.line_.get_ydata(), best.loss_curve_)

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(make_pipeline(StandardScaler(), clone(network)))
    no_refit = GridSearchCV(network, {"alpha": [1e-4, 1e-1]}, cv=2, refit=False)
    with pytest.raises(ValueError, match=r"refit=False \(no best_estimator_\)"):
        LossCurveDisplay.from_estimator(no_refit.fit(X, y))


def test_loss_curve_display_from_scikit_learns_mlp(iris, pyplot):
    # Any estimator with a loss_curve_ draws, scikit-learn's MLP included.
    X, y = iris
    mlp = MLPClassifier((5,), early_stopping=True, max_iter=15, random_state=0)
    pipeline = make_pipeline(StandardScaler(), mlp).fit(X, y)  # fits mlp itself
    display = LossCurveDisplay.from_estimator(pipeline)
    np.testing.assert_array_equal(display.line_.get_ydata(), mlp.loss_curve_)
    np.testing.assert_array_equal(
        display.score_line_.get_ydata(), mlp.validation_scores_
    )
    assert display.validation_line_ is None  # scikit-learn records no such curve
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    assert display.ax_.get_title() == "MLPClassifier"


def test_loss_curve_display_needs_a_loss_curve(iris, pyplot):
    X, y = iris
    with pytest.raises(ValueError, match="LogisticRegression has none"):
        LossCurveDisplay.from_estimator(LogisticRegression().fit(X, y))
    lbfgs = MLPClassifier((5,), solver="lbfgs", max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="solver='lbfgs' and has none"):
        LossCurveDisplay.from_estimator(make_pipeline(lbfgs))
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(make_pipeline(LogisticRegression()))


# -- schedules, weight decay, label smoothing ---------------------------------------
def test_label_smoothing_is_left_out_of_the_monitored_validation_loss(iris):
    X, y = iris
    X = X[:, :2]
    est = ScratchMLPClassifier(scoring="loss", label_smoothing=0.2, **EARLY).fit(X, y)
    X_val, y_val = split_off(est, X, y, 0.3)
    loss = log_loss(y_val, est.predict_proba(X_val))  # against the true labels
    assert est.best_validation_score_ == pytest.approx(-loss, rel=1e-9)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_label_smoothing_fits_the_smoothed_targets(iris, kind):
    # one full batch, one tiny step: the first epoch's loss is the log-loss
    # of the initial network against t (1 - ε) + ε / K, K the classes of a
    # softmax output and 2 for each logistic one
    X, y = iris
    target = {"binary": y == 1, "multiclass": y, "multilabel": np.c_[y == 1, y == 2]}
    epsilon = 0.3
    est = ScratchMLPClassifier(
        (7,), label_smoothing=epsilon, alpha=0.0, batch_size=len(y), max_iter=1,
        learning_rate_init=1e-12, shuffle=False, random_state=0,
    ).fit(X, target[kind])  # fmt: skip
    probabilities = est.predict_proba(X)
    if kind == "multiclass":
        T = np.eye(3)[y] * (1 - epsilon) + epsilon / 3
        expected = -np.mean(np.sum(T * np.log(probabilities), axis=1))
    else:
        labels = np.atleast_2d(target[kind].T).T.astype(float)
        p = probabilities[:, 1:] if kind == "binary" else probabilities
        T = labels * (1 - epsilon) + epsilon / 2
        per_output = T * np.log(p) + (1 - T) * np.log1p(-p)
        expected = -np.mean(per_output.sum(axis=1))
    assert est.loss_curve_[0] == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_keeps_predictions_away_from_certainty(iris):
    X, y = iris
    sharp = ScratchMLPClassifier(solver="lbfgs", max_iter=500, random_state=0)
    smooth = clone(sharp).set_params(label_smoothing=0.2)
    for est in (sharp, smooth):
        est.fit(X, y)
    # the smoothed targets' optimum is 1 - ε + ε / K = 0.8667 at most
    assert sharp.predict_proba(X).max() > 0.99
    assert smooth.predict_proba(X).max() < 0.9


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_schedule_trains_and_ends_near_a_rate_of_zero(iris, solver):
    X, y = iris
    params = {"solver": solver, "max_iter": 40, "tol": 0, "random_state": 0}
    # (no momentum: the last steps then move with the rate alone)
    params.update(learning_rate_init=0.2, momentum=0.0) if solver == "sgd" else None
    params.setdefault("learning_rate_init", 0.01)
    est = ScratchMLPClassifier(
        learning_rate="cosine", warmup_fraction=0.1, **params
    ).fit(X, y)
    assert est.score(X, y) > 0.85
    # the cosine ends at 0: its last epoch hardly moves the loss, where the
    # constant rate's still does
    constant = clone(est).set_params(learning_rate="constant").fit(X, y)
    moves = [abs(e.loss_curve_[-1] - e.loss_curve_[-2]) for e in (est, constant)]
    assert moves[0] < 0.1 * moves[1]


def test_partial_fit_holds_the_schedules_final_value_past_its_horizon(iris):
    # a cosine over max_iter=2 epochs ends at 0: a third partial_fit takes
    # steps of size 0, and Adam's weights stay as they are
    X, y = iris
    est = ScratchMLPClassifier((8,), learning_rate="cosine", max_iter=2)
    est.set_params(random_state=0)
    est.partial_fit(X, y, classes=[0, 1, 2])
    est.partial_fit(X, y)
    before = est._params.copy()
    est.partial_fit(X, y)
    np.testing.assert_array_equal(est._params, before)


def test_a_schedule_that_runs_to_its_horizon_does_not_warn(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ScratchMLPClassifier((8,), learning_rate="cosine", max_iter=3).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        ScratchMLPClassifier((8,), max_iter=3).fit(X, y)


def test_warm_start_restarts_the_schedule(iris):
    X, y = iris
    est = ScratchMLPClassifier(
        (8,), learning_rate="cosine", warm_start=True, max_iter=5, random_state=0
    ).fit(X, y)
    assert est._optimizer.epochs_done == 5
    est.fit(X, y)  # a new horizon of max_iter epochs, from its start
    assert est._optimizer.epochs_done == 5


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_weight_decay_shrinks_the_weights_and_spares_the_biases(iris, solver):
    X, y = iris
    params = {"solver": solver, "alpha": 0.0, "max_iter": 30, "random_state": 0}
    params["batch_size"] = 10  # 450 steps, each shrinking the weights by η λ
    plain = ScratchMLPClassifier((16,), **params).fit(X, y)
    decayed = ScratchMLPClassifier((16,), weight_decay=1.0, **params).fit(X, y)
    norm = [sum(float((w**2).sum()) for w in est.coefs_) for est in (plain, decayed)]
    assert norm[1] < 0.9 * norm[0]
    # the first layer's biases only feel the decay through the weights
    assert not np.array_equal(plain.intercepts_[0], decayed.intercepts_[0])


def test_lbfgs_ignores_the_stochastic_solvers_controls(iris):
    X, y = iris
    plain = ScratchMLPClassifier((8,), solver="lbfgs", max_iter=30, random_state=0)
    controlled = clone(plain).set_params(
        learning_rate="cosine", warmup_fraction=0.2, weight_decay=0.5
    )
    for est in (plain, controlled):
        est.fit(X, y)
    np.testing.assert_array_equal(plain._params, controlled._params)


@pytest.mark.parametrize(
    "extra",
    [{"warmup_fraction": 0.3}, {"weight_decay": 0.0}, {"label_smoothing": 0.0}],
    ids=str,
)
def test_the_new_controls_at_their_defaults_change_nothing(iris, extra):
    X, y = iris
    plain = ScratchMLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    # a warm-up is only read by the schedules that warm up
    same = ScratchMLPClassifier((8,), max_iter=5, random_state=0, **extra).fit(X, y)
    np.testing.assert_array_equal(plain._params, same._params)
