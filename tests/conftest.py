"""Test configuration and fixtures shared by the whole suite."""

import os

# scikit-learn's estimator checks skip their array-API check unless SciPy's
# array-API mode is on; it must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest
from helpers import ENGINES
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from sknn_scratch import _engine

# Where the compiled engine did not load (and SKNN_SCRATCH_ENGINE=numpy did not
# ask for the NumPy one), the first fit of a process warns, once. Issue that
# warning here, as the suite starts, so that pytest shows it and no test's own
# warning filters meet it (test_engines.py tests it, in subprocesses).
_engine.warn_if_fallback()


@pytest.fixture(scope="session")
def iris():
    """Standardised iris features and species (read-only: tests share them)."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="module", params=ENGINES)
def each_engine(request):
    """Runs each test of a module once on each engine of ``helpers.ENGINES``
    (both where the compiled one is built and chosen, else the NumPy one).

    A module whose results come from the engine opts in with
    ``pytestmark = [pytest.mark.usefixtures("each_engine"), ...]``; its tests
    then run inside ``_engine.using(engine)``, grouped by engine.
    """
    with _engine.using(request.param):
        yield request.param


@pytest.fixture
def small_parts():
    """Cut even the tests' small problems into parts (three: more than the
    cores of a 2-core machine) on the compiled engine, which it returns.

    Skips the test where the compiled engine is not in use, or does not own
    its BLAS (and so cuts nothing).
    """
    if _engine.preferred() != "compiled":
        pytest.skip("the compiled engine is not in use")
    compiled = _engine.compiled
    saved = compiled.part_policy()
    if saved["parts"] == 1:
        pytest.skip("the engine does not own its BLAS here: nothing is cut")
    compiled.set_part_policy(parts=3, rows=4, multiply_adds=0, elements=8)
    yield compiled
    compiled.set_part_policy(**saved)


@pytest.fixture(scope="session")
def local_cluster():
    """A Dask LocalCluster of 2 single-threaded worker processes on 127.0.0.1.

    Skips the test when the ``distributed`` extra is not installed.
    """
    distributed = pytest.importorskip(
        "distributed",
        reason='needs the distributed extra: pip install ".[distributed]"',
    )
    import logging

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # any free loopback port: no clashes
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster
    finally:
        cluster.close()
