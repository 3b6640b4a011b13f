"""Helpers shared by the test modules (fixtures live in conftest.py)."""

import tracemalloc
from pathlib import Path

import numpy as np

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch._losses import LOSSES, REGRESSION_LOSSES

MiB = 2**20

# The kinds of problem the estimators solve: the classifier's three, and one
# per regression loss of the engine's table (named by the loss).
CLASSIFICATION_KINDS = ["multiclass", "binary", "multilabel"]
REGRESSION_KINDS = list(REGRESSION_LOSSES)

# A value for every loss setting (``Loss.settings``), for the tests' estimators:
# a loss that brings a new setting adds it here.
SETTING_VALUES = {"huber_delta": 0.5, "quantile": 0.8}


def loss_settings(loss: str) -> dict:
    """Values for the parameters a loss of the table reads."""
    return {name: SETTING_VALUES[name] for name in LOSSES[loss].settings}


def make_estimator(kind: str, **params):
    """The estimator for a kind of problem (see ``targets_for``)."""
    if kind in CLASSIFICATION_KINDS:
        return ScratchMLPClassifier(**params)
    return ScratchMLPRegressor(loss=kind, **loss_settings(kind), **params)


def targets_for(kind: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Targets of each kind built from scaled iris features X and species y:
    counts for a log link (non-negative), two outputs for other regressions."""
    if kind in CLASSIFICATION_KINDS:
        return {
            "multiclass": y,
            "binary": y == 1,
            "multilabel": np.c_[y == 1, y == 2, y > 0],
        }[kind]
    if LOSSES[kind].output_activation == "exp":
        return np.abs(X[:, 0])
    return X[:, :2]


def engine_targets(loss: str, n_samples: int, rng: np.random.RandomState):
    """Targets in the encoding the engine's loss expects, by its output
    activation: one-hot rows (softmax), 0/1 labels (logistic, three outputs),
    counts (exp) or reals (identity, two outputs)."""
    output_activation = LOSSES[loss].output_activation
    if output_activation == "softmax":
        return np.eye(3)[rng.randint(0, 3, size=n_samples)]
    if output_activation == "logistic":
        return rng.randint(0, 2, size=(n_samples, 3)).astype(float)
    if output_activation == "exp":
        return rng.poisson(2.0, size=(n_samples, 2)).astype(float)
    return rng.normal(size=(n_samples, 2))


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


def guide_python_blocks(page: str) -> list[str]:
    """The ```python blocks of a page of the user guide (docs/<page>.md)."""
    text = (Path(__file__).parent.parent / "docs" / f"{page}.md").read_text("utf-8")
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
