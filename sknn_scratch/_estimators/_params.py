"""The allowed values of every constructor parameter, stated once.

``validate_params`` is called at the start of ``fit`` and ``partial_fit`` (never
in ``__init__``, as scikit-learn requires) and raises a ``ValueError`` naming the
parameter, what it allows, and what it got.
"""

import itertools
import math
import re
from numbers import Integral, Real

import numpy as np
from sklearn.metrics import get_scorer_names

from .._reference._activations import ACTIVATIONS
from .._reference._embeddings import EMBEDDINGS
from .._reference._losses import LOSSES, REGRESSION_LOSSES
from .._reference._optimizers import SCHEDULES, SOLVERS
from ._validation import LOSS_SCORING


class _Constraint:
    def is_satisfied_by(self, value) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class _Options(_Constraint):
    def __init__(self, *options: str) -> None:
        self.options = options

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


class _Number(_Constraint):
    """An int (``integer=True``) or real number in a range; never NaN or a bool."""

    def __init__(self, low, high, *, integer=False, closed="both", allow_inf=False):
        self.low, self.high = low, high
        self.integer, self.closed, self.allow_inf = integer, closed, allow_inf

    def is_satisfied_by(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if not isinstance(value, Integral if self.integer else Real):
            return False
        if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
            return False
        left_ok = self.low is None or (
            value >= self.low if self.closed in ("left", "both") else value > self.low
        )
        right_ok = self.high is None or (
            value <= self.high
            if self.closed in ("right", "both")
            else value < self.high
        )
        return left_ok and right_ok

    def describe(self) -> str:
        kind = "an int" if self.integer else "a float"
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{kind} in the range {left}{low}, {high}{right}"


class _Infinity(_Constraint):
    def is_satisfied_by(self, value) -> bool:
        return (
            isinstance(value, Real) and not isinstance(value, bool) and value == np.inf
        )

    def describe(self) -> str:
        return "np.inf"


class _None(_Constraint):
    def is_satisfied_by(self, value) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


class _Boolean(_Constraint):
    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "a bool"


class _RandomState(_Constraint):
    def is_satisfied_by(self, value) -> bool:
        if value is None or isinstance(value, np.random.RandomState):
            return True
        return (
            isinstance(value, Integral)
            and not isinstance(value, (bool, np.bool_))
            and 0 <= value <= 2**32 - 1
        )

    def describe(self) -> str:
        return "None, an int in the range [0, 2**32 - 1] or a numpy RandomState"


def _as_list(value) -> list | None:
    """A parameter that takes one number or a sequence of them, as a list.

    A 0-d array is its one number. A sequence is anything with a length and
    an order (a list, tuple, range or 1-d array); a one-pass iterator (a map,
    a generator) would be used up by validation before training reads it, and
    a dict or set has no order, so those give None, as do strings and arrays
    of more dimensions.
    """
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return [value.item()]
        return list(value) if value.ndim == 1 else None
    if isinstance(value, (str, bytes, dict, set, frozenset)):
        return None
    if not hasattr(value, "__iter__"):
        return [value]
    if not hasattr(value, "__len__") or not hasattr(value, "__getitem__"):
        return None
    return list(value)


class _LayerSizes(_Constraint):
    """A positive int, or a (possibly empty) sequence of positive ints."""

    def is_satisfied_by(self, value) -> bool:
        return normalize_hidden_layer_sizes(value) is not None

    def describe(self) -> str:
        return (
            "a positive int or a sequence (possibly empty) of positive ints, such "
            "as a tuple or list (not a one-pass iterator)"
        )


def normalize_hidden_layer_sizes(value) -> tuple[int, ...] | None:
    """``hidden_layer_sizes`` as a tuple of ints, or None if it is invalid."""
    sizes = _as_list(value)
    if sizes is None:
        return None
    for size in sizes:
        if not isinstance(size, Integral) or isinstance(size, (bool, np.bool_)):
            return None
        if size < 1:
            return None
    return tuple(int(size) for size in sizes)


class _DropoutRates(_Constraint):
    """A rate in [0, 1), or a sequence of them (one per hidden layer)."""

    def is_satisfied_by(self, value) -> bool:
        rates = _as_list(value)
        rate_ok = _Number(0, 1, closed="left")
        return rates is not None and all(rate_ok.is_satisfied_by(r) for r in rates)

    def describe(self) -> str:
        return (
            "a float in [0, 1) or a sequence of such floats, one per hidden layer, "
            "such as a tuple or list (not a one-pass iterator, a dict or a set)"
        )


def normalize_dropout(value, n_hidden: int) -> tuple[float, ...] | None:
    """Dropout rates, one per hidden layer, or None if the count is wrong.

    A single number (or 0-d array) is the rate of every hidden layer.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not hasattr(value, "__iter__"):
        return (float(value),) * n_hidden
    rates = tuple(float(rate) for rate in _as_list(value))
    return rates if len(rates) == n_hidden else None


class _QuantileLevels(_Constraint):
    """A sequence of at least one quantile in (0, 1), strictly increasing."""

    def is_satisfied_by(self, value) -> bool:
        return normalize_quantiles(value) is not None

    def describe(self) -> str:
        return (
            "a strictly increasing sequence of at least one float in the range "
            "(0, 1), such as a list, tuple or 1-d array (not a one-pass "
            "iterator, a dict or a set)"
        )


def normalize_quantiles(value) -> tuple[float, ...] | None:
    """``quantile`` given as a sequence, as a tuple of floats; None if it is
    not such a sequence (a single float, None, or a sequence that is empty,
    not increasing, or holds a value outside (0, 1))."""
    if isinstance(value, np.ndarray) and value.ndim != 1:
        return None  # a 0-d array is one number, not a sequence
    if not hasattr(value, "__iter__"):
        return None
    levels = _as_list(value)
    level_ok = _unit_interval("neither")
    if not levels or not all(level_ok.is_satisfied_by(q) for q in levels):
        return None
    if any(higher <= lower for lower, higher in itertools.pairwise(levels)):
        return None
    return tuple(float(q) for q in levels)


class _ClassWeight(_Constraint):
    def is_satisfied_by(self, value) -> bool:
        if value is None or (isinstance(value, str) and value == "balanced"):
            return True
        if not isinstance(value, dict):
            return False
        weight_ok = _Number(0, None, closed="left")
        return all(weight_ok.is_satisfied_by(w) for w in value.values())

    def describe(self) -> str:
        return "None, 'balanced' or a dict {label: non-negative weight}"


class _Scoring(_Constraint):
    """What early stopping monitors: None, 'loss', a scorer's name or a callable."""

    def is_satisfied_by(self, value) -> bool:
        if value is None or (callable(value) and not isinstance(value, type)):
            return True
        return isinstance(value, str) and (
            value == LOSS_SCORING or value in get_scorer_names()
        )

    def describe(self) -> str:
        return (
            f"None, {LOSS_SCORING!r}, a scorer name (one of "
            "sklearn.metrics.get_scorer_names()) or a callable "
            "scorer(estimator, X, y)"
        )


def _unit_interval(closed: str) -> _Number:
    return _Number(0, 1, closed=closed)


def _non_negative() -> _Number:
    return _Number(0, None, closed="left")


def _positive() -> _Number:
    return _Number(0, None, closed="neither")


def _positive_int() -> _Number:
    return _Number(1, None, integer=True, closed="left")


class _Columns(_Constraint):
    """Columns of X: a regular expression matched against X's column names, or
    a non-empty sequence of column indices, of column names, or a boolean
    mask."""

    def is_satisfied_by(self, value) -> bool:
        if isinstance(value, str):
            try:
                re.compile(value)
            except re.error:
                return False
            return True
        columns = _as_list(value)
        if columns is None or not columns:
            return False
        if all(isinstance(c, (bool, np.bool_)) for c in columns):
            return any(columns)
        if all(isinstance(c, str) for c in columns):
            return True
        return all(
            isinstance(c, Integral) and not isinstance(c, (bool, np.bool_))
            for c in columns
        )

    def describe(self) -> str:
        return (
            "a regular expression (str), or a non-empty sequence of column "
            "indices, of column names, or a boolean mask of columns"
        )


def embedding_columns(value, n_features: int, feature_names=None) -> np.ndarray:
    """``embedding_columns`` as increasing column indices of X (None: all).

    A str is a regular expression: the columns whose names it matches
    (``re.search``) are embedded, none possibly. A ValueError names a column
    X does not have, a mask of another length, or names given for an X
    without column names (``feature_names``, those seen in fit).
    """
    if value is None:
        return np.arange(n_features)
    if isinstance(value, str) or all(isinstance(c, str) for c in _as_list(value)):
        if feature_names is None:
            raise ValueError(
                f"embedding_columns={value!r} names columns, but X has no column "
                "names: pass a DataFrame with string column names, or give the "
                "columns as indices or a mask."
            )
        names = list(feature_names)
        if isinstance(value, str):
            pattern = re.compile(value)
            return np.array(
                [i for i, name in enumerate(names) if pattern.search(name)],
                dtype=np.intp,
            )
        unknown = [name for name in value if name not in names]
        if unknown:
            raise ValueError(
                f"embedding_columns names columns {unknown} that X does not have."
            )
        return np.unique([names.index(name) for name in value]).astype(np.intp)
    columns = _as_list(value)
    if all(isinstance(c, (bool, np.bool_)) for c in columns):
        if len(columns) != n_features:
            raise ValueError(
                f"embedding_columns is a mask of {len(columns)} columns, but X has "
                f"{n_features}."
            )
        return np.flatnonzero(columns)
    indices = np.asarray(columns, dtype=np.intp)
    outside = indices[(indices < 0) | (indices >= n_features)]
    if outside.size:
        raise ValueError(
            f"embedding_columns names columns {outside.tolist()} that X, of "
            f"{n_features} columns, does not have."
        )
    return np.unique(indices)


COMMON_CONSTRAINTS: dict[str, list[_Constraint]] = {
    "hidden_layer_sizes": [_LayerSizes()],
    "activation": [_Options(*ACTIVATIONS)],
    "solver": [_Options(*SOLVERS)],
    "alpha": [_non_negative()],
    "batch_size": [_Options("auto"), _positive_int()],
    "learning_rate": [_Options(*SCHEDULES)],
    "learning_rate_init": [_positive()],
    "power_t": [_non_negative()],
    "max_iter": [_positive_int()],
    "shuffle": [_Boolean()],
    "random_state": [_RandomState()],
    "tol": [_non_negative()],
    "verbose": [_Boolean(), _Number(0, None, integer=True, closed="left")],
    "warm_start": [_Boolean()],
    "momentum": [_unit_interval("both")],
    "nesterovs_momentum": [_Boolean()],
    "early_stopping": [_Boolean()],
    "validation_fraction": [_unit_interval("left")],
    "beta_1": [_unit_interval("left")],
    "beta_2": [_unit_interval("left")],
    "epsilon": [_positive()],
    "n_iter_no_change": [_positive_int(), _Infinity()],
    "max_fun": [_positive_int()],
    "dropout": [_DropoutRates()],
    "scoring": [_Scoring()],
    "warmup_fraction": [_unit_interval("left")],
    "weight_decay": [_non_negative()],
    "embedding": [_Options(*EMBEDDINGS), _None()],
    "embedding_columns": [_Columns(), _None()],
    "embedding_size": [_Number(2, None, integer=True, closed="left")],
    "embedding_scale": [_positive()],
    "n_members": [_positive_int()],
}

CLASSIFIER_CONSTRAINTS: dict[str, list[_Constraint]] = {
    **COMMON_CONSTRAINTS,
    "class_weight": [_ClassWeight()],
    "label_smoothing": [_unit_interval("left")],
}

REGRESSOR_CONSTRAINTS: dict[str, list[_Constraint]] = {
    **COMMON_CONSTRAINTS,
    "loss": [_Options(*REGRESSION_LOSSES)],
    # the settings of some losses (``Loss.settings``); a None allowed here is
    # an unset value, an error when the chosen loss reads it
    "huber_delta": [_positive()],
    "quantile": [_unit_interval("neither"), _QuantileLevels(), _None()],
    "normalize_y": [_Boolean()],
}


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter outside its allowed values.

    Both a ``ValueError`` and a ``TypeError``, like scikit-learn's own, so that
    code written against scikit-learn's MLP catches it the same way.
    """


def validate_params(estimator, constraints: dict[str, list[_Constraint]]) -> None:
    """Raise InvalidParameterError for the first parameter outside its values,
    or for a setting the chosen loss reads (``Loss.settings``) left at None."""
    params = estimator.get_params(deep=False)
    for name, allowed in constraints.items():
        value = params[name]
        if any(c.is_satisfied_by(value) for c in allowed):
            continue
        described = " or ".join(c.describe() for c in allowed)
        raise InvalidParameterError(
            f"The {name!r} parameter of {type(estimator).__name__} must be "
            f"{described}. Got {value!r} instead."
        )
    loss = params.get("loss")
    for name in LOSSES[loss].settings if loss in LOSSES else ():
        if params[name] is None:
            described = " or ".join(
                c.describe() for c in constraints[name] if not isinstance(c, _None)
            )
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(estimator).__name__} must be "
                f"{described} when loss={loss!r}. Got None instead."
            )
