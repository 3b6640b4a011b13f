"""Helpers shared by the test modules (fixtures live in conftest.py)."""

import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, _engine
from sknn_scratch._reference._losses import LOSSES, REGRESSION_LOSSES

MiB = 2**20

# scikit-learn's estimator that each of ours stands in for
SKLEARN_TWIN = {ScratchMLPClassifier: MLPClassifier, ScratchMLPRegressor: MLPRegressor}

# The engines this install runs: a test parametrised over them runs its body
# inside ``_engine.using(engine)`` (the compiled one only where it was built
# and not turned off by SKNN_SCRATCH_ENGINE=numpy).
ENGINES = ["numpy", "compiled"] if _engine.preferred() == "compiled" else ["numpy"]

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


def finite_differences(function, point: np.ndarray, step: float = 1e-6):
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h at ``point``,
    one entry i at a time (``point`` is moved in place and put back).

    For a scalar function (a loss) that is its gradient; for an elementwise
    one (an activation) its entry i is taken: the derivative at x_i. The
    tests' one finite difference; whole estimators are checked with the
    public ``check_gradients``.
    """
    result = np.empty_like(point)
    for index in np.ndindex(point.shape):
        saved = point[index]
        values = []
        for moved in (saved + step, saved - step):
            point[index] = moved
            value = function(point)
            values.append(value if np.ndim(value) == 0 else value[index])
        point[index] = saved
        result[index] = (values[0] - values[1]) / (2 * step)
    return result


def away_from_kinks(loss: str, t: np.ndarray, rng: np.random.RandomState):
    """Outputs z for targets t whose residuals keep clear of 0 and of the
    settings' ±huber_delta, where losses have kinks or jumps of ℓ''."""
    if LOSSES[loss].output_activation != "identity":
        return rng.normal(size=t.shape)
    offsets = np.array([-1.7, -0.8, -0.3, 0.2, 0.35, 0.9, 1.6])
    return t + rng.choice(offsets, size=t.shape)


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
