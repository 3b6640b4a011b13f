"""scikit-learn's own estimator checks, run in full with no expected failures.

A check that skips itself (for instance because an optional package such as
pandas is missing) fails here instead: the promise is that every check runs.
"""

from functools import partial
from unittest import SkipTest

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

# Skips that follow from our API (a method we deliberately do not have).
STRUCTURAL_SKIPS = {"check_classifiers_multilabel_output_format_decision_function"}


def _check_name(check) -> str:
    while isinstance(check, partial):
        check = check.func
    return check.__name__


ESTIMATORS = [
    ScratchMLPClassifier(),
    ScratchMLPRegressor(),
    # class weights (an addition of ours) must not break scikit-learn's contract
    ScratchMLPClassifier(class_weight="balanced"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    try:
        check(estimator)
    except SkipTest as skip:
        if _check_name(check) in STRUCTURAL_SKIPS:
            pytest.skip(str(skip))
        pytest.fail(f"{_check_name(check)} was skipped: {skip}")
