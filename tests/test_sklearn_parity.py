"""Drop-in parity with scikit-learn's MLP: parameters, attributes and weights.

With the same random_state our estimators make the same random draws as
scikit-learn's (initial weights, shuffling, validation split), and the engine
computes the same mathematics, so sgd and adam end at the same weights up to
rounding; lbfgs follows the same iterates for its first iterations, after which
rounding differences grow (long runs are compared by the quality reached).
"""

import inspect

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import SKLEARN_TWIN, assert_same_weights
from sklearn.datasets import make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]

PAIRS = list(SKLEARN_TWIN.items())


# Our additions, after scikit-learn's parameters, with defaults that change nothing.
EMBEDDING = [
    ("embedding", None),
    ("embedding_columns", None),
    ("embedding_size", 16),
    ("embedding_scale", 0.1),
    ("n_members", 1),
]
EXTRA_PARAMETERS = {
    ScratchMLPClassifier: [
        ("class_weight", None),
        ("dropout", 0.0),
        ("scoring", None),
        ("warmup_fraction", 0.0),
        ("weight_decay", 0.0),
        ("label_smoothing", 0.0),
        *EMBEDDING,
    ],
    ScratchMLPRegressor: [
        ("dropout", 0.0),
        ("huber_delta", 1.0),
        ("quantile", None),
        ("scoring", None),
        ("warmup_fraction", 0.0),
        ("weight_decay", 0.0),
        *EMBEDDING,
        ("normalize_y", False),
    ],
}


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_constructor_signature_is_scikit_learns(ours, theirs):
    ours_params = list(inspect.signature(ours.__init__).parameters.values())
    theirs_params = list(inspect.signature(theirs.__init__).parameters.values())
    described = [(p.name, p.default, p.kind) for p in ours_params]
    n_theirs = len(theirs_params)
    assert described[:n_theirs] == [(p.name, p.default, p.kind) for p in theirs_params]
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    assert described[n_theirs:] == [
        (name, default, keyword_only) for name, default in EXTRA_PARAMETERS[ours]
    ]


def public_fitted_attributes(estimator) -> set[str]:
    return {k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")}


def regression(n_targets=1):
    X, y = make_regression(200, 5, n_targets=n_targets, noise=1.0, random_state=0)
    return StandardScaler().fit_transform(X), y / 100


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_same_fitted_attributes(iris, ours, theirs, solver, early_stopping):
    X, y = iris
    if ours is ScratchMLPRegressor:
        y = y.astype(float)
    params = dict(solver=solver, early_stopping=early_stopping, max_iter=5)
    a = ours(**params, random_state=0).fit(X, y)
    b = theirs(**params, random_state=0).fit(X, y)
    # scikit-learn's attributes, plus the validation loss curve we also record
    extra = {"validation_loss_curve_"} if solver != "lbfgs" else set()
    assert public_fitted_attributes(a) == public_fitted_attributes(b) | extra
    for name in ["n_layers_", "n_outputs_", "out_activation_", "n_features_in_", "t_"]:
        assert getattr(a, name) == getattr(b, name), name
    for name in ["best_loss_", "validation_scores_", "best_validation_score_"]:
        if hasattr(b, name):
            assert (getattr(a, name) is None) == (getattr(b, name) is None), name


# How close ours and scikit-learn's weights are: equal up to rounding.
PARITY = dict(rtol=1e-7, atol=1e-10)


STOCHASTIC_SETTINGS = [
    dict(solver="adam"),
    dict(solver="adam", hidden_layer_sizes=()),
    dict(solver="adam", hidden_layer_sizes=(6, 5), activation="logistic", batch_size=7),
    dict(solver="sgd", learning_rate="invscaling", activation="tanh"),
    dict(solver="sgd", learning_rate="adaptive", nesterovs_momentum=False),
    dict(solver="sgd", shuffle=False, momentum=0.0, activation="identity"),
    dict(solver="adam", alpha=0.5, n_iter_no_change=2, tol=1e-2),
]


@pytest.mark.parametrize("settings", STOCHASTIC_SETTINGS, ids=str)
def test_classifier_weights_match_scikit_learn(iris, settings):
    X, y = iris
    for target in [y, y == 1]:  # multiclass (softmax) and binary (logistic)
        a = ScratchMLPClassifier(random_state=1, max_iter=30, **settings).fit(X, target)
        b = MLPClassifier(random_state=1, max_iter=30, **settings).fit(X, target)
        assert a.n_iter_ == b.n_iter_
        assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-9)
        assert_same_weights(a, b, **PARITY)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("settings", STOCHASTIC_SETTINGS, ids=str)
def test_regressor_weights_match_scikit_learn(settings):
    X, y = regression()
    a = ScratchMLPRegressor(random_state=1, max_iter=30, **settings).fit(X, y)
    b = MLPRegressor(random_state=1, max_iter=30, **settings).fit(X, y)
    assert a.n_iter_ == b.n_iter_
    assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-9)
    assert_same_weights(a, b, **PARITY)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-8, atol=1e-10)


def test_multilabel_and_poisson_match_scikit_learn():
    X, Y = make_multilabel_classification(150, 6, n_classes=4, random_state=0)
    a = ScratchMLPClassifier(random_state=0, max_iter=20).fit(X, Y)
    b = MLPClassifier(random_state=0, max_iter=20).fit(X, Y)
    assert_same_weights(a, b, **PARITY)
    assert a.out_activation_ == b.out_activation_ == "logistic"

    X, y = regression()
    counts = np.abs(y)
    a = ScratchMLPRegressor(loss="poisson", random_state=0, max_iter=20).fit(X, counts)
    b = MLPRegressor(loss="poisson", random_state=0, max_iter=20).fit(X, counts)
    assert_same_weights(a, b, **PARITY)
    assert a.out_activation_ == b.out_activation_ == "exp"


def test_sample_weight_float32_and_sparse_match_scikit_learn(iris):
    X, y = iris
    weights = np.random.RandomState(0).uniform(0, 2, len(y))
    a = ScratchMLPClassifier(random_state=0, max_iter=20).fit(
        X, y, sample_weight=weights
    )
    b = MLPClassifier(random_state=0, max_iter=20).fit(X, y, sample_weight=weights)
    assert_same_weights(a, b, **PARITY)

    X32 = X.astype(np.float32)
    a = ScratchMLPClassifier(random_state=0, max_iter=20).fit(X32, y)
    b = MLPClassifier(random_state=0, max_iter=20).fit(X32, y)
    assert_same_weights(a, b, rtol=1e-4, atol=1e-5)

    a = ScratchMLPClassifier(random_state=0, max_iter=20).fit(sp.csr_matrix(X), y)
    b = MLPClassifier(random_state=0, max_iter=20).fit(sp.csr_matrix(X), y)
    assert_same_weights(a, b, **PARITY)


def test_early_stopping_matches_scikit_learn_for_binary_targets(iris):
    # scikit-learn stratifies the validation split for binary targets only; we
    # stratify every single-output classification, so compare on binary ones.
    X, y = iris
    params = dict(early_stopping=True, random_state=3, max_iter=100)
    a = ScratchMLPClassifier(**params).fit(X, y == 2)
    b = MLPClassifier(**params).fit(X, y == 2)
    assert a.validation_scores_ == pytest.approx(b.validation_scores_)
    assert a.best_validation_score_ == pytest.approx(b.best_validation_score_)
    assert_same_weights(a, b, **PARITY)

    X, y = regression()
    a = ScratchMLPRegressor(**params).fit(X, y)
    b = MLPRegressor(**params).fit(X, y)
    assert a.validation_scores_ == pytest.approx(b.validation_scores_)
    assert_same_weights(a, b, **PARITY)


def test_warm_start_and_partial_fit_match_scikit_learn(iris):
    X, y = iris
    a = ScratchMLPClassifier(random_state=0, max_iter=10, warm_start=True)
    b = MLPClassifier(random_state=0, max_iter=10, warm_start=True)
    for _ in range(3):
        a.fit(X, y)
        b.fit(X, y)
    assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-9)
    assert_same_weights(a, b, **PARITY)

    a = ScratchMLPRegressor(random_state=0, solver="sgd")
    b = MLPRegressor(random_state=0, solver="sgd")
    Xr, yr = regression()
    for start in range(0, 200, 50):
        a.partial_fit(Xr[start : start + 50], yr[start : start + 50])
        b.partial_fit(Xr[start : start + 50], yr[start : start + 50])
    assert a.t_ == b.t_ == 200
    assert_same_weights(a, b, **PARITY)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_lbfgs_follows_scikit_learns_path(iris, activation):
    """Early iterates agree closely; L-BFGS on a non-convex loss then amplifies
    rounding differences, so long runs are compared by the quality reached."""
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), activation=activation, solver="lbfgs")
    a = ScratchMLPClassifier(**params, max_iter=10, random_state=0).fit(X, y)
    b = MLPClassifier(**params, max_iter=10, random_state=0).fit(X, y)
    assert_same_weights(a, b, rtol=1e-5, atol=1e-7)

    a = ScratchMLPClassifier(**params, alpha=0.01, max_iter=1000, random_state=0)
    b = MLPClassifier(**params, alpha=0.01, max_iter=1000, random_state=0)
    a.fit(X, y)
    b.fit(X, y)
    assert a.loss_ == pytest.approx(b.loss_, rel=0.1)
    assert a.score(X, y) == pytest.approx(b.score(X, y), abs=0.02)

    X, y = regression()
    a = ScratchMLPRegressor(**params, max_iter=10, random_state=0).fit(X, y)
    b = MLPRegressor(**params, max_iter=10, random_state=0).fit(X, y)
    assert_same_weights(a, b, rtol=1e-5, atol=1e-7)


def test_multi_output_regression_loss_is_summed_over_outputs():
    """Same weights as scikit-learn; loss_ is the sum over outputs, not the mean."""
    X, Y = regression(n_targets=3)
    a = ScratchMLPRegressor(random_state=0, max_iter=15, tol=0).fit(X, Y)
    b = MLPRegressor(random_state=0, max_iter=15, tol=0).fit(X, Y)
    assert_same_weights(a, b, **PARITY)
    penalty = 0.5 * 1e-4 * sum((c**2).sum() for c in a.coefs_) / len(X)
    residual = Y - a.predict(X)
    # the last epoch's loss is the average of batch losses over the epoch; at
    # the end of training it is close to the loss at the final weights
    final_loss = 0.5 * (residual**2).sum(axis=1).mean() + penalty
    assert a.loss_ == pytest.approx(final_loss, rel=0.1)
    assert a.loss_ > 2 * b.loss_
