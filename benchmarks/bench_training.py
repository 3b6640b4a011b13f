"""Training speed of ScratchMLPClassifier against scikit-learn, PyTorch and a floor.

Run from the repository root (sknn_scratch installed)::

    python benchmarks/bench_training.py            # full run, a few minutes
    python benchmarks/bench_training.py --quick    # tiny sizes: a smoke test
    python benchmarks/bench_training.py --cases small --dtypes float32 --repeats 7

Contenders
----------
``floor``
    The matrix products of mini-batch backpropagation and nothing else (see
    below): the time no NumPy MLP can beat at these shapes and this dtype.
``NumPy loop``
    The least a NumPy MLP can do (mini-batch cases only): one function with
    every buffer made beforehand and nothing but the NumPy calls that Adam
    training with ReLU units and a softmax must make per batch (gather, the
    products, bias, activation, loss, output delta, derivative, bias
    gradients, L2 penalty, Adam's ten passes), with NumPy's default threads.
    No validation, bookkeeping or safety: it skips the softmax's row shift,
    sample weights and every check. How close ``ours`` comes to it is what an
    engine written in NumPy can still gain; the gap between it and the floor
    is what only fused kernels could.
``ours``
    ``sknn_scratch.ScratchMLPClassifier``.
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
number of epochs.

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
import gc
import os
import platform
import statistics
import sys
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
from sknn_scratch import ScratchMLPClassifier
from sknn_scratch._network import layer_views, n_parameters

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
ALL_CASES = ("small", "wide", "lbfgs", "predict")
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


FULL = {
    "small": TrainCase("small", 20_000, 50, 30, (100,), 200, epochs=5, repeats=5),
    "wide": TrainCase("wide", 20_000, 256, 64, (1024, 1024), 512, epochs=1, repeats=5),
    "lbfgs": LbfgsCase("lbfgs", (100,), max_iter=200, n_samples=None, repeats=3),
    "predict": PredictCase(
        "predict",
        1_000_000,
        TrainCase("predict-fit", 20_000, 50, 30, (100,), 200, epochs=1, repeats=1),
        repeats=3,
    ),
}

QUICK = {
    "small": TrainCase("small", 1_000, 20, 10, (16,), 100, epochs=1, repeats=1),
    "wide": TrainCase("wide", 512, 32, 16, (64, 64), 128, epochs=1, repeats=1),
    "lbfgs": LbfgsCase("lbfgs", (16,), max_iter=5, n_samples=300, repeats=1),
    "predict": PredictCase(
        "predict",
        20_000,
        TrainCase("predict-fit", 1_000, 20, 10, (16,), 100, epochs=1, repeats=1),
        repeats=1,
    ),
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


def numpy_loop_epochs(
    X: np.ndarray, y: np.ndarray, sizes: tuple[int, ...], batch_size: int, alpha: float
) -> tuple[Callable[[int], float], Callable[[], str]]:
    """A function that times ``epochs`` epochs of the plain NumPy Adam loop,
    and one that returns its training accuracy.

    See the module docstring: the NumPy calls any NumPy MLP must make per
    batch, and nothing else. The weights start from the same Glorot-uniform
    bounds as the estimators'.
    """
    dtype = X.dtype
    n_samples, n_layers = X.shape[0], len(sizes) - 1
    T = np.eye(sizes[-1], dtype=dtype)[y]
    # the engine's flat layout (weights, then biases), so that the L2 penalty
    # and Adam are whole-vector passes here too
    n_weights, n_params = n_parameters(sizes)
    params, grad = np.empty(n_params, dtype), np.empty(n_params, dtype)
    weights, biases = layer_views(params, sizes)
    weight_grads, bias_grads = layer_views(grad, sizes)
    m, v, scratch = np.zeros_like(params), np.zeros_like(params), np.empty_like(params)
    X_batch = np.empty((batch_size, X.shape[1]), dtype)
    T_batch = np.empty((batch_size, sizes[-1]), dtype)
    activations = [np.empty((batch_size, n), dtype) for n in sizes[1:]]
    deltas = [np.empty((batch_size, n), dtype) for n in sizes[1:]]
    masks = [np.empty((batch_size, n), dtype) for n in sizes[1:-1]]
    ones_rows, ones_classes = np.ones(batch_size, dtype), np.ones(sizes[-1], dtype)
    beta_1, beta_2, epsilon, learning_rate = 0.9, 0.999, 1e-8, 1e-3

    def run(epochs: int) -> float:
        # every run trains afresh from the same start (untimed)
        rng = np.random.default_rng(SEED)
        for W, b in zip(weights, biases, strict=True):
            bound = np.sqrt(6.0 / sum(W.shape))
            W[...] = rng.uniform(-bound, bound, W.shape)
            b[...] = rng.uniform(-bound, bound, b.shape)
        m[...], v[...], step = 0.0, 0.0, 0
        begin = time.perf_counter()
        for _ in range(epochs):
            order = rng.permutation(n_samples)
            for first in range(0, n_samples, batch_size):
                index = order[first : first + batch_size]
                rows = len(index)
                a = np.take(X, index, axis=0, out=X_batch[:rows])
                t = np.take(T, index, axis=0, out=T_batch[:rows])
                for layer in range(n_layers):
                    z = activations[layer][:rows]
                    np.matmul(a, weights[layer], out=z)
                    z += biases[layer]
                    if layer < n_layers - 1:
                        np.maximum(z, 0.0, out=z)
                    a = z
                t_dot_z = np.vdot(t, a)
                np.exp(a, out=a)
                row_sums = a @ ones_classes
                a /= row_sums[:, None]
                loss = (float(np.log(row_sums).sum()) - t_dot_z) / rows
                delta = deltas[-1][:rows]
                np.subtract(a, t, out=delta)
                delta *= 1.0 / rows
                for layer in range(n_layers - 1, -1, -1):
                    below = (
                        X_batch[:rows] if layer == 0 else activations[layer - 1][:rows]
                    )
                    np.matmul(below.T, delta, out=weight_grads[layer])
                    np.matmul(ones_rows[:rows], delta, out=bias_grads[layer])
                    if layer:
                        mask = masks[layer - 1][:rows]
                        delta_below = deltas[layer - 1][:rows]
                        np.matmul(delta, weights[layer].T, out=delta_below)
                        np.greater(below, 0.0, out=mask)
                        delta_below *= mask
                        delta = delta_below
                w, g, s = params[:n_weights], grad[:n_weights], scratch[:n_weights]
                loss += 0.5 * alpha * float(np.dot(w, w)) / rows
                np.multiply(w, alpha / rows, out=s)
                g += s
                step += 1
                step_size = (
                    learning_rate
                    * (1.0 - beta_2**step) ** 0.5
                    / (1.0 - beta_1**step)
                    * (1.0 - beta_1)
                    / (1.0 - beta_2) ** 0.5
                )
                # (ufuncs with out=: an augmented assignment would make these
                # arrays local to run())
                np.multiply(m, beta_1, out=m)
                np.add(m, grad, out=m)
                np.multiply(grad, grad, out=scratch)
                np.multiply(v, beta_2, out=v)
                np.add(v, scratch, out=v)
                np.sqrt(v, out=scratch)
                np.add(scratch, epsilon / (1.0 - beta_2) ** 0.5, out=scratch)
                np.divide(m, scratch, out=scratch)
                np.multiply(scratch, step_size, out=scratch)
                np.subtract(params, scratch, out=params)
        return time.perf_counter() - begin

    def accuracy() -> str:
        a = X
        for layer in range(n_layers):
            a = a @ weights[layer] + biases[layer]
            if layer < n_layers - 1:
                a = np.maximum(a, 0.0)
        return f"{np.mean(a.argmax(axis=1) == y):.4f}"

    return run, accuracy


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


def estimator_contender(
    name: str,
    factory: Callable[..., object],
    params: dict[str, object],
    X: np.ndarray,
    y: np.ndarray,
    warmup_rows: int,
) -> Contender:
    """A contender that fits a fresh estimator each run and scores the last one."""
    fitted: dict[str, object] = {}

    def fit(X_fit: np.ndarray, y_fit: np.ndarray, **extra: object) -> object:
        estimator = factory(**{**params, **extra})
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
    """Floor, ours, scikit-learn and PyTorch on one mini-batch training case."""
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
    numpy_loop, numpy_loop_accuracy = numpy_loop_epochs(
        X, y, sizes, case.batch_size, ALPHA
    )
    contenders = [
        Contender("floor", lambda: floor(epochs), warmup=lambda: floor(1)),
        Contender(
            "NumPy loop",
            lambda: numpy_loop(epochs),
            warmup=lambda: numpy_loop(1),
            quality=numpy_loop_accuracy,
        ),
        estimator_contender("ours", ScratchMLPClassifier, params, X, y, warmup_rows),
        estimator_contender("scikit-learn", MLPClassifier, params, X, y, warmup_rows),
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
    """Ours and scikit-learn's L-BFGS fits of the standardized digits."""
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
        estimator_contender("ours", ScratchMLPClassifier, params, X, y, warmup_rows),
        estimator_contender("scikit-learn", MLPClassifier, params, X, y, warmup_rows),
    ]
    row = Row(case.name, "float64", "s/fit")
    row.times = measure(contenders, repeats)
    for contender in contenders:
        row.quality[contender.name] = contender.quality()
    row.notes = "whole fit; no floor"
    print_detail(row, quality_label="train accuracy, iterations")
    return row


def run_predict_case(case: PredictCase, dtype: np.dtype, repeats: int) -> Row:
    """``predict_proba`` over many rows: floor (forward products), ours, sklearn, torch."""
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

    small = X[:1000]
    contenders = [
        Contender("floor", lambda: timed(floor), warmup=floor),
        Contender(
            "ours",
            keep("ours", lambda: ours.predict_proba(X)),
            warmup=lambda: ours.predict_proba(small),
        ),
        Contender(
            "scikit-learn",
            keep("scikit-learn", lambda: theirs.predict_proba(X)),
            warmup=lambda: theirs.predict_proba(small),
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
    for name in ("scikit-learn", "PyTorch"):
        if name in results:
            gap = float(np.max(np.abs(results[name] - reference)))
            row.quality[name] = f"max Δp vs ours {gap:.1e}"
    row.quality["ours"] = "reference"
    results.clear()
    peaks = {
        "ours": peak_memory(lambda: ours.predict_proba(X)),
        "scikit-learn": peak_memory(lambda: theirs.predict_proba(X)),
    }
    output_mb = case.n_rows * N_CLASSES * dtype.itemsize / 2**20
    row.notes = (
        f"peak alloc ours {peaks['ours']:.0f} MB / sklearn {peaks['scikit-learn']:.0f} MB "
        f"(output {output_mb:.0f} MB incl.)"
    )
    print_detail(row, quality_label="check")
    print(f"  {row.notes}")
    return row


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
CONTENDERS = ("floor", "NumPy loop", "ours", "scikit-learn", "PyTorch")


def fmt_time(value: float) -> str:
    """A time with three significant digits."""
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def print_detail(row: Row, quality_label: str) -> None:
    """The per-case block: min, median, ratio to the floor, quality, all repeats."""
    floor = row.best("floor")
    print(
        f"  {'contender':<13} {'min ' + row.unit:>15} {'median':>9} {'×floor':>7}  "
        f"{quality_label}"
    )
    for name in CONTENDERS:
        values = row.times.get(name)
        if not values:
            continue
        best = min(values)
        ratio = f"{best / floor:.2f}" if floor else "-"
        repeats = ", ".join(fmt_time(v) for v in values)
        print(
            f"  {name:<13} {fmt_time(best):>15} {fmt_time(statistics.median(values)):>9} "
            f"{ratio:>7}  {row.quality.get(name, '-'):<28} [{repeats}]"
        )
    ours, theirs = row.best("ours"), row.best("scikit-learn")
    if ours and theirs:
        print(f"  scikit-learn / ours = {theirs / ours:.2f}  (minimum times)")
    if "PyTorch" not in row.times:
        print("  PyTorch: not run (" + (TORCH_MISSING or "not applicable") + ")")
    sys.stdout.flush()


def markdown_table(rows: Sequence[Row]) -> str:
    """The summary table: minimum times, each with its ratio to the floor."""
    lines = [
        "| case | dtype | unit | floor | NumPy loop | ours | scikit-learn | PyTorch "
        "| sklearn/ours | accuracy / check: ours · sklearn · PyTorch | notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
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
        ours, theirs = row.best("ours"), row.best("scikit-learn")
        ratio = f"{theirs / ours:.2f}" if ours and theirs else "-"
        quality = " · ".join(
            row.quality.get(name, "-") for name in ("ours", "scikit-learn", "PyTorch")
        )
        lines.append(
            f"| {row.case} | {row.dtype} | {row.unit} | {' | '.join(cells)} | {ratio} "
            f"| {quality} | {row.notes} |"
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
        f"{os.path.dirname(sknn_scratch.__file__)}",
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
        help="dtypes of the small, wide and predict cases (default: both)",
    )
    parser.add_argument("--repeats", type=int, help="repeats of every case")
    parser.add_argument("--epochs", type=int, help="epochs of the small and wide cases")
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
    print("times: minimum over interleaved repeats (median in the detail)")
    started = time.perf_counter()
    rows: list[Row] = []
    for name in ALL_CASES:
        if name not in args.cases:
            continue
        case = config[name]
        repeats = args.repeats or case.repeats
        if isinstance(case, TrainCase):
            for dtype_name in args.dtypes:
                epochs = args.epochs or case.epochs
                rows.append(run_train_case(case, np.dtype(dtype_name), epochs, repeats))
        elif isinstance(case, LbfgsCase):
            rows.append(run_lbfgs_case(case, repeats))
        else:
            for dtype_name in args.dtypes:
                rows.append(run_predict_case(case, np.dtype(dtype_name), repeats))
    print("\nSummary (minimum of the repeats; (n×) = ratio to the floor):\n")
    print(markdown_table(rows))
    print(
        f"\ntotal wall time {time.perf_counter() - started:.1f} s; "
        f"load average at the end {load_average()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
