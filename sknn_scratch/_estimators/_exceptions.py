"""The errors the estimators raise beyond scikit-learn's own.

Where scikit-learn raises the same error, the message begins with
scikit-learn's sentence, so that code matching scikit-learn's messages keeps
working, and goes on with our advice.
"""

import warnings


class NotIncrementalError(AttributeError, ValueError):
    """``partial_fit`` was asked of an estimator whose parameters rule it out
    (the lbfgs solver, balanced class weights, or early stopping).

    An ``AttributeError``, so that ``hasattr(est, "partial_fit")`` is False as
    for scikit-learn's lbfgs MLP, and a ``ValueError`` because it comes from a
    parameter value.
    """


class InvalidInputError(ValueError, TypeError):
    """Input data of the wrong type.

    A ``ValueError``, as for every bad input, and a ``TypeError`` as NumPy's
    own conversion error was, so that code catching either keeps working.
    """


# scikit-learn's MLP raises this when training ends on non-finite weights.
SKLEARN_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain "
    "large values and need to be preprocessed."
)

# What to try when training diverges (errors and the early-stopping warning).
DIVERGENCE_ADVICE = (
    "Scale the inputs (for example with sklearn.preprocessing.StandardScaler), "
    "and the targets of a regression, or lower learning_rate_init ('sgd' and "
    "'adam')."
)


class TrainingDivergedError(ValueError):
    """The loss or the weights became non-finite during training."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{SKLEARN_NON_FINITE} Training diverged: {what}. {DIVERGENCE_ADVICE}"
        )


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning attributed to the line of sknn_scratch that calls this.

    As scikit-learn's warnings are attributed to scikit-learn, so that
    ``warnings.filterwarnings(..., module="sknn_scratch")`` reaches ours as
    ``module="sklearn"`` reaches scikit-learn's.
    """
    warnings.warn(message, category, stacklevel=2)
