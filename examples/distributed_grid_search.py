"""Grid search on a Dask cluster, through joblib's Dask backend
============================================================

``GridSearchCV`` hands its fits to joblib, and joblib can hand them to a
``dask.distributed`` cluster instead of local processes: inside
``joblib.parallel_config(backend="dask")`` every fit of the search becomes a
task on the cluster's workers. Nothing in the estimator changes.

The script tunes ``Pipeline(StandardScaler, ScratchMLPClassifier)`` over
``hidden_layer_sizes`` x ``learning_rate_init`` (3-fold cross-validation) on
scikit-learn's 8x8 digits, twice: once in this process alone (``n_jobs=1``)
and once on the cluster. It prints the mean CV accuracy of every setting from
both runs (they are the same numbers: a fit computes the same thing wherever it
runs), the best parameters and score, and both wall times.

On a machine of two cores expect a modest speed-up at best: the ``n_jobs=1``
run already spreads its larger matrix products over both cores through BLAS,
and the cluster pays for moving data and results between processes. A
cluster of several machines is where the search gets faster.

By default it starts a ``LocalCluster`` of worker processes on this machine,
listening on the loopback address only. ``--scheduler ADDRESS`` connects to a
cluster that is already running instead; its workers need sknn_scratch
installed (the same version as here).

Needs the ``distributed`` extra: ``pip install ".[distributed]"``.

Run it with::

    python examples/distributed_grid_search.py               # 2 local workers, ~20 s on 2 cores
    python examples/distributed_grid_search.py --quick       # a smaller grid on fewer digits
    python examples/distributed_grid_search.py --workers 4   # a bigger local cluster
    python examples/distributed_grid_search.py --scheduler tcp://HOST:8786
"""

import argparse
import importlib
import logging
import sys
import time

import numpy as np
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

NO_DASK = (
    "this example needs dask.distributed: "
    'pip install "sknn-scratch[distributed]" (from a checkout: pip install ".[distributed]")'
)

WORKER_MODULES = ["sknn_scratch", "sklearn.model_selection", "sklearn.pipeline"]


def make_search(grid: dict, n_jobs: int) -> GridSearchCV:
    """A 3-fold grid search over a scaled ScratchMLPClassifier."""
    # max_iter leaves room for every setting to stop by its tolerance, so no
    # fit ends with a ConvergenceWarning (which a worker would print).
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", ScratchMLPClassifier(max_iter=500, random_state=0)),
        ]
    )
    return GridSearchCV(pipeline, grid, cv=3, n_jobs=n_jobs)


def timed_fit(search: GridSearchCV, X: np.ndarray, y: np.ndarray) -> float:
    """Fit the search; return its wall time in seconds."""
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start


def describe(params: dict) -> str:
    """'hidden=(32,) lr=0.01' for a grid cell."""
    return (
        f"hidden={params['mlp__hidden_layer_sizes']!s} "
        f"lr={params['mlp__learning_rate_init']:g}"
    )


def split_scores(search: GridSearchCV) -> np.ndarray:
    """The test score of every (setting, fold) pair, shape (n_settings, n_folds)."""
    results = search.cv_results_
    return np.column_stack(
        [results[f"split{k}_test_score"] for k in range(search.n_splits_)]
    )


def connect(scheduler: str | None, n_workers: int):
    """A Client on the given scheduler, or on a new loopback LocalCluster.

    Returns ``(client, cluster, description)``; ``cluster`` is None when the
    cluster is not ours to close.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        return client, None, f"the cluster at {scheduler}"
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",  # loopback only: nothing outside this machine can join
        dashboard_address="127.0.0.1:0",  # any free loopback port: no clashes
        silence_logs=logging.ERROR,  # the workers' start/stop chatter
    )
    client = Client(cluster)
    return client, cluster, f"a LocalCluster at {cluster.scheduler_address}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description="GridSearchCV on a Dask cluster through joblib's Dask backend."
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smaller grid on fewer digits"
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (default: start a LocalCluster)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="worker processes of the LocalCluster (default: %(default)s)",
    )
    # known ones only: in a notebook, sys.argv holds the kernel's own options
    args, _ = parser.parse_known_args()
    try:
        import distributed  # noqa: F401
    except ImportError:
        sys.exit(NO_DASK)

    X, y = load_digits(return_X_y=True)
    if args.quick:
        X, y = X[:600], y[:600]
        grid = {
            "mlp__hidden_layer_sizes": [(16,), (32,)],
            "mlp__learning_rate_init": [3e-3, 1e-2],
        }
    else:
        grid = {
            "mlp__hidden_layer_sizes": [(16,), (32,), (64,)],
            "mlp__learning_rate_init": [1e-3, 3e-3, 1e-2],
        }
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )

    local = make_search(grid, n_jobs=1)
    local_time = timed_fit(local, X_train, y_train)

    start = time.perf_counter()
    client, cluster, where = connect(args.scheduler, args.workers)
    try:
        # Import what the fits need on every worker before the clock starts,
        # as this process has already done.
        for module in WORKER_MODULES:
            client.run(importlib.import_module, module)
        threads = client.nthreads()  # {worker address: threads}
        startup_time = time.perf_counter() - start
        on_cluster = make_search(grid, n_jobs=-1)
        with parallel_config(backend="dask"):
            dask_time = timed_fit(on_cluster, X_train, y_train)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    n_settings = len(local.cv_results_["params"])
    print(
        f"digits: {len(X_train)} training and {len(X_test)} held-out samples, "
        f"{X.shape[1]} features, 10 classes"
    )
    print(f"grid: {n_settings} settings x 3-fold CV = {3 * n_settings} fits")
    print(
        f"cluster: {where}, {len(threads)} workers, {sum(threads.values())} threads "
        f"(ready in {startup_time:.1f} s)"
    )
    print()
    print(f"{'mean CV accuracy':24}  n_jobs=1     dask")
    for i, params in enumerate(local.cv_results_["params"]):
        ours = local.cv_results_["mean_test_score"][i]
        theirs = on_cluster.cv_results_["mean_test_score"][i]
        print(f"{describe(params):24}  {ours:8.4f}  {theirs:7.4f}")
    print()
    difference = np.max(np.abs(split_scores(local) - split_scores(on_cluster)))
    same = "yes" if difference == 0 else f"no (largest difference {difference:.2e})"
    print(f"same fold scores on the cluster as with n_jobs=1: {same}")
    print(f"best parameters: {describe(on_cluster.best_params_)}")
    print(f"best cv score: {on_cluster.best_score_:.4f}")
    print(f"held-out accuracy: {on_cluster.score(X_test, y_test):.4f}")
    print(
        f"wall time: n_jobs=1 {local_time:.1f} s  dask {dask_time:.1f} s  "
        f"(speed-up {local_time / dask_time:.2f}x)"
    )


if __name__ == "__main__":
    main()
