"""Training speed of ScratchMLPClassifier against scikit-learn, PyTorch and a floor.

Run from the repository root (sknn_scratch installed)::

    python benchmarks/bench_training.py            # full run, 6-8 minutes on 2 cores
    python benchmarks/bench_training.py --quick    # tiny sizes: a smoke test
    python benchmarks/bench_training.py --cases small deep --dtypes float32 --repeats 7

Contenders
----------
``floor``
    The matrix products of mini-batch backpropagation and nothing else (see
    below), with NumPy's BLAS at its default threads: what an MLP would cost
    at these shapes and this dtype if everything but its products were free.
    On a busy machine a threaded BLAS waits for its own threads, which
    inflates the floor more than the single-threaded parts of the compiled
    engine: ratios to the floor are only comparable from quiet runs.
``ours``
    ``sknn_scratch.ScratchMLPClassifier`` as installed: the compiled engine
    (``sknn_scratch._compiled``) where it is built, which runs whole epochs in
    C and calls SciPy's BLAS. The environment line says which engine it is.
``NumPy engine``
    The same estimator on the NumPy reference engine
    (``sknn_scratch._engine.using("numpy")``): the readable implementation
    the compiled one must reproduce, and the fallback of an install without
    a C compiler. Its products use NumPy's BLAS, like the floor's.
``scikit-learn``
    ``sklearn.neural_network.MLPClassifier``, with the same ``random_state``
    as ours, so both make the same random draws and learn the same weights to
    rounding; their accuracies should agree within 0.01.
``PyTorch``
    An ``nn.Sequential`` of ``Linear``/``ReLU`` layers on the CPU, trained by
    ``torch.optim.Adam`` with cross-entropy. Its weights start from the same
    Glorot-uniform draws as scikit-learn's, its L2 penalty is scikit-learn's
    (``alpha / batch_size`` as weight decay on the weights only), and it
    shuffles with NumPy. Left out, with a note, when ``import torch`` fails.

Cases
-----
``small``, ``deep``, ``mid`` and ``wide`` train with mini-batch Adam (shapes
in ``FULL``): a small network; a deep, narrow one whose per-call costs rule;
a mid-sized one; a wide one whose products rule. ``lbfgs`` fits the digits
with L-BFGS, ``predict`` times ``predict_proba`` over many rows.

``members`` trains the ``small`` and ``deep`` shapes as one network and as 8
packed members (``n_members=8``: the members share the hidden layers and each
has its own scales of the input and its own head, so every product is 8 times
as tall), ours only, interleaved: issue 21 asks that 8 members take at most 6
times one network's time, where 8 separate fits take 8 times.

``threads`` checks a requirement of issue 11: two fits on two threads
(``threading.Thread``) must not take longer than 1.5× the same two fits one
after the other. Its products are large enough that the compiled engine cuts
each batch into parts for its helper threads. Each engine (and
scikit-learn's MLP, for context) runs the pair both ways, interleaved like
every other case; the table gives both times and their ratio.

Every training contender uses the same data, shapes, dtype, Adam with
scikit-learn's defaults (learning rate 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8, α
1e-4), batch size, ``shuffle=True`` and number of epochs (``tol=0`` and a huge
``n_iter_no_change`` make every fit run all of its epochs).

The floor
---------
For one epoch of ``n_batches`` batches of B rows (the last one smaller), a
network with layer widths n_0 (inputs), n_1, ..., n_L (outputs) and weights
W_l of shape (n_{l-1}, n_l), the floor is the time of exactly these products,
computed with ``np.matmul`` into preallocated output arrays of the case's
dtype, so that it is pure BLAS time:

* forward, for every layer l = 1..L:          a_{l-1} @ W_l   (B×n_{l-1} · n_{l-1}×n_l)
* weight gradient, for every layer l = 1..L:  a_{l-1}.T @ δ_l (n_{l-1}×B · B×n_l)
* input gradient, for every layer l = 2..L:   δ_l @ W_l.T     (B×n_l · n_l×n_{l-1})

(the input layer's gradient δ_1 @ W_1.T is not needed). No gather,
activation, loss, bias, optimizer or Python work is included: everything a real
MLP spends above the floor is overhead that the implementation controls. For
``predict`` the floor is the forward products alone, over all rows at once.
For ``lbfgs`` there is no floor ('-'): its cost depends on the number of
function evaluations the line search makes.

Timing
------
Contenders run interleaved: in each repeat every contender runs once, and the
order rotates from repeat to repeat, so a burst of load on this shared machine
falls on all of them alike. Before the repeats, each contender runs once on a
small slice of the data (untimed) so that code paths, thread pools and caches
are warm. The time of a training contender is the wall time of a whole fit
(validation and initialisation included; they are a few ms) divided by the
number of epochs; in ``threads`` it is the wall time of the two whole fits,
from the first start to the last end.

**The reported figure is the minimum over the repeats.** Noise on a shared
machine only ever adds time, so the fastest repeat is the best estimate of what
each implementation costs, and the minimum is far more stable from run to run
than the mean. The median is printed beside it in the detail so that the spread
can be judged.

Accuracy is measured on the training data, after the last repeat. For
``predict`` the peak memory allocated during one call (the output array
included) is measured by ``tracemalloc`` in a separate, untimed call;
``tracemalloc`` does not see PyTorch's allocations.
"""

import argparse
import contextlib
import functools
import gc
import os
import platform
import statistics
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import sknn_scratch
from sknn_scratch import ScratchMLPClassifier, _engine

try:
    import torch
except (ImportError, OSError) as error:  # not installed, or a broken install
    torch = None
    TORCH_MISSING = f"{type(error).__name__}: {error}"
else:
    TORCH_MISSING = ""

SEED = 0
N_CLASSES = 10
ALPHA = 1e-4  # scikit-learn's default L2 penalty
ALL_CASES = ("small", "deep", "mid", "wide", "lbfgs", "predict", "threads", "members")
ALL_DTYPES = ("float64", "float32")


# -- configuration ---------------------------------------------------------------
@dataclass(frozen=True)
class TrainCase:
    """A mini-batch (Adam) training case."""

    name: str
    n_samples: int
    n_features: int
    n_informative: int
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    repeats: int


@dataclass(frozen=True)
class LbfgsCase:
    """Full-batch L-BFGS on the digits data."""

    name: str
    hidden: tuple[int, ...]
    max_iter: int
    n_samples: int | None  # None: all 1797 digits
    repeats: int


@dataclass(frozen=True)
class PredictCase:
    """``predict_proba`` of a small network over many rows."""

    name: str
    n_rows: int
    train: TrainCase
    repeats: int


@dataclass(frozen=True)
class ThreadsCase:
    """Two identical fits of ``train``, one after the other and at once."""

    name: str
    train: TrainCase
    repeats: int


@dataclass(frozen=True)
class MembersCase:
    """Packed members against one network, on the shapes of training cases."""

    name: str
    shapes: tuple[str, ...]  # training cases whose data and layers it uses
    members: int
    repeats: int


# The members case's limit (issue 21): k = 8 packed members take at most this
# many times as long as one network (k separate fits take k times).
MEMBERS_LIMIT = 6.0

# The threads case's limit (issue 11): two fits at once on two threads take at
# most this many times as long as the same two fits one after the other.
THREADS_LIMIT = 1.5

FULL = {
    "small": TrainCase("small", 20_000, 50, 30, (100,), 200, epochs=5, repeats=5),
    "deep": TrainCase("deep", 20_000, 30, 20, (64, 64, 64), 64, epochs=5, repeats=5),
    "mid": TrainCase("mid", 30_000, 100, 50, (256, 128), 256, epochs=3, repeats=5),
    "wide": TrainCase("wide", 20_000, 256, 64, (1024, 1024), 512, epochs=1, repeats=5),
    "lbfgs": LbfgsCase("lbfgs", (100,), max_iter=200, n_samples=None, repeats=3),
    "predict": PredictCase(
        "predict",
        1_000_000,
        TrainCase("predict-fit", 20_000, 50, 30, (100,), 200, epochs=1, repeats=1),
        repeats=3,
    ),
    "threads": ThreadsCase(
        "threads",
        TrainCase("threads-fit", 2_000, 200, 50, (512,), 1000, epochs=10, repeats=1),
        repeats=5,
    ),
    "members": MembersCase("members", ("small", "deep"), members=8, repeats=5),
}

QUICK = {
    "small": TrainCase("small", 1_000, 20, 10, (16,), 100, epochs=1, repeats=1),
    "deep": TrainCase("deep", 1_000, 12, 8, (16, 16, 16), 64, epochs=1, repeats=1),
    "mid": TrainCase("mid", 1_000, 24, 12, (32, 16), 128, epochs=1, repeats=1),
    "wide": TrainCase("wide", 512, 32, 16, (64, 64), 128, epochs=1, repeats=1),
    "lbfgs": LbfgsCase("lbfgs", (16,), max_iter=5, n_samples=300, repeats=1),
    "predict": PredictCase(
        "predict",
        20_000,
        TrainCase("predict-fit", 1_000, 20, 10, (16,), 100, epochs=1, repeats=1),
        repeats=1,
    ),
    "threads": ThreadsCase(
        "threads",
        TrainCase("threads-fit", 400, 20, 10, (32,), 200, epochs=1, repeats=1),
        repeats=1,
    ),
    "members": MembersCase("members", ("small", "deep"), members=8, repeats=1),
}


# -- measurement -------------------------------------------------------------------
@dataclass
class Contender:
    """One implementation in a case.

    ``run`` does the timed work and returns its wall time in seconds (the
    contender times itself, so that untimed preparation stays out);
    ``warmup`` runs it once on a small problem; ``quality`` returns the
    accuracy (or another check) after the last run.
    """

    name: str
    run: Callable[[], float]
    warmup: Callable[[], object] | None = None
    quality: Callable[[], str] | None = None


@dataclass
class Row:
    """What one case reports, in one unit."""

    case: str
    dtype: str
    unit: str
    times: dict[str, list[float]] = field(default_factory=dict)
    quality: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    def best(self, name: str) -> float | None:
        """Minimum over the repeats, or None when the contender did not run."""
        values = self.times.get(name)
        return min(values) if values else None


def measure(contenders: Sequence[Contender], repeats: int) -> dict[str, list[float]]:
    """Run the contenders interleaved, rotating their order every repeat."""
    for contender in contenders:
        if contender.warmup is not None:
            contender.warmup()
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    count = len(contenders)
    for repeat in range(repeats):
        shift = repeat % count
        for contender in [*contenders[shift:], *contenders[:shift]]:
            gc.collect()
            times[contender.name].append(contender.run())
    return times


def timed(work: Callable[[], object]) -> float:
    """Wall time of ``work()`` in seconds."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


# -- data ---------------------------------------------------------------------------
def classification_data(
    case: TrainCase, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Standardized 10-class synthetic data of the case's shape and dtype."""
    X, y = make_classification(
        n_samples=case.n_samples,
        n_features=case.n_features,
        n_informative=case.n_informative,
        n_redundant=0,
        n_classes=N_CLASSES,
        random_state=SEED,
    )
    X = StandardScaler().fit_transform(X).astype(dtype)
    return np.ascontiguousarray(X), y


def layer_sizes(n_features: int, hidden: tuple[int, ...]) -> tuple[int, ...]:
    """Widths of every layer, input and (10-class softmax) output included."""
    return (n_features, *hidden, N_CLASSES)


def batch_rows(n_samples: int, batch_size: int) -> list[int]:
    """Rows of each batch of one epoch: full batches, then the remainder."""
    full, last = divmod(n_samples, batch_size)
    return [batch_size] * full + ([last] if last else [])


# -- contenders: the floor -----------------------------------------------------------
def floor_epochs(
    sizes: tuple[int, ...], n_samples: int, batch_size: int, dtype: np.dtype
) -> Callable[[int], float]:
    """A function that times ``epochs`` epochs of backprop's matrix products.

    See the module docstring for the definition. Every operand and output is
    allocated here, once per distinct batch size; the returned function only
    calls ``np.matmul(..., out=...)``.
    """
    rng = np.random.default_rng(SEED)
    n_layers = len(sizes) - 1
    weights = [
        (rng.standard_normal((i, o)) / np.sqrt(i)).astype(dtype)
        for i, o in pairwise(sizes)
    ]
    weight_grads = [np.empty_like(w) for w in weights]
    buffers: dict[int, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}
    for rows in set(batch_rows(n_samples, batch_size)):
        # activations a_0..a_L, deltas δ_1..δ_L, input gradients for layers 2..L
        activations = [rng.standard_normal((rows, n)).astype(dtype) for n in sizes]
        deltas = [rng.standard_normal((rows, n)).astype(dtype) for n in sizes[1:]]
        input_grads = [np.empty((rows, n), dtype) for n in sizes[1:-1]]
        buffers[rows] = (activations, deltas, input_grads)
    schedule = [buffers[rows] for rows in batch_rows(n_samples, batch_size)]
    matmul = np.matmul

    def run(epochs: int) -> float:
        start = time.perf_counter()
        for _ in range(epochs):
            for activations, deltas, input_grads in schedule:
                for layer in range(n_layers):
                    matmul(
                        activations[layer], weights[layer], out=activations[layer + 1]
                    )
                for layer in range(n_layers - 1, -1, -1):
                    matmul(activations[layer].T, deltas[layer], out=weight_grads[layer])
                    if layer > 0:
                        matmul(
                            deltas[layer], weights[layer].T, out=input_grads[layer - 1]
                        )
        return time.perf_counter() - start

    return run


# -- contenders: the estimators --------------------------------------------------------
def adam_params(case: TrainCase, epochs: int) -> dict[str, object]:
    """Estimator parameters shared by ours and scikit-learn's for a case."""
    return {
        "hidden_layer_sizes": case.hidden,
        "solver": "adam",
        "batch_size": case.batch_size,
        "max_iter": epochs,
        "shuffle": True,
        "tol": 0.0,
        "n_iter_no_change": 10**9,
        "random_state": SEED,
    }


# The estimators of the table, by contender name: "NumPy engine" is ours on the
# reference engine.
ESTIMATORS: dict[str, Callable[..., object]] = {
    "ours": ScratchMLPClassifier,
    "NumPy engine": ScratchMLPClassifier,
    "scikit-learn": MLPClassifier,
}


def on_engine(name: str) -> contextlib.AbstractContextManager:
    """The engine context of a contender: the reference engine for "NumPy
    engine", the installed default for everyone else.

    ``_engine.using`` sets a module variable: enter it on the calling thread
    only, around work whose threads all use the same engine.
    """
    return (
        _engine.using("numpy") if name == "NumPy engine" else contextlib.nullcontext()
    )


# Ours with a schedule and decoupled weight decay (issue 20: they may cost at
# most 5% over plain Adam); the column "controlled / ours" in the table.
CONTROLLED = "ours, cosine + decay"
CONTROL_PARAMETERS = {
    "learning_rate": "cosine",
    "warmup_fraction": 0.1,
    "weight_decay": 0.01,
}


def estimator_contender(
    name: str,
    params: dict[str, object],
    X: np.ndarray,
    y: np.ndarray,
    warmup_rows: int,
) -> Contender:
    """A contender that fits a fresh estimator each run and scores the last one."""
    if name == CONTROLLED:
        factory, params = ScratchMLPClassifier, {**params, **CONTROL_PARAMETERS}
    else:
        factory = ESTIMATORS[name]
    fitted: dict[str, object] = {}

    def fit(X_fit: np.ndarray, y_fit: np.ndarray, **extra: object) -> object:
        estimator = factory(**{**params, **extra})
        with on_engine(name):
            estimator.fit(X_fit, y_fit)
        return estimator

    def run() -> float:
        start = time.perf_counter()
        fitted["last"] = fit(X, y)
        return time.perf_counter() - start

    def warmup() -> None:
        fit(X[:warmup_rows], y[:warmup_rows], max_iter=1)

    def quality() -> str:
        estimator = fitted["last"]
        dtype = estimator.coefs_[0].dtype
        note = "" if dtype == X.dtype else f" (trained in {dtype}!)"
        text = f"{estimator.score(X, y):.4f}{note}"
        if hasattr(estimator, "n_iter_") and params.get("solver") == "lbfgs":
            text += f" n_iter={estimator.n_iter_}"
        return text

    return Contender(name, run, warmup, quality)


# -- contenders: PyTorch ----------------------------------------------------------------
def torch_model(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]):
    """An ``nn.Sequential`` of Linear/ReLU layers holding copies of the given weights."""
    layers = []
    for W, b in zip(weights, biases, strict=True):
        linear = torch.nn.Linear(
            W.shape[0], W.shape[1], dtype=torch.from_numpy(W).dtype
        )
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def glorot_draws(
    sizes: tuple[int, ...], dtype: np.dtype
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's initial weights for a ReLU network (same draws, same order)."""
    random_state = np.random.RandomState(SEED)
    weights, biases = [], []
    for fan_in, fan_out in pairwise(sizes):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(
            random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)
        )
        biases.append(random_state.uniform(-bound, bound, fan_out).astype(dtype))
    return weights, biases


def torch_train(
    X: np.ndarray,
    y: np.ndarray,
    hidden: tuple[int, ...],
    batch_size: int,
    epochs: int,
    alpha: float = ALPHA,
):
    """Mini-batch Adam with cross-entropy, as scikit-learn's MLP does it."""
    sizes = layer_sizes(X.shape[1], hidden)
    model = torch_model(*glorot_draws(sizes, X.dtype))
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    optimizer = torch.optim.Adam(
        [
            {"params": [m.weight for m in linears], "weight_decay": alpha / batch_size},
            {"params": [m.bias for m in linears], "weight_decay": 0.0},
        ],
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
    )
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    order_rng = np.random.RandomState(SEED)
    n_samples = X.shape[0]
    cross_entropy = torch.nn.functional.cross_entropy
    for _ in range(epochs):
        order = torch.from_numpy(order_rng.permutation(n_samples))
        for start in range(0, n_samples, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = cross_entropy(
                model(X_t.index_select(0, index)), y_t.index_select(0, index)
            )
            loss.backward()
            optimizer.step()
    return model


def torch_accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    """Training accuracy of a PyTorch model."""
    with torch.inference_mode():
        predicted = model(torch.from_numpy(X)).argmax(dim=1).numpy()
    return float(np.mean(predicted == y))


def torch_contender(
    case: TrainCase, X: np.ndarray, y: np.ndarray, epochs: int
) -> Contender:
    """The PyTorch contender of a training case."""
    fitted: dict[str, object] = {}

    def run() -> float:
        start = time.perf_counter()
        fitted["last"] = torch_train(X, y, case.hidden, case.batch_size, epochs)
        return time.perf_counter() - start

    def warmup() -> None:
        rows = min(len(X), 4 * case.batch_size)
        torch_train(X[:rows], y[:rows], case.hidden, case.batch_size, 1)

    def quality() -> str:
        return f"{torch_accuracy(fitted['last'], X, y):.4f}"

    return Contender("PyTorch", run, warmup, quality)


# -- cases ---------------------------------------------------------------------------------
def run_train_case(case: TrainCase, dtype: np.dtype, epochs: int, repeats: int) -> Row:
    """Floor, ours on both engines, scikit-learn and PyTorch on one mini-batch
    training case."""
    X, y = classification_data(case, dtype)
    sizes = layer_sizes(X.shape[1], case.hidden)
    n_batches = len(batch_rows(case.n_samples, case.batch_size))
    print(
        f"\n== {case.name} {dtype.name}: {case.n_samples}×{case.n_features}, layers "
        f"{' → '.join(map(str, sizes))}, batch {case.batch_size} ({n_batches} "
        f"batches/epoch), {epochs} epoch(s) × {repeats} repeat(s)",
        flush=True,
    )
    floor = floor_epochs(sizes, case.n_samples, case.batch_size, dtype)
    warmup_rows = min(case.n_samples, 4 * case.batch_size)
    params = adam_params(case, epochs)
    contenders = [
        Contender("floor", lambda: floor(epochs), warmup=lambda: floor(1)),
        *(estimator_contender(name, params, X, y, warmup_rows) for name in ESTIMATORS),
        estimator_contender(CONTROLLED, params, X, y, warmup_rows),
    ]
    if torch is not None:
        contenders.append(torch_contender(case, X, y, epochs))
    times = measure(contenders, repeats)
    row = Row(case.name, dtype.name, "ms/epoch")
    row.times = {
        name: [1e3 * t / epochs for t in values] for name, values in times.items()
    }
    for contender in contenders:
        row.quality[contender.name] = contender.quality() if contender.quality else "-"
    print_detail(row, quality_label="train accuracy")
    return row


def run_lbfgs_case(case: LbfgsCase, repeats: int) -> Row:
    """Ours (both engines) and scikit-learn's L-BFGS fits of the standardized
    digits."""
    X, y = load_digits(return_X_y=True)
    if case.n_samples is not None:
        X, y = X[: case.n_samples], y[: case.n_samples]
    X = StandardScaler().fit_transform(X)
    print(
        f"\n== {case.name} float64: digits {X.shape[0]}×{X.shape[1]}, hidden "
        f"{case.hidden}, max_iter={case.max_iter}, tol=0, {repeats} repeat(s)",
        flush=True,
    )
    params: dict[str, object] = {
        "hidden_layer_sizes": case.hidden,
        "solver": "lbfgs",
        "max_iter": case.max_iter,
        "tol": 0.0,
        "random_state": SEED,
    }
    warmup_rows = min(X.shape[0], 200)
    contenders = [
        estimator_contender(name, params, X, y, warmup_rows) for name in ESTIMATORS
    ]
    row = Row(case.name, "float64", "s/fit")
    row.times = measure(contenders, repeats)
    for contender in contenders:
        row.quality[contender.name] = contender.quality()
    row.notes = "whole fit; no floor"
    print_detail(row, quality_label="train accuracy, iterations")
    return row


def run_predict_case(case: PredictCase, dtype: np.dtype, repeats: int) -> Row:
    """``predict_proba`` over many rows: floor (forward products), ours on both
    engines, scikit-learn, PyTorch."""
    X_train, y_train = classification_data(case.train, dtype)
    params = adam_params(case.train, case.train.epochs)
    ours = ScratchMLPClassifier(**params).fit(X_train, y_train)
    theirs = MLPClassifier(**params).fit(X_train, y_train)
    X = np.random.default_rng(SEED).standard_normal((case.n_rows, X_train.shape[1]))
    X = X.astype(dtype)
    sizes = layer_sizes(X.shape[1], case.train.hidden)
    print(
        f"\n== {case.name} {dtype.name}: predict_proba of {case.n_rows}×{X.shape[1]}, "
        f"layers {' → '.join(map(str, sizes))}, {repeats} repeat(s)",
        flush=True,
    )
    outputs = [np.empty((case.n_rows, n), dtype) for n in sizes[1:]]
    coefs = [np.asarray(c) for c in ours.coefs_]

    def floor() -> None:
        a = X
        for W, out in zip(coefs, outputs, strict=True):
            np.matmul(a, W, out=out)
            a = out

    results: dict[str, np.ndarray] = {}

    def keep(name: str, work: Callable[[], np.ndarray]) -> Callable[[], float]:
        def run() -> float:
            results.pop(name, None)  # free the last output before the next call
            start = time.perf_counter()
            results[name] = work()
            return time.perf_counter() - start

        return run

    estimators = {"ours": ours, "NumPy engine": ours, "scikit-learn": theirs}

    def proba(name: str, rows: np.ndarray) -> np.ndarray:
        with on_engine(name):
            return estimators[name].predict_proba(rows)

    small = X[:1000]
    contenders = [
        Contender("floor", lambda: timed(floor), warmup=floor),
        *(
            Contender(
                name,
                keep(name, functools.partial(proba, name, X)),
                warmup=functools.partial(proba, name, small),
            )
            for name in estimators
        ),
    ]
    if torch is not None:
        model = torch_model(coefs, [np.asarray(b) for b in ours.intercepts_])
        X_t = torch.from_numpy(X)

        def torch_proba(rows: torch.Tensor = X_t) -> np.ndarray:
            with torch.inference_mode():
                return torch.softmax(model(rows), dim=1).numpy()

        contenders.append(
            Contender(
                "PyTorch",
                keep("PyTorch", torch_proba),
                warmup=lambda: torch_proba(X_t[:1000]),
            )
        )
    row = Row(case.name, dtype.name, "ms/call")
    row.times = {
        name: [1e3 * t for t in values]
        for name, values in measure(contenders, repeats).items()
    }
    reference = results["ours"]
    for name in ("NumPy engine", "scikit-learn", "PyTorch"):
        if name in results:
            gap = float(np.max(np.abs(results[name] - reference)))
            row.quality[name] = f"max Δp vs ours {gap:.1e}"
    row.quality["ours"] = "reference"
    results.clear()
    peaks = {
        name: peak_memory(functools.partial(proba, name, X)) for name in estimators
    }
    output_mb = case.n_rows * N_CLASSES * dtype.itemsize / 2**20
    row.notes = (
        "peak alloc "
        + " / ".join(f"{name} {peak:.0f} MB" for name, peak in peaks.items())
        + f" (output {output_mb:.0f} MB incl.)"
    )
    print_detail(row, quality_label="check")
    print(f"  {row.notes}")
    return row


WAYS = ("one after the other", "two threads at once")


def two_fits(fit: Callable[[], object], at_once: bool) -> float:
    """Wall time of two calls of ``fit``: one after the other on this thread,
    or each on its own thread, started together. An error in a thread is
    raised here."""
    if not at_once:
        return timed(lambda: (fit(), fit()))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            fit()
        except BaseException as error:  # raised below, on the calling thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def run_threads_case(
    case: ThreadsCase, dtype: np.dtype, epochs: int, repeats: int
) -> Row:
    """Two fits one after the other and two at once on two threads, for ours on
    each engine and for scikit-learn."""
    train = case.train
    X, y = classification_data(train, dtype)
    sizes = layer_sizes(X.shape[1], train.hidden)
    print(
        f"\n== {case.name} {dtype.name}: two fits of {train.n_samples}×"
        f"{train.n_features}, layers {' → '.join(map(str, sizes))}, batch "
        f"{train.batch_size}, {epochs} epoch(s), {' and '.join(WAYS)}; "
        f"{repeats} repeat(s)",
        flush=True,
    )
    params = adam_params(train, epochs)
    warmup_rows = min(train.n_samples, 2 * train.batch_size)

    def contender(name: str, at_once: bool) -> Contender:
        factory = ESTIMATORS[name]

        def fit(rows: int | None = None, **extra: object) -> None:
            factory(**{**params, **extra}).fit(X[:rows], y[:rows])

        def run() -> float:
            with on_engine(name):  # on this thread, for both fits' threads
                return two_fits(fit, at_once)

        def warmup() -> None:
            with on_engine(name):
                two_fits(functools.partial(fit, warmup_rows, max_iter=1), at_once)

        return Contender(f"{name}: {WAYS[at_once]}", run, warmup)

    contenders = [
        contender(name, at_once) for name in ESTIMATORS for at_once in (False, True)
    ]
    row = Row(case.name, dtype.name, "ms")
    row.times = {
        name: [1e3 * t for t in values]
        for name, values in measure(contenders, repeats).items()
    }
    print_detail(row, quality_label="")
    for name in ESTIMATORS:
        after, at_once = (f"{name}: {way}" for way in WAYS)
        print(f"  {name}: at once / one after the other = {ratio(row, at_once, after)}")
    return row


def run_members_case(
    case: MembersCase, train: TrainCase, dtype: np.dtype, epochs: int, repeats: int
) -> Row:
    """One network against ``case.members`` packed members (TabM-mini: shared
    hidden layers, each member's input scales and head), ours on the engine
    the install prefers, on the data and layers of ``train``."""
    X, y = classification_data(train, dtype)
    sizes = layer_sizes(X.shape[1], train.hidden)
    print(
        f"\n== {case.name} on {train.name} {dtype.name}: layers "
        f"{' → '.join(map(str, sizes))}, 1 network and {case.members} packed "
        f"members, {epochs} epoch(s) × {repeats} repeat(s)",
        flush=True,
    )
    params = adam_params(train, epochs)
    warmup_rows = min(train.n_samples, 4 * train.batch_size)
    contenders = []
    for members in (1, case.members):
        contender = estimator_contender(
            "ours", {**params, "n_members": members}, X, y, warmup_rows
        )
        contender.name = members_label(members)
        contenders.append(contender)
    row = Row(train.name, dtype.name, "ms/epoch")
    row.times = {
        name: [1e3 * t / epochs for t in values]
        for name, values in measure(contenders, repeats).items()
    }
    for contender in contenders:
        row.quality[contender.name] = contender.quality()
    print_detail(row, quality_label="train accuracy")
    return row


def members_label(members: int) -> str:
    return f"ours, {members} member{'s' if members > 1 else ''}"


def members_table(rows: Sequence[Row], members: int) -> str:
    """The members case's table: both times and their ratio."""
    one, many = members_label(1), members_label(members)
    lines = [
        f"| shape | dtype | {one} | {many} | {members} members / 1 "
        f"(limit {MEMBERS_LIMIT:g}; {members} separate fits: {members}) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        verdict = ratio(row, many, one)
        if verdict != "-" and float(verdict) > MEMBERS_LIMIT:
            verdict += " (over the limit)"
        lines.append(
            f"| {row.case} | {row.dtype} | {fmt_time(row.best(one))} {row.unit} "
            f"| {fmt_time(row.best(many))} {row.unit} | {verdict} |"
        )
    return "\n".join(lines)


def peak_memory(work: Callable[[], object]) -> float:
    """Peak memory (MB) allocated through Python's allocators during ``work()``."""
    gc.collect()
    tracemalloc.start()
    try:
        result = work()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak / 2**20


# -- reporting -------------------------------------------------------------------------------
CONTENDERS = ("floor", "ours", "NumPy engine", "scikit-learn", "PyTorch", CONTROLLED)


def fmt_time(value: float) -> str:
    """A time with three significant digits."""
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def ratio(row: Row, numerator: str, denominator: str) -> str:
    """Ratio of two contenders' minimum times, or '-' if either did not run."""
    top, bottom = row.best(numerator), row.best(denominator)
    return f"{top / bottom:.2f}" if top and bottom else "-"


def print_detail(row: Row, quality_label: str) -> None:
    """The per-case block: min, median, ratio to the floor, quality, all repeats."""
    floor = row.best("floor")
    width = max(13, *map(len, row.times))
    print(
        f"  {'contender':<{width}} {'min ' + row.unit:>15} {'median':>9} {'×floor':>7}  "
        f"{quality_label}"
    )
    for name, values in row.times.items():
        if not values:
            continue
        best = min(values)
        to_floor = f"{best / floor:.2f}" if floor else "-"
        repeats = ", ".join(fmt_time(v) for v in values)
        print(
            f"  {name:<{width}} {fmt_time(best):>15} "
            f"{fmt_time(statistics.median(values)):>9} {to_floor:>7}  "
            f"{row.quality.get(name, '-'):<28} [{repeats}]"
        )
    for other in ("scikit-learn", "PyTorch", CONTROLLED):
        if row.best(other) and row.best("ours"):
            print(f"  {other} / ours = {ratio(row, other, 'ours')}  (minimum times)")
    sys.stdout.flush()


def markdown_table(rows: Sequence[Row]) -> str:
    """The summary table: minimum times, each with its ratio to the floor."""
    lines = [
        "| case | dtype | unit | floor | ours | NumPy engine | scikit-learn | PyTorch "
        "| ours, cosine + decay | sklearn/ours | PyTorch/ours | controlled/ours "
        "| accuracy / check: ours · NumPy engine · sklearn · PyTorch · controlled "
        "| notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        floor = row.best("floor")
        cells = []
        for name in CONTENDERS:
            best = row.best(name)
            if best is None:
                cells.append("-")
            elif name == "floor" or floor is None:
                cells.append(fmt_time(best))
            else:
                cells.append(f"{fmt_time(best)} ({best / floor:.1f}×)")
        quality = " · ".join(row.quality.get(name, "-") for name in CONTENDERS[1:])
        lines.append(
            f"| {row.case} | {row.dtype} | {row.unit} | {' | '.join(cells)} "
            f"| {ratio(row, 'scikit-learn', 'ours')} | {ratio(row, 'PyTorch', 'ours')} "
            f"| {ratio(row, CONTROLLED, 'ours')} | {quality} | {row.notes} |"
        )
    return "\n".join(lines)


def threads_table(rows: Sequence[Row]) -> str:
    """The threads case's table: both ways' minimum times and their ratio."""
    lines = [
        "| engine | dtype | one after the other | two threads at once "
        f"| at once / one after the other (limit {THREADS_LIMIT}) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        for name in ESTIMATORS:
            after, at_once = (f"{name}: {way}" for way in WAYS)
            if row.best(after) is None:
                continue
            verdict = ratio(row, at_once, after)
            if name == "ours" and verdict != "-" and float(verdict) > THREADS_LIMIT:
                verdict += " (over the limit)"
            lines.append(
                f"| {name} | {row.dtype} | {fmt_time(row.best(after))} {row.unit} "
                f"| {fmt_time(row.best(at_once))} {row.unit} | {verdict} |"
            )
    return "\n".join(lines)


def load_average() -> str:
    """The 1-minute load average: how busy the machine was (others' work included)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def environment() -> str:
    """Versions, BLAS libraries and thread counts, for the record."""
    from threadpoolctl import threadpool_info

    parts = [
        f"Python {platform.python_version()}",
        f"NumPy {np.__version__}",
        f"SciPy {scipy.__version__}",
        f"scikit-learn {sklearn.__version__}",
        f"sknn_scratch {sknn_scratch.__version__} from "
        f"{os.path.dirname(sknn_scratch.__file__)}, engine of ours: "
        f"{_engine.preferred()}",
        f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
        if torch is not None
        else "PyTorch: not available",
        f"{os.cpu_count()} CPUs",
        f"load average {load_average()}",
    ]
    pools = [
        f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')}"
        f" ×{p.get('num_threads')} ({os.path.basename(p.get('filepath', ''))})"
        for p in threadpool_info()
    ]
    return "; ".join(parts) + "\nthread pools: " + "; ".join(pools)


# -- command line ------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, 1 epoch, 1 repeat: a smoke test that runs in seconds",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=ALL_CASES,
        default=list(ALL_CASES),
        metavar="CASE",
        help=f"cases to run, among {', '.join(ALL_CASES)} (default: all)",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=ALL_DTYPES,
        default=list(ALL_DTYPES),
        help="dtypes of every case but lbfgs (default: both)",
    )
    parser.add_argument("--repeats", type=int, help="repeats of every case")
    parser.add_argument(
        "--epochs", type=int, help="epochs of the mini-batch cases (threads included)"
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="leave PyTorch out even if installed"
    )
    args = parser.parse_args(argv)
    for option in ("repeats", "epochs"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected cases and print the detail and the summary table."""
    global torch, TORCH_MISSING
    args = parse_args(argv)
    if args.no_torch:
        torch, TORCH_MISSING = None, "--no-torch"
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    config = QUICK if args.quick else FULL
    print(environment())
    if torch is None:
        print(f"note: PyTorch left out ({TORCH_MISSING})")
    if _engine.preferred() != "compiled":
        print(
            "note: the compiled engine is not in use "
            f"({_engine.UNAVAILABLE or _engine.ENGINE_VARIABLE + ' chooses numpy'}): "
            "ours runs the NumPy engine too"
        )
    print("times: minimum over interleaved repeats (median in the detail)")
    started = time.perf_counter()
    rows: list[Row] = []
    thread_rows: list[Row] = []
    member_rows: list[Row] = []
    for name in ALL_CASES:
        if name not in args.cases:
            continue
        case = config[name]
        repeats = args.repeats or case.repeats
        if isinstance(case, LbfgsCase):
            rows.append(run_lbfgs_case(case, repeats))
            continue
        for dtype in map(np.dtype, args.dtypes):
            if isinstance(case, TrainCase):
                epochs = args.epochs or case.epochs
                rows.append(run_train_case(case, dtype, epochs, repeats))
            elif isinstance(case, PredictCase):
                rows.append(run_predict_case(case, dtype, repeats))
            elif isinstance(case, MembersCase):
                for shape in case.shapes:
                    train = config[shape]
                    epochs = args.epochs or train.epochs
                    member_rows.append(
                        run_members_case(case, train, dtype, epochs, repeats)
                    )
            else:
                epochs = args.epochs or case.train.epochs
                thread_rows.append(run_threads_case(case, dtype, epochs, repeats))
    if rows:
        print("\nSummary (minimum of the repeats; (n×) = ratio to the floor):\n")
        print(markdown_table(rows))
    if thread_rows:
        print(
            f"\nTwo fits on two threads (issue 11: at most {THREADS_LIMIT}× the "
            "time of the same two fits one after the other; minimum of the "
            "repeats):\n"
        )
        print(threads_table(thread_rows))
    if member_rows:
        members = config["members"].members
        print(
            f"\nPacked members (issue 21: {members} members at most "
            f"{MEMBERS_LIMIT:g}× one network's time, optimizer included; minimum "
            "of the repeats):\n"
        )
        print(members_table(member_rows, members))
    print(
        f"\ntotal wall time {time.perf_counter() - started:.1f} s; "
        f"load average at the end {load_average()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
