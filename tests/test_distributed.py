"""The estimators on a Dask cluster.

- joblib's Dask backend runs a ``GridSearchCV`` on a ``LocalCluster`` of two
  worker processes (loopback only), with the same fold scores as in-process;
- dask-ml's ``Incremental`` trains on a chunked dask array: to an accuracy (or
  R²) close to ``fit`` on the same data, and to exactly the weights of a local
  ``partial_fit`` loop over the same blocks in the same order (so an estimator
  pickled between workers mid-training loses none of its optimizer state).

(Out-of-core training without Dask, over a ``numpy.memmap``: test_memory.py.)

The whole module is skipped unless the ``distributed`` extra is installed.
"""

import re
from collections.abc import Iterator

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

INSTALL = 'needs the distributed extra: pip install ".[distributed]"'
distributed = pytest.importorskip("distributed", reason=INSTALL)
pytest.importorskip("dask_ml", reason=INSTALL)

import dask.array as da  # noqa: E402  (after the skip: dask may be missing)
from dask_ml.wrappers import Incremental  # noqa: E402


@pytest.fixture(scope="module")
def client(local_cluster) -> Iterator["distributed.Client"]:
    """A Client on the session's LocalCluster of 2 worker processes."""
    client = distributed.Client(local_cluster)
    try:
        yield client
    finally:
        client.close()


# -- GridSearchCV through joblib's Dask backend -----------------------------------


def classification_search() -> tuple[GridSearchCV, np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=300, n_features=10, n_informative=6, n_classes=3, random_state=0
    )
    model = make_pipeline(
        StandardScaler(), ScratchMLPClassifier(max_iter=2000, random_state=0)
    )
    grid = {
        "scratchmlpclassifier__hidden_layer_sizes": [(4,), (16,)],
        "scratchmlpclassifier__learning_rate_init": [1e-2, 3e-2],
    }
    return GridSearchCV(model, grid, cv=3), X, y


def regression_search() -> tuple[GridSearchCV, np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=300, n_features=8, noise=10.0, random_state=0)
    model = make_pipeline(
        StandardScaler(), ScratchMLPRegressor(max_iter=800, random_state=0)
    )
    grid = {
        "scratchmlpregressor__hidden_layer_sizes": [(8,), (16,)],
        "scratchmlpregressor__learning_rate_init": [1e-2, 3e-2],
    }
    return GridSearchCV(model, grid, cv=3), X, y / y.std()


def fold_scores(search: GridSearchCV) -> np.ndarray:
    results = search.cv_results_
    return np.column_stack(
        [results[f"split{k}_test_score"] for k in range(search.n_splits_)]
    )


@pytest.mark.slow
@pytest.mark.parametrize("make_search", [classification_search, regression_search])
def test_grid_search_on_dask_matches_local(client, make_search):
    local, X, y = make_search()
    local.set_params(n_jobs=1).fit(X, y)

    on_dask, _, _ = make_search()
    on_dask.set_params(n_jobs=-1)
    with distributed.get_task_stream(client) as stream, parallel_config("dask"):
        on_dask.fit(X, y)

    # The fits ran as tasks on the cluster: every (setting, fold) pair, on
    # both workers.
    n_fits = len(local.cv_results_["params"]) * local.n_splits_
    calls = [
        re.search(r"_fit_and_score_(\d+)_calls", task["key"]) for task in stream.data
    ]
    assert sum(int(call.group(1)) for call in calls if call) == n_fits
    assert {task["worker"] for task in stream.data} == set(client.nthreads())

    # ... and computed what they compute in this process.
    np.testing.assert_allclose(
        fold_scores(on_dask), fold_scores(local), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-12,
    )
    assert on_dask.best_params_ == local.best_params_
    # a search that learned something (not all settings equally bad)
    assert local.best_score_ > 0.7


# -- dask-ml's Incremental ---------------------------------------------------------


def dask_pair(X: np.ndarray, y: np.ndarray, block_rows: int):
    return (
        da.from_array(X, chunks=(block_rows, X.shape[1])),
        da.from_array(y, chunks=block_rows),
    )


@pytest.mark.slow
def test_incremental_classifier_close_to_fit(client):
    X, y = make_classification(
        n_samples=3000, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    X_blocks, y_blocks = dask_pair(X_train, y_train, 450)
    X_test_blocks, y_test_blocks = dask_pair(X_test, y_test, 250)
    params = {
        "hidden_layer_sizes": (32,),
        "learning_rate_init": 3e-3,
        "random_state": 0,
    }

    fitted = ScratchMLPClassifier(max_iter=1000, **params).fit(X_train, y_train)
    fit_accuracy = fitted.score(X_test, y_test)

    incremental = Incremental(
        ScratchMLPClassifier(**params), scoring="accuracy", random_state=0
    )
    for _ in range(30):
        incremental.partial_fit(X_blocks, y_blocks, classes=np.unique(y))
    model = incremental.estimator_
    # one epoch of Adam per block and pass, as partial_fit counts them
    assert len(model.loss_curve_) == 30 * X_blocks.numblocks[0]
    assert model.t_ == 30 * len(X_train)
    # scored on the cluster, block by block, as it is in memory
    accuracy = incremental.score(X_test_blocks, y_test_blocks)
    assert accuracy == pytest.approx(model.score(X_test, y_test), abs=1e-12)
    assert fit_accuracy > 0.8
    assert accuracy > fit_accuracy - 0.05


@pytest.mark.slow
def test_incremental_regressor_close_to_fit(client):
    X, y = make_regression(
        n_samples=3000, n_features=10, n_informative=6, noise=5.0, random_state=0
    )
    y = y / y.std()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    X_blocks, y_blocks = dask_pair(X_train, y_train, 450)
    X_test_blocks, y_test_blocks = dask_pair(X_test, y_test, 250)
    params = {
        "hidden_layer_sizes": (32,),
        "learning_rate_init": 3e-3,
        "random_state": 0,
    }

    fitted = ScratchMLPRegressor(max_iter=1000, **params).fit(X_train, y_train)
    fit_r2 = fitted.score(X_test, y_test)

    # scoring="r2" (also the default for a regressor) fails in
    # Incremental.score on dask arrays with dask >= 2025.2.0: dask-ml
    # 2025.1.0's r2_score assigns through a boolean dask mask, which dask now
    # rejects ("cannot broadcast shape (nan,) to shape (nan,)"). The mean
    # squared error works; R² is computed here from the predictions.
    incremental = Incremental(
        ScratchMLPRegressor(**params), scoring="neg_mean_squared_error", random_state=0
    )
    for _ in range(30):
        incremental.partial_fit(X_blocks, y_blocks)
    predicted = incremental.predict(X_test_blocks).compute()
    # predicted block by block on the cluster, as in memory (to rounding: the
    # matrix products see blocks of a different shape)
    np.testing.assert_allclose(
        predicted, incremental.estimator_.predict(X_test), rtol=1e-12, atol=1e-14
    )
    score = incremental.score(X_test_blocks, y_test_blocks)
    assert score == pytest.approx(-mean_squared_error(y_test, predicted), rel=1e-9)
    assert fit_r2 > 0.9
    assert r2_score(y_test, predicted) > fit_r2 - 0.05


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
@pytest.mark.parametrize(
    "solver", ["adam", pytest.param("sgd", marks=pytest.mark.slow)]
)
def test_incremental_equals_local_partial_fit(client, estimator_class, solver):
    """Blocks in order on the cluster give exactly the weights of a local loop.

    Between blocks the estimator travels between worker processes as a
    pickle; the optimizer's state (Adam's moments, SGD's velocity and step
    count) must travel with it.
    """
    classifier = estimator_class is ScratchMLPClassifier
    X, y = (make_classification if classifier else make_regression)(
        n_samples=1200, n_features=12, random_state=1
    )
    if not classifier:
        y = y / y.std()
    X_blocks, y_blocks = dask_pair(X, y, 300)
    kwargs = {"classes": [0, 1]} if classifier else {}
    model = estimator_class(
        hidden_layer_sizes=(8,), solver=solver, learning_rate_init=1e-2, random_state=0
    )
    local = estimator_class(**model.get_params())
    incremental = Incremental(model, shuffle_blocks=False)
    for _ in range(3):
        incremental.partial_fit(X_blocks, y_blocks, **kwargs)
        for start in range(0, len(X), 300):
            local.partial_fit(X[start : start + 300], y[start : start + 300], **kwargs)

    remote = incremental.estimator_
    assert len(remote.loss_curve_) == len(local.loss_curve_) == 12
    assert remote.t_ == local.t_
    np.testing.assert_allclose(remote.loss_curve_, local.loss_curve_, rtol=1e-12)
    for theirs, ours in zip(
        remote.coefs_ + remote.intercepts_,
        local.coefs_ + local.intercepts_,
        strict=True,
    ):
        np.testing.assert_allclose(theirs, ours, rtol=1e-12, atol=1e-15)
