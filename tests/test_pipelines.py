"""Both estimators inside scikit-learn's tools, as users run them.

Every test runs for the classifier and for the regressor: ``clone``, nested
``get_params``/``set_params``, ``GridSearchCV`` serially, in threads and in
worker processes, ``RandomizedSearchCV`` over a continuous distribution and
``cross_val_score``, and a validation set routed to the network through a
pipeline and a search. (Callbacks in a pipeline and a search: test_callbacks.py; a saved
pipeline: test_persistence.py; a search on a Dask cluster:
test_distributed.py.)
"""

import joblib
import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

# Every network here trains for a few epochs only, to keep the file fast; not
# converging is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SETTINGS = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)


def classification_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=0
    )


def regression_data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=120, n_features=6, noise=5.0, random_state=0)
    return X, (y - y.mean()) / y.std()


# (our estimator, scikit-learn's, data)
CASES = {
    "classifier": (ScratchMLPClassifier, MLPClassifier, classification_data),
    "regressor": (ScratchMLPRegressor, MLPRegressor, regression_data),
}


@pytest.fixture(params=list(CASES))
def case(request):
    return CASES[request.param]


def make_pipeline(estimator_class, **params) -> Pipeline:
    settings = {**SETTINGS, **params}
    return Pipeline([("scale", StandardScaler()), ("mlp", estimator_class(**settings))])


def outputs(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    """predict_proba for a classifier, predict for a regressor."""
    if hasattr(pipeline, "predict_proba"):
        return pipeline.predict_proba(X)
    return pipeline.predict(X)


def test_clone_gives_an_unfitted_copy_that_refits_identically(case):
    estimator_class, _, data = case
    X, y = data()
    pipeline = make_pipeline(estimator_class, alpha=0.01, activation="tanh").fit(X, y)

    copy = clone(pipeline)
    assert copy.get_params()["mlp__alpha"] == 0.01
    assert copy.get_params()["mlp__activation"] == "tanh"
    assert copy.named_steps["mlp"] is not pipeline.named_steps["mlp"]
    assert not hasattr(copy.named_steps["mlp"], "coefs_")
    # Same parameters and random_state: the refit is the same network.
    assert_array_equal(outputs(copy.fit(X, y), X), outputs(pipeline, X))


def test_nested_params_reach_the_network(case):
    estimator_class, theirs, data = case
    X, y = data()
    pipeline = make_pipeline(estimator_class)

    # every scikit-learn MLP parameter is reachable as mlp__<name>
    params = pipeline.get_params()
    for name, value in theirs().get_params().items():
        assert f"mlp__{name}" in params
        if name not in SETTINGS:
            assert params[f"mlp__{name}"] == value

    pipeline.set_params(mlp__hidden_layer_sizes=(5, 3), mlp__activation="tanh")
    assert pipeline.named_steps["mlp"].hidden_layer_sizes == (5, 3)
    mlp = pipeline.fit(X, y).named_steps["mlp"]
    n_outputs = 3 if estimator_class is ScratchMLPClassifier else 1
    assert [c.shape for c in mlp.coefs_] == [(6, 5), (5, 3), (3, n_outputs)]
    assert mlp.activation == "tanh"

    # no hidden layer: the inputs feed the output layer directly
    pipeline.set_params(mlp__hidden_layer_sizes=())
    mlp = pipeline.fit(X, y).named_steps["mlp"]
    assert [c.shape for c in mlp.coefs_] == [(6, n_outputs)]


def test_params_nested_two_levels_deep():
    X, y = regression_data()
    model = TransformedTargetRegressor(
        regressor=make_pipeline(ScratchMLPRegressor), transformer=StandardScaler()
    )
    model.set_params(regressor__mlp__hidden_layer_sizes=(4,))
    assert model.get_params()["regressor__mlp__hidden_layer_sizes"] == (4,)
    model.fit(X, 100 * y + 50)  # the transformer undoes the shift and scale
    assert model.regressor_.named_steps["mlp"].coefs_[0].shape == (6, 4)
    assert model.predict(X).shape == (len(X),)


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_grid_search_in_threads_and_processes_matches_serial(case, solver):
    estimator_class, _, data = case
    X, y = data()
    grid = {"mlp__hidden_layer_sizes": [(4,), (8,)], "mlp__alpha": [1e-4, 1.0]}
    searches = {}
    # n_jobs=2 in threads, and in loky's worker processes
    for backend, n_jobs in [("sequential", 1), ("threading", 2), ("loky", 2)]:
        search = GridSearchCV(
            make_pipeline(estimator_class, solver=solver), grid, cv=3, n_jobs=n_jobs
        )
        with joblib.parallel_config(backend=backend):
            searches[backend] = search.fit(X, y)
    serial = searches["sequential"]
    assert len(serial.cv_results_["params"]) == 4
    for backend in ("threading", "loky"):
        parallel = searches[backend]
        assert_array_equal(
            parallel.cv_results_["mean_test_score"],
            serial.cv_results_["mean_test_score"],
        )
        assert parallel.best_params_ == serial.best_params_
        # the refitted best pipeline is the same in both
        assert_allclose(outputs(parallel, X), outputs(serial, X), rtol=1e-10)


def test_randomized_search_over_a_log_uniform_learning_rate(case):
    estimator_class, _, data = case
    X, y = data()
    search = RandomizedSearchCV(
        make_pipeline(estimator_class),
        {"mlp__learning_rate_init": loguniform(1e-4, 1e-1)},
        n_iter=4,
        cv=3,
        random_state=0,
    ).fit(X, y)

    rates = [p["mlp__learning_rate_init"] for p in search.cv_results_["params"]]
    assert len(set(rates)) == 4
    assert all(1e-4 <= rate <= 1e-1 for rate in rates)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best_rate = search.best_params_["mlp__learning_rate_init"]
    best_mlp = search.best_estimator_.named_steps["mlp"]
    assert best_mlp.learning_rate_init == best_rate
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])
    assert search.predict(X).shape == (len(X),)


def test_cross_val_score_matches_scikit_learns_mlp(case):
    estimator_class, theirs, data = case
    X, y = data()
    # a learning rate high enough for 30 epochs to learn something worth scoring
    rate = 0.05
    ours = cross_val_score(
        make_pipeline(estimator_class, learning_rate_init=rate), X, y
    )
    reference = cross_val_score(make_pipeline(theirs, learning_rate_init=rate), X, y)
    assert ours.shape == (5,)
    assert ours.mean() > 0.6  # accuracy or R², far above chance
    # Same random draws and the same steps: the same scores, up to rounding.
    assert_allclose(ours, reference, rtol=1e-6, atol=1e-9)


def test_a_validation_set_is_routed_through_a_pipeline_and_a_search(case):
    estimator_class, _, data = case
    X, y = data()
    X = 10 * X + 3  # so that scaling it or not makes a difference
    X_train, y_train, X_val, y_val = X[:90], y[:90], X[90:], y[90:]
    settings = {**SETTINGS, "early_stopping": True}

    def by_hand(**params):
        # the network on the scaled data, validated on the scaled X_val
        scale = StandardScaler().fit(X_train)
        network = estimator_class(**settings, **params)
        return network.fit(
            scale.transform(X_train), y_train, X_val=scale.transform(X_val), y_val=y_val
        )

    with sklearn.config_context(enable_metadata_routing=True):
        network = estimator_class(**settings).set_fit_request(X_val=True, y_val=True)
        pipeline = Pipeline(
            [("scale", StandardScaler()), ("mlp", network)], transform_input=["X_val"]
        )
        pipeline.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        assert pipeline["mlp"].validation_scores_ == by_hand().validation_scores_

        # X_val has not as many rows as X, so the search passes it whole to
        # every fit (see docs/beyond.md for the other case)
        search = GridSearchCV(pipeline, {"mlp__alpha": [1e-4, 1.0]}, cv=3)
        search.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        best = by_hand(alpha=search.best_params_["mlp__alpha"])
        assert search.best_estimator_["mlp"].validation_scores_ == (
            best.validation_scores_
        )
