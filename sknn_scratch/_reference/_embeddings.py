"""Numerical embeddings: the first layer's view of chosen numeric columns.

Gorishniy, Rubachev and Babenko (2022, "On Embeddings for Numerical Features
in Tabular Deep Learning") showed that an MLP learns more from a numeric
feature x when it sees x through a richer encoding than the number itself.
An embedding maps each chosen column j to ``size`` values (``2 size`` for the
periodic one); the other columns pass through as they are, after the embedded
ones; and the network's first layer reads the result. Two kinds, one entry each
of ``EMBEDDINGS``:

**piecewise_linear** (PLE). Bins with edges e_0 < e_1 < ... < e_T, the
quantiles of the column in the first training data (weighted by
sample_weight), fixed from then on; the encoding of x has one value per bin,

    PLE_t(x) = (x - e_{t-1}) / (e_t - e_{t-1}) clipped to [0, 1],

except that the first bin is not clipped below and the last not above (so the
encoding stays linear beyond the range seen). x in bin t reads as t - 1 ones,
its position in bin t, and zeros. Nothing in it trains: the first layer does.

**periodic** (the "lite" PLR). Trainable frequencies c_j1..c_jk per column,
drawn from N(0, σ²):

    P(x) = [cos(2π c_j1 x), ..., cos(2π c_jk x), sin(2π c_j1 x), ..., sin(2π c_jk x)],

read by the first layer, which is the embedding's linear map (shared by the
columns, where the paper's PLR has one per column) and whose activation is
its non-linearity. With δ the gradient of the loss with respect to P(x) (the
first layer's input gradient, δ_1 W_1ᵀ), and v = 2π c x,

    ∂E/∂c = Σ_rows 2π x (δ_sin cos v - δ_cos sin v).

The trainable parameters (the frequencies) sit after every weight and bias in
the network's flat parameter vector: neither the L2 penalty nor weight decay
reaches them.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np


# -- piecewise linear ---------------------------------------------------------------
def _quantile_edges(column: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """At most ``size`` bins: the distinct weighted quantiles of the finite
    values, at least 2 edges (a constant column gets one bin around its value).

    The quantile of level q is the smallest value whose share of the weight,
    with the values below it, reaches q (the inverted CDF): a row of weight 2
    gives the edges that the row given twice would, as ``sample_weight`` means.
    """
    finite = np.isfinite(column) & (weights > 0)
    values, weights = column[finite], weights[finite]
    if values.size == 0:
        return np.array([-1.0, 1.0])
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(weights[order])
    levels = np.linspace(0.0, 1.0, size + 1) * cumulative[-1]
    at = np.minimum(np.searchsorted(cumulative, levels), values.size - 1)
    edges = np.unique(values[at])
    if edges.size < 2:
        edges = np.array([edges[0] - 1.0, edges[0] + 1.0])
    return edges


def _piecewise_linear_fit(X: np.ndarray, weights: np.ndarray, size: int) -> list:
    return [
        _quantile_edges(np.asarray(X[:, j], float), weights, size)
        for j in range(X.shape[1])
    ]


def _piecewise_linear_width(constants: list[np.ndarray], size: int) -> list[int]:
    return [edges.size - 1 for edges in constants]


def _piecewise_linear_forward(X, constants, params, out) -> None:
    start = 0
    for j, edges in enumerate(constants):
        width = edges[1:] - edges[:-1]
        block = out[:, start : start + width.size]
        np.subtract(X[:, j : j + 1], edges[:-1], out=block)
        block /= width
        # every bin but the first is clipped below, every bin but the last above
        np.maximum(block[:, 1:], 0.0, out=block[:, 1:])
        np.minimum(block[:, :-1], 1.0, out=block[:, :-1])
        start += width.size


# -- periodic ------------------------------------------------------------------------
_TWO_PI = 2.0 * math.pi


def _periodic_width(constants, size: int) -> list[int]:
    return [2 * size] * len(constants)


def _periodic_fit(X: np.ndarray, weights: np.ndarray, size: int) -> list[None]:
    return [None] * X.shape[1]


def _periodic_forward(X, constants, params, out) -> None:
    size = params.shape[1]
    for j in range(X.shape[1]):
        phase = out[:, 2 * size * j : 2 * size * j + size]
        np.multiply(X[:, j : j + 1], params[j] * _TWO_PI, out=phase)
        np.sin(phase, out=out[:, 2 * size * j + size : 2 * size * (j + 1)])
        np.cos(phase, out=phase)


def _periodic_backward(X, constants, params, out, delta, grad) -> None:
    # out holds [cos v, sin v] per column; grad receives Σ_rows ∂E/∂c
    size = params.shape[1]
    for j in range(X.shape[1]):
        cosines = out[:, 2 * size * j : 2 * size * j + size]
        sines = out[:, 2 * size * j + size : 2 * size * (j + 1)]
        d_cos = delta[:, 2 * size * j : 2 * size * j + size]
        d_sin = delta[:, 2 * size * j + size : 2 * size * (j + 1)]
        # 2π x (δ_sin cos v - δ_cos sin v), summed over the rows
        per_row = d_sin * cosines - d_cos * sines
        grad[j] = (X[:, j] * _TWO_PI) @ per_row


class Embedding(NamedTuple):
    """A kind of numerical embedding: one entry of ``EMBEDDINGS``.

    ``fit(X, weights, size)`` returns the constants of each embedded column
    (PLE's bin edges) from its training values and the rows' weights;
    ``widths(constants, size)`` the number of values each column becomes;
    ``forward(X, constants, params, out)`` writes the embedding of the
    embedded columns X into ``out``; ``backward(X,
    constants, params, out, delta, grad)`` writes the gradient of the
    trainable parameters (``params``: one row of ``size`` per column) from
    ``delta``, the loss's gradient with respect to ``out``; None where nothing
    trains.
    """

    description: str
    formula: str
    fit: Callable
    widths: Callable
    forward: Callable
    backward: Callable | None


EMBEDDINGS: dict[str, Embedding] = {
    "piecewise_linear": Embedding(
        "piecewise-linear encoding on the quantile bins of the first fit, fixed (PLE)",
        "PLE_t(x) = clip((x - e_(t-1)) / (e_t - e_(t-1)), 0, 1)",
        _piecewise_linear_fit,
        _piecewise_linear_width,
        _piecewise_linear_forward,
        None,
    ),
    "periodic": Embedding(
        "cosines and sines of trainable frequencies, read by the first layer "
        "(the lite PLR)",
        "[cos(2π c x), sin(2π c x)], c ~ N(0, σ²) trained",
        _periodic_fit,
        _periodic_width,
        _periodic_forward,
        _periodic_backward,
    ),
}


class NumericalEmbedding:
    """The embedding of some columns of X, in front of a network's first layer.

    Parameters
    ----------
    kind : str
        A key of ``EMBEDDINGS``.
    columns : ndarray of int
        The embedded columns, in increasing order; the others pass through.
    n_features : int
        Columns of X.
    size : int
        Bins (piecewise_linear) or frequencies (periodic) per column.
    scale : float, default=0.1
        σ of the trainable parameters' initial draws (periodic).
    constants : list, default=None
        The fitted constants of each column (``fit``), None until fitted.
    """

    def __init__(
        self, kind, columns, n_features: int, size: int, scale=0.1, constants=None
    ):
        self.kind = kind
        self.scale = float(scale)
        self.entry = EMBEDDINGS[kind]
        self.columns = np.asarray(columns, dtype=np.intp)
        self.passthrough = np.setdiff1d(np.arange(n_features), self.columns)
        self.n_features = n_features
        self.size = int(size)
        self.constants = constants

    def fit(self, embedded: np.ndarray, sample_weight=None) -> None:
        """The constants of each embedded column from its training values
        (``embedded``: the embedded columns of the training data, dense) and
        the rows' weights (None: all 1)."""
        embedded = np.asarray(embedded)
        weights = (
            np.ones(embedded.shape[0])
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64)
        )
        self.constants = self.entry.fit(embedded, weights, self.size)

    @property
    def trainable(self) -> bool:
        return self.entry.backward is not None

    @property
    def n_params(self) -> int:
        """Trainable parameters (one row of ``size`` per embedded column)."""
        return self.columns.size * self.size if self.trainable else 0

    @property
    def embedded_width(self) -> int:
        return int(sum(self.entry.widths(self.constants, self.size)))

    @property
    def width(self) -> int:
        """Columns the first layer reads: the embedded ones, then the rest."""
        return self.embedded_width + self.passthrough.size

    def initialize(self, params: np.ndarray, random_state) -> None:
        """Draw the trainable parameters (periodic: frequencies ~ N(0, σ²))."""
        if self.n_params:
            params[...] = random_state.normal(0.0, self.scale, params.shape)

    def forward(self, X, params: np.ndarray | None, out: np.ndarray) -> None:
        """The first layer's input for the rows of X, into ``out``."""
        embedded = out[:, : self.embedded_width]
        columns = X[:, self.columns]
        if not isinstance(columns, np.ndarray):  # sparse
            columns = columns.toarray()
        self.entry.forward(columns, self.constants, params, embedded)
        rest = X[:, self.passthrough]
        out[:, self.embedded_width :] = (
            rest if isinstance(rest, np.ndarray) else (rest.toarray())
        )

    def backward(self, X, params, out, delta, grad: np.ndarray) -> None:
        """The trainable parameters' gradient (summed over the rows of X) from
        ``delta``, the gradient with respect to ``out`` (``forward``'s)."""
        columns = X[:, self.columns]
        if not isinstance(columns, np.ndarray):
            columns = columns.toarray()
        width = self.embedded_width
        self.entry.backward(
            columns, self.constants, params, out[:, :width], delta[:, :width], grad
        )
