"""Helpers shared by the test modules (fixtures live in conftest.py)."""

import tracemalloc
from pathlib import Path

import numpy as np

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

MiB = 2**20

# The kinds of problem the estimators solve, by the engine loss they train.
CLASSIFICATION_KINDS = ["multiclass", "binary", "multilabel"]
REGRESSION_KINDS = ["regression", "poisson"]


def make_estimator(kind: str, **params):
    """The estimator for a kind of problem (see ``targets_for``)."""
    if kind in CLASSIFICATION_KINDS:
        return ScratchMLPClassifier(**params)
    loss = "poisson" if kind == "poisson" else "squared_error"
    return ScratchMLPRegressor(loss=loss, **params)


def targets_for(kind: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Targets of each kind built from scaled iris features X and species y."""
    return {
        "multiclass": y,
        "binary": y == 1,
        "multilabel": np.c_[y == 1, y == 2, y > 0],
        "regression": X[:, :2],  # two outputs
        "poisson": np.abs(X[:, 0]),
    }[kind]


def weights_of(estimator) -> list[np.ndarray]:
    """Copies of all the weights and biases of a fitted estimator."""
    return [w.copy() for w in estimator.coefs_ + estimator.intercepts_]


def assert_same_weights(a, b, rtol: float = 1e-12, atol: float = 1e-14) -> None:
    """Two fitted networks have the same layers, dtypes and weights."""
    assert len(a.coefs_) == len(b.coefs_)
    for wa, wb in zip(weights_of(a), weights_of(b), strict=True):
        assert wa.dtype == wb.dtype
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)


def traced_peak(function, *args):
    """Run function(*args); return its result and the peak bytes allocated
    (through NumPy and Python) above what was allocated before."""
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


def readme_python_blocks(section: str) -> list[str]:
    """The ```python blocks of a README section ("## <section>" up to the
    next "## ")."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    text = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
