"""Early stopping's validation set, and the score it monitors.

The validation set is either split off the training data
(``validation_fraction``) or given to fit as ``X_val``, ``y_val`` and
``sample_weight_val``, as HistGradientBoosting takes it. Either way it is held
twice: as the network reads it (validated X, targets encoded for the loss,
weights scaled as for training, see ``_sample_weight``) and, for a scorer, as
the user's representation (labels, and the user's rows when X had feature
names, so that predicting on them does not warn).

The monitored score (``scoring``) is the estimator's own (accuracy or R²,
computed from the network's outputs), the negative validation loss, or any
scikit-learn scorer called on the estimator, whose ``coefs_`` are views of the
weights being trained.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing

from .._reference._optimizers import STOCHASTIC_SOLVERS
from ._sample_weight import validate_sample_weight, weights_for_training

# Early stopping needs at least this many validation rows.
MIN_VALIDATION_ROWS = 2

# The ``scoring`` value that monitors the validation loss.
LOSS_SCORING = "loss"


class Part(NamedTuple):
    """Rows of the training data as the network reads them."""

    X: object
    T: np.ndarray
    sample_weight: np.ndarray | None


class ValidationSet(NamedTuple):
    """The rows early stopping validates on.

    ``X``, ``T``, ``sample_weight`` and ``alpha`` as the network reads them
    (the L2 penalty's strength that goes with these scaled weights);
    ``X_score`` and ``y_score`` as a scorer reads them, or None when
    ``scoring`` needs no scorer.
    """

    X: object
    T: np.ndarray
    sample_weight: np.ndarray | None
    alpha: float
    X_score: object = None
    y_score: object = None


def _uses_scorer(estimator) -> bool:
    scoring = estimator.scoring
    return scoring is not None and not (
        isinstance(scoring, str) and scoring == LOSS_SCORING
    )


def _scores_user_rows(estimator) -> bool:
    """Whether a scorer gets the user's rows rather than the validated ones:
    where X had feature names, which predicting on validated rows would warn
    about."""
    return hasattr(estimator, "feature_names_in_")


def given_validation_set(
    estimator, X_val, y_val, sample_weight_val, dtype, n_outputs: int
) -> ValidationSet | None:
    """The validation set given to fit, checked and encoded as the training
    data were (None when none is given).

    Raises ValueError where HistGradientBoosting does (one of X_val and y_val
    without the other; either without early stopping), where the set could
    not be used (sample_weight_val alone; the 'lbfgs' solver, which does not
    stop early), and for bad data, naming the validation set.
    """
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError(
                "sample_weight_val is provided, but X_val and y_val were not "
                "provided: it weighs the rows of X_val. Pass X_val and y_val too, "
                "or leave out sample_weight_val."
            )
        return None
    if y_val is None:
        raise ValueError("X_val is provided, but y_val was not provided.")
    if X_val is None:
        raise ValueError("y_val is provided, but X_val was not provided.")
    if not estimator.early_stopping:
        raise ValueError(
            "X_val and y_val are passed to fit while at the same time "
            "early_stopping is False. When passing X_val and y_val to fit, "
            "early_stopping should be set to True: they are the validation set "
            "that early stopping monitors."
        )
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise ValueError(
            "X_val and y_val are the validation set of early stopping, which "
            f"only the stochastic solvers {STOCHASTIC_SOLVERS} do; "
            f"solver={estimator.solver!r} trains on all of X at once. Leave out "
            "X_val and y_val, or choose a stochastic solver."
        )
    try:
        X, T, y = estimator._validate_validation_input(X_val, y_val, dtype)
        if T.shape[1] != n_outputs:
            per_target = estimator._outputs_per_target()
            raise ValueError(
                f"y_val gives {T.shape[1] // per_target} output(s) per row; the "
                f"training y gives {n_outputs // per_target}."
            )
        if X.shape[0] < MIN_VALIDATION_ROWS:
            raise ValueError(
                f"X_val has {X.shape[0]} row(s); early stopping needs at least "
                f"{MIN_VALIDATION_ROWS}."
            )
        weights = validate_sample_weight(sample_weight_val, X.shape[0])
        weights = estimator._apply_class_weight(weights, T)
        sample_weight, alpha = weights_for_training(weights, estimator.alpha, dtype)
    except ValueError as error:
        raise ValueError(
            f"Invalid validation set (X_val, y_val, sample_weight_val): {error}"
        ) from error
    if sp.issparse(X) and X.format != "csr":
        X = X.tocsr()
    if not _uses_scorer(estimator):
        return ValidationSet(X, T, sample_weight, alpha)
    X_score = X_val if _scores_user_rows(estimator) else X
    return ValidationSet(X, T, sample_weight, alpha, X_score, y)


def split_validation_set(estimator, full: Part, problem) -> tuple[Part, ValidationSet]:
    """The training part and the validation set split off it for early
    stopping (``validation_fraction``, stratified by ``problem.stratify``
    where it can be)."""
    n_rows = full.X.shape[0]
    n_validation = math.ceil(estimator.validation_fraction * n_rows)
    if n_validation < MIN_VALIDATION_ROWS:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or "
            f"the size of your dataset. validation_fraction="
            f"{estimator.validation_fraction} of {n_rows} samples leaves "
            f"{n_validation} for validation, and early stopping needs at least "
            f"{MIN_VALIDATION_ROWS}."
        )
    arrays = full if full.sample_weight is not None else full[:2]
    scorer_arrays = (problem.y, np.arange(n_rows)) if _uses_scorer(estimator) else ()
    # The split draws the same rows whatever arrays it splits.
    split = functools.partial(
        train_test_split,
        *arrays,
        *scorer_arrays,
        random_state=problem.random_state,
        test_size=estimator.validation_fraction,
    )
    try:
        split = split(stratify=problem.stratify)
    except ValueError:
        if problem.stratify is None:
            raise
        # Too few rows for one of each class on both sides (or a class of a
        # single sample): a random split, as scikit-learn's MLP makes for
        # multiclass targets.
        split = split(stratify=None)
    n_arrays = len(arrays)
    train_X, val_X, train_T, val_T = split[:4]
    weights = (None, None) if full.sample_weight is None else split[4:6]
    train = Part(train_X, train_T, weights[0])
    validation = ValidationSet(val_X, val_T, weights[1], problem.alpha)
    if scorer_arrays:
        val_y, val_rows = split[2 * n_arrays + 1], split[2 * n_arrays + 3]
        X_score = (
            _safe_indexing(problem.X_given, val_rows)
            if _scores_user_rows(estimator)
            else val_X
        )
        validation = validation._replace(X_score=X_score, y_score=val_y)
    for name, part_weights in (("training", weights[0]), ("validation", weights[1])):
        if part_weights is not None and not part_weights.any():
            raise ValueError(
                f"Every sample of the {name} set split off for early "
                "stopping has zero weight; increase validation_fraction "
                "or give more samples a weight."
            )
    return train, validation


def validation_scorer(
    estimator, network, validation: ValidationSet
) -> Callable[[np.ndarray], float]:
    """The score early stopping monitors (higher is better), as a function of
    the network's (finite) outputs on the validation rows."""
    scoring = estimator.scoring
    if scoring is None:  # the estimator's score, from the outputs at hand
        return functools.partial(
            estimator._score_outputs,
            T=validation.T,
            sample_weight=validation.sample_weight,
        )
    if isinstance(scoring, str) and scoring == LOSS_SCORING:

        def negative_loss(outputs: np.ndarray) -> float:
            # the data loss alone: no L2 penalty (alpha=0), no dropout
            return -network.loss(validation.X, validation.T, validation.sample_weight)

        return negative_loss
    scorer = check_scoring(estimator, scoring)
    weights = (
        {}
        if validation.sample_weight is None
        else {"sample_weight": validation.sample_weight}
    )

    def score(outputs: np.ndarray) -> float:
        # the estimator predicts with the weights being trained (its coefs_
        # are views of them)
        return float(
            scorer(estimator, validation.X_score, validation.y_score, **weights)
        )

    return score
