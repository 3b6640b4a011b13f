"""What training does: solvers' options and schedules, stopping rules, early
stopping, warm start and partial_fit (continuing after changed settings),
verbose output and warnings, reproducibility. (A call that fails or diverges:
test_failures.py; what is refused: test_bad_input.py.)"""

import re
import warnings

import numpy as np
import pytest
from helpers import weights_of
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

# tests that look for a ConvergenceWarning catch it themselves
pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_partial_fit_over_the_data_is_one_epoch_of_fit(iris, solver, estimator_class):
    X, y = iris
    if estimator_class is ScratchMLPRegressor:
        y = y.astype(float)
    params = dict(solver=solver, shuffle=False, random_state=0, batch_size=32)
    fitted = estimator_class(**params, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(X, y)
    incremental = estimator_class(**params)
    extra = {"classes": np.unique(y)} if estimator_class is ScratchMLPClassifier else {}
    incremental.partial_fit(X, y, **extra)
    for a, b in zip(weights_of(fitted), weights_of(incremental), strict=True):
        np.testing.assert_array_equal(a, b)
    assert incremental.n_iter_ == fitted.n_iter_ == 1
    assert incremental.t_ == fitted.t_ == len(X)
    assert incremental.loss_ == fitted.loss_

    # three more calls continue the optimizer: the same as three more epochs
    longer = estimator_class(**params, max_iter=4, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        longer.fit(X, y)
    for _ in range(3):
        incremental.partial_fit(X, y)
    for a, b in zip(weights_of(longer), weights_of(incremental), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert incremental.loss_curve_ == pytest.approx(longer.loss_curve_)


def test_partial_fit_streams_batches_with_unseen_classes(iris):
    X, y = iris
    clf = ScratchMLPClassifier(random_state=0)
    order = np.argsort(y, kind="stable")  # first batch holds only class 0
    for start in range(0, 150, 50):
        batch = order[start : start + 50]
        clf.partial_fit(X[batch], y[batch], classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.predict_proba(X).shape == (150, 3)


def test_verbose_prints_the_loss_at_every_iteration(iris, capsys):
    X, y = iris
    for solver in ["adam", "lbfgs"]:
        clf = ScratchMLPClassifier(
            solver=solver, max_iter=7, verbose=True, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        lines = re.findall(
            r"Iteration (\d+), loss = ([0-9.]+)", capsys.readouterr().out
        )
        assert [int(i) for i, _ in lines] == list(range(1, clf.n_iter_ + 1))
        if solver == "adam":
            assert [float(v) for _, v in lines] == pytest.approx(clf.loss_curve_)
        else:
            assert float(lines[-1][1]) == pytest.approx(clf.loss_)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_convergence_warning_when_max_iter_ends_training(iris, solver):
    X, y = iris
    with pytest.warns(ConvergenceWarning):
        ScratchMLPClassifier(solver=solver, max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ScratchMLPClassifier(
            solver=solver, max_iter=2000, learning_rate_init=0.01, random_state=0
        ).fit(X, y)


def test_tol_and_n_iter_no_change_stop_training(iris):
    X, y = iris
    clf = ScratchMLPClassifier(tol=10.0, n_iter_no_change=3, random_state=0).fit(X, y)
    # No epoch improves the loss by 10. The first sets best_loss_; training
    # stops once more than n_iter_no_change epochs in a row have not improved.
    assert clf.n_iter_ == 1 + 3 + 1
    patient = ScratchMLPClassifier(tol=10.0, n_iter_no_change=6, random_state=0)
    assert patient.fit(X, y).n_iter_ == 1 + 6 + 1


def test_adaptive_learning_rate_divides_by_five(iris):
    X, y = iris
    clf = ScratchMLPClassifier(
        solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=2,
        max_iter=10, learning_rate_init=0.1, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    # stalls every 3 epochs: 0.1 -> 0.02 -> 0.004 -> 0.0008 after 9 epochs
    assert clf.n_iter_ == 10
    assert clf._optimizer.learning_rate == pytest.approx(0.1 / 5**3)


def test_invscaling_schedule(iris):
    X, y = iris
    clf = ScratchMLPClassifier(
        solver="sgd", learning_rate="invscaling", power_t=0.5, max_iter=3,
        learning_rate_init=0.2, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf._optimizer.learning_rate == pytest.approx(0.2 / (3 * 150 + 1) ** 0.5)


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_early_stopping_keeps_the_best_weights(iris, estimator_class):
    X, y = iris
    X = X[:, :2]  # sepals only: a noisy problem whose validation score wobbles
    if estimator_class is ScratchMLPRegressor:
        y = y.astype(float)
    est = estimator_class(
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=5,
        learning_rate_init=0.05, max_iter=300, random_state=0,
    )  # fmt: skip
    est.fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ == len(est.loss_curve_)
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.validation_scores_[-1] < est.best_validation_score_  # it did stop
    # The returned weights are those of the best epoch, not the last. Rebuild
    # the validation split: the seed's RandomState first draws the initial
    # weights and biases layer by layer, then splits.
    rng = np.random.RandomState(0)
    for coef, intercept in zip(est.coefs_, est.intercepts_, strict=True):
        rng.uniform(size=coef.shape)
        rng.uniform(size=intercept.shape)
    stratify = y if estimator_class is ScratchMLPClassifier else None
    _, X_val, _, y_val = train_test_split(
        X, y, test_size=0.2, random_state=rng, stratify=stratify
    )
    assert est.score(X_val, y_val) == pytest.approx(est.best_validation_score_)


def test_warnings_are_attributed_to_the_package(iris):
    """A module filter silences them, as module="sklearn" does scikit-learn's."""
    X, y = iris
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings(
            "ignore", category=ConvergenceWarning, module="sknn_scratch"
        )
        ScratchMLPClassifier(max_iter=2, random_state=0).fit(X, y)
        ScratchMLPClassifier(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
        ScratchMLPRegressor(batch_size=500, max_iter=1).partial_fit(X, X[:, 0])
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    clipped = [w for w in caught if "batch_size" in str(w.message)]
    assert len(clipped) == 1
    assert re.search(r"sknn_scratch([/\\]_\w+)+\.py$", clipped[0].filename)


def test_early_stopping_splits_at_random_when_it_cannot_stratify(iris):
    # (a validation set too small for any split: test_bad_input.py)
    X, y = iris
    # 2 validation samples cannot hold one sample of each of 3 classes: a
    # random split, as scikit-learn's for multiclass targets
    clf = ScratchMLPClassifier(
        early_stopping=True, validation_fraction=0.013, max_iter=3, random_state=0
    ).fit(X, y)
    assert len(clf.validation_scores_) == 3
    assert set(clf.validation_scores_) <= {0.0, 0.5, 1.0}  # 2 samples scored


def test_warm_start_continues_and_fresh_fit_restarts(iris):
    X, y = iris
    clf = ScratchMLPClassifier(max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first = weights_of(clf)
        clf.fit(X, y)
    assert len(clf.loss_curve_) == 10
    assert clf.t_ == 10 * len(X)
    assert not np.allclose(first[0], clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])
    clf.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="layer shapes"):
        clf.fit(X, y)

    cold = ScratchMLPClassifier(max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X, y)
        cold.fit(X, y)
    assert len(cold.loss_curve_) == 5
    for a, b in zip(first, weights_of(cold), strict=True):
        np.testing.assert_array_equal(a, b)


def test_several_quantiles_continue_with_the_same_quantiles_only(iris):
    X, _ = iris
    X, y = X[:, 1:], X[:, 0]
    params = dict(loss="quantile", max_iter=5, random_state=0)
    regressor = ScratchMLPRegressor(quantile=[0.1, 0.9], warm_start=True, **params)
    regressor.fit(X, y).fit(X, y)
    regressor.partial_fit(X, y)
    assert len(regressor.loss_curve_) == 11  # five epochs, five more, and one
    assert regressor.predict(X).shape == (len(X), 2)
    fitted = weights_of(regressor)
    for quantile in ([0.2, 0.9], [0.1, 0.5, 0.9], 0.5):
        regressor.set_params(quantile=quantile)
        for method in (regressor.fit, regressor.partial_fit):
            with pytest.raises(ValueError, match=r"predict the quantiles \[0.1, 0.9\]"):
                method(X, y)
    regressor.set_params(loss="squared_error")
    with pytest.raises(ValueError, match="other outputs"):
        regressor.fit(X, y)
    for a, b in zip(fitted, weights_of(regressor), strict=True):
        np.testing.assert_array_equal(a, b)  # the refused calls changed nothing
    # a network whose outputs are no quantiles may become one, when its shape
    # fits: a float quantile's network continues as a sequence of that one
    one = ScratchMLPRegressor(quantile=0.3, warm_start=True, **params).fit(X, y)
    assert one.predict(X).shape == (len(X),)
    one.set_params(quantile=[0.3]).fit(X, y)
    assert one.predict(X).shape == (len(X), 1)
    assert len(one.loss_curve_) == 10
    # and refitting from scratch takes any quantiles
    regressor.set_params(warm_start=False, loss="quantile", quantile=[0.5]).fit(X, y)
    assert regressor.predict(X).shape == (len(X), 1)


def test_no_hidden_layer_is_a_linear_model(iris):
    X, y = iris
    clf = ScratchMLPClassifier(hidden_layer_sizes=(), solver="lbfgs", random_state=0)
    clf.fit(X, y)
    assert clf.n_layers_ == 2
    assert [c.shape for c in clf.coefs_] == [(4, 3)]
    logits = X @ clf.coefs_[0] + clf.intercepts_[0]
    np.testing.assert_array_equal(clf.predict(X), logits.argmax(axis=1))
    assert clf.score(X, y) > 0.95


def test_continuing_after_a_change_of_solver_or_early_stopping(iris):
    X, y = iris
    clf = ScratchMLPClassifier(solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    assert not hasattr(clf, "loss_curve_")
    clf.set_params(solver="adam")
    clf.partial_fit(X, y)
    assert len(clf.loss_curve_) == 1 and clf.best_loss_ == clf.loss_curve_[0]

    early = ScratchMLPClassifier(early_stopping=True, max_iter=5, random_state=0)
    early.fit(X, y)
    early.set_params(early_stopping=False)
    early.partial_fit(X, y)
    assert early.validation_scores_ is None and np.isfinite(early.best_loss_)

    # a fresh lbfgs fit drops the curves an earlier adam fit left behind
    early.set_params(solver="lbfgs").fit(X, y)
    for name in ["loss_curve_", "validation_scores_", "best_loss_"]:
        assert not hasattr(early, name)


def test_training_continues_in_its_first_precision(iris):
    X, y = iris
    clf = ScratchMLPClassifier(random_state=0)
    for chunk in [X, X.astype(np.float32), X]:
        clf.partial_fit(chunk, y, classes=[0, 1, 2])
    assert clf.coefs_[0].dtype == np.float64
    assert clf._optimizer.t == 3  # one Adam step per call, never restarted


def test_partial_fit_trains_the_fitted_arrays_in_place(iris):
    X, y = iris
    clf = ScratchMLPClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    first_layer = clf.coefs_[0]
    before = first_layer.copy()
    clf.partial_fit(X, y)
    assert clf.coefs_[0] is first_layer or np.shares_memory(clf.coefs_[0], first_layer)
    assert not np.array_equal(first_layer, before)  # as in scikit-learn
    # replaced weights are taken over (copied into a new parameter vector)
    clf.coefs_ = [c * 0.5 for c in clf.coefs_]
    clf.partial_fit(X, y)
    assert clf.coefs_[0].shape == first_layer.shape


def test_multilabel_partial_fit_classes_are_the_columns(iris):
    X, y = iris
    Y = np.c_[y == 0, y == 1, y == 2].astype(int)
    clf = ScratchMLPClassifier()
    with pytest.raises(ValueError, match=r"column indices 0\.\.2"):
        clf.partial_fit(X, Y, classes=[0, 1])
    clf.partial_fit(X, Y, classes=[0, 1, 2])
    clf.partial_fit(X, Y, classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2]


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_same_seed_gives_identical_weights(iris, estimator_class):
    X, y = iris
    for solver in ["adam", "sgd", "lbfgs"]:
        a = estimator_class(solver=solver, max_iter=30, random_state=42)
        b = estimator_class(solver=solver, max_iter=30, random_state=42)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a.fit(X, y)
            b.fit(X, y)
        for wa, wb in zip(weights_of(a), weights_of(b), strict=True):
            np.testing.assert_array_equal(wa, wb)
