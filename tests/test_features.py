"""What each option beyond scikit-learn's MLP does: class weights, the
validation loss curve, dropout and LossCurveDisplay. (Their bad values:
test_bad_input.py; check_gradients: test_gradients.py; the new activations and
losses are table entries, tested wherever the tables are.)"""

import copy

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
from sklearn.metrics import balanced_accuracy_score, log_loss
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
