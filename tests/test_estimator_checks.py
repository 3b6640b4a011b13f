"""scikit-learn's own estimator checks, over a covering set of settings.

Every solver, every activation and every regression loss with a real-valued
target (read from the tables, so that a new entry is covered as soon as it is
added) and each of our own options appear in at least one configuration; the
full cross-product would take too long.

**The rule for expected failures.** Every check that scikit-learn's own MLP
passes with the same settings must pass. A check may be declared an expected
failure, with its reason, only when

- scikit-learn's MLP fails it identically with the same settings
  (``sklearn_fails_too``; ``test_declared_failures_fail_for_scikit_learn_too``
  shows it) or, for an activation it does not have, with the settings that
  behave alike (``sklearn_analogue``, shown by the same test), or
- the option cannot satisfy it by nature.

The declarations are rows of a table (``EXPECTED_FAILURES`` in
``sknn_scratch/_estimators/_expected_failures.py``), each for the
configurations that share a cause, and the public
``sknn_scratch.utils.expected_failed_checks`` reads it, here as in the users'
own suites; the user guide (docs/drop_in.md) links to it. Every row fails on a
configuration checked here. Expected failures are strict (``xfail_strict`` in
pyproject.toml): a declared check that passes on a checked configuration fails
the suite, so the table cannot outlive its reasons.

A check that skips itself (for instance because an optional package such as
pandas is missing) fails here instead: the promise is that every check runs.
"""

from functools import partial
from unittest import SkipTest

import numpy as np
import pytest
from helpers import SKLEARN_TWIN, loss_settings
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    estimator_checks_generator,
    parametrize_with_checks,
)

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch._estimators._expected_failures import EXPECTED_FAILURES
from sknn_scratch._reference._activations import ACTIVATIONS
from sknn_scratch._reference._embeddings import EMBEDDINGS
from sknn_scratch._reference._losses import LOSSES, REGRESSION_LOSSES
from sknn_scratch._reference._optimizers import SOLVERS
from sknn_scratch.utils import REASON_SEPARATOR, expected_failed_checks

# Skips that follow from our API (a method we deliberately do not have).
STRUCTURAL_SKIPS = {"check_classifiers_multilabel_output_format_decision_function"}


def _check_name(check) -> str:
    while isinstance(check, partial):
        check = check.func
    return check.__name__


def covering_settings() -> list[dict]:
    """Each solver and each activation at least once: the i-th setting pairs
    the i-th activation with the i-th solver, both lists taken cyclically."""
    solvers, activations = list(SOLVERS), list(ACTIVATIONS)
    return [
        {
            "solver": solvers[i % len(solvers)],
            "activation": activations[i % len(activations)],
        }
        for i in range(max(len(solvers), len(activations)))
    ]


# Our options, each on its own (scikit-learn's defaults otherwise). Early
# stopping holds out 0.2, so that the checks' 10-row data leave it 2 rows to
# validate on: with 0.1 it cannot run on them at all, in scikit-learn's MLP as
# in ours.
EARLY_STOPPING = {"early_stopping": True, "validation_fraction": 0.2}
# What early stopping monitors: a scorer by name (the classifier's, through
# predict_proba), and the validation loss (the regressor's).
SCORER_BY_NAME = {**EARLY_STOPPING, "scoring": "neg_log_loss"}
LOSS_MONITORED = {**EARLY_STOPPING, "scoring": "loss"}
# A schedule with its warm-up, and decoupled weight decay, together.
TRAINING_CONTROL = {
    "learning_rate": "cosine",
    "warmup_fraction": 0.1,
    "weight_decay": 0.01,
}
# Numerical embeddings (the periodic one with fewer frequencies than its
# default 16, which only cost time on the checks' data), packed members, and
# both together.
TABULAR = [
    {"embedding": "periodic", "embedding_size": 4},
    {"embedding": "piecewise_linear"},
    {"n_members": 3},
    {"n_members": 2, "embedding": "piecewise_linear"},
]
OPTIONS = {
    ScratchMLPClassifier: [
        # class_weight dicts: naming label 1 only, which the data of nearly
        # every check have; the common binary one; naming a label that no
        # check's data have
        {"class_weight": {1: 2.0}},
        {"class_weight": {0: 1.0, 1: 2.0}},
        {"class_weight": {4: 2.0}},
        {"class_weight": "balanced"},
        {"dropout": 0.2},
        EARLY_STOPPING,
        SCORER_BY_NAME,
        TRAINING_CONTROL,
        {"label_smoothing": 0.1},
        *TABULAR,
    ],
    ScratchMLPRegressor: [
        # the analogue in scikit-learn's MLP of sgd with leaky_relu units
        {"solver": "sgd", "activation": "identity"},
        {"dropout": 0.2},
        EARLY_STOPPING,
        LOSS_MONITORED,
        TRAINING_CONTROL,
        # the other regression losses; not a log link's (poisson), whose
        # non-negative targets the checks' data are not
        *(
            {"loss": name, **loss_settings(name)}
            for name in REGRESSION_LOSSES
            if name != "squared_error" and LOSSES[name].output_activation == "identity"
        ),
        # several quantiles in one network
        {"loss": "quantile", "quantile": [0.1, 0.5, 0.9]},
        *TABULAR,
        {"normalize_y": True},
    ],
}

CONFIGURATIONS = [
    (estimator_class, settings)
    for estimator_class in (ScratchMLPClassifier, ScratchMLPRegressor)
    for settings in [{}, *covering_settings(), *OPTIONS[estimator_class]]
]


def _run(check, estimator) -> None:
    try:
        check(estimator)
    except SkipTest as skip:
        if _check_name(check) in STRUCTURAL_SKIPS:
            pytest.skip(str(skip))
        pytest.fail(f"{_check_name(check)} was skipped: {skip}")


@parametrize_with_checks(
    [estimator_class(**s) for estimator_class, s in CONFIGURATIONS if not s],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    """The defaults; the quick run (pytest -m "not slow") checks these alone."""
    _run(check, estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [estimator_class(**s) for estimator_class, s in CONFIGURATIONS if s],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator_in_covering_settings(estimator, check):
    _run(check, estimator)


def test_every_solver_activation_loss_and_option_is_covered():
    settings = [s for _, s in CONFIGURATIONS]
    assert {s.get("solver") for s in settings} >= set(SOLVERS)
    assert {s.get("activation") for s in settings} >= set(ACTIVATIONS)
    real_valued = {
        n for n in REGRESSION_LOSSES if LOSSES[n].output_activation == "identity"
    }
    assert {s.get("loss", "squared_error") for s in settings} >= real_valued
    assert any(isinstance(s.get("quantile"), list) for s in settings)
    classifier_options = [s for c, s in CONFIGURATIONS if c is ScratchMLPClassifier]
    assert {"class_weight": "balanced"} in classifier_options
    assert any(isinstance(s.get("class_weight"), dict) for s in classifier_options)
    for option in ("dropout", "early_stopping", "scoring", "n_members"):
        for estimator_class in (ScratchMLPClassifier, ScratchMLPRegressor):
            assert any(option in s for c, s in CONFIGURATIONS if c is estimator_class)
    for estimator_class in (ScratchMLPClassifier, ScratchMLPRegressor):
        options = [s for c, s in CONFIGURATIONS if c is estimator_class]
        assert {s.get("embedding") for s in options} >= set(EMBEDDINGS)
        assert any("n_members" in s and "embedding" in s for s in options)
    regressor_options = [s for c, s in CONFIGURATIONS if c is ScratchMLPRegressor]
    assert any(s.get("normalize_y") for s in regressor_options)


def _applies(row, estimator) -> bool:
    return isinstance(estimator, row.estimators) and row.when.holds(
        estimator.get_params(deep=False)
    )


def _checked_configurations_of(row) -> list[tuple[type, dict]]:
    """The checked configurations the row declares failures for."""
    return [
        (estimator_class, settings)
        for estimator_class, settings in CONFIGURATIONS
        if _applies(row, estimator_class(**settings))
    ]


def _estimator_id(value) -> str | None:
    """An estimator's repr on one line; pytest's own id for anything else."""
    return " ".join(repr(value).split()) if hasattr(value, "get_params") else None


def _row_id(row) -> str:
    names = "+".join(c.__name__ for c in row.estimators)
    return f"{names}-{row.when.wording}-{row.checks[0]}"


@pytest.mark.parametrize("row", EXPECTED_FAILURES, ids=_row_id)
def test_declared_failures_belong_to_configurations_that_are_checked(row):
    """Each row, for each of its estimators, declares the failures of a checked
    configuration, where strict expected failures show that its checks fail."""
    checked_classes = {c for c, _ in _checked_configurations_of(row)}
    assert checked_classes == set(row.estimators)


@pytest.mark.parametrize("row", EXPECTED_FAILURES, ids=_row_id)
def test_declared_checks_are_checks_scikit_learn_runs(row):
    """A misspelt name would declare nothing, and no test would notice."""
    for estimator_class, settings in _checked_configurations_of(row):
        estimator = estimator_class(**settings)
        run = {_check_name(c) for _, c in estimator_checks_generator(estimator)}
        assert set(row.checks) <= run, set(row.checks) - run


def _failure_of(estimator, check_name: str) -> BaseException | None:
    """Run one of scikit-learn's checks on an estimator; its exception."""
    for checked, check in estimator_checks_generator(estimator, mark=None):
        if _check_name(check) == check_name:
            try:
                check(checked)
            except Exception as error:  # any failure counts
                return error
            return None
    raise LookupError(f"{check_name} is not among the checks")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    "row, check, estimator_class, settings",
    [
        pytest.param(
            row, check, estimator_class, settings, id=f"{_row_id(row)}-{check}"
        )
        for row in EXPECTED_FAILURES
        if row.sklearn_fails_too or row.sklearn_analogue
        for estimator_class, settings in _checked_configurations_of(row)
        for check in row.checks
    ],
)
def test_declared_failures_fail_for_scikit_learn_too(
    row, check, estimator_class, settings
):
    """scikit-learn's MLP fails the check the same way, with the same settings
    or, where it lacks them, with their analogue. (Settings of options it has
    no parameter for, such as ``scoring``, are left out: the row's cause is
    in the settings it shares.)"""
    ours = _failure_of(estimator_class(**settings), check)
    twin = SKLEARN_TWIN[estimator_class]
    shared = {k: v for k, v in settings.items() if k in twin().get_params()}
    sklearn_settings = {**shared, **(row.sklearn_analogue or {})}
    theirs = _failure_of(twin(**sklearn_settings), check)
    assert ours is not None and theirs is not None
    assert type(theirs) is type(ours) or (
        isinstance(ours, ValueError) and isinstance(theirs, ValueError)
    ), (ours, theirs)


# -- expected_failed_checks beyond the configurations checked above -----------

WEIGHTED_EQUALS_REPEATED = {
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
}
MULTILABEL = {
    "check_classifiers_multilabel_output_format_decision_function",
    "check_classifiers_multilabel_output_format_predict",
    "check_classifiers_multilabel_output_format_predict_proba",
    "check_classifiers_multilabel_representation_invariance",
}
# the checks that fit a classifier on data labelled 1 and 2
ON_LABELS_1_AND_2 = {
    "check_estimators_dtypes",
    "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array",
    "check_sample_weights_shape",
    "check_sample_weights_not_overwritten",
    "check_classifier_data_not_an_array",
    "check_fit2d_1feature",
}


def test_the_defaults_declare_nothing():
    assert expected_failed_checks(ScratchMLPClassifier()) == {}
    assert expected_failed_checks(ScratchMLPRegressor()) == {}


@pytest.mark.parametrize(
    "estimator",
    [ScratchMLPClassifier(**s) for s in TABULAR]
    + [ScratchMLPRegressor(**s) for s in [*TABULAR, {"normalize_y": True}]],
    ids=_estimator_id,
)
def test_the_tabular_options_declare_nothing(estimator):
    # they pass every check (the covering run above shows it, strictly)
    assert expected_failed_checks(estimator) == {}


# Configurations that are not checked above, with the checks they fail and a
# word of the reason. The declared checks are run on each: they fail.
BEYOND_THE_CHECKED = [
    (
        ScratchMLPClassifier(dropout=0.2, hidden_layer_sizes=(7,)),
        WEIGHTED_EQUALS_REPEATED,
        "dropout",
    ),
    (
        ScratchMLPRegressor(dropout=(0.0, 0.3), hidden_layer_sizes=(5, 5)),
        WEIGHTED_EQUALS_REPEATED,
        "dropout",
    ),
    (
        ScratchMLPRegressor(
            early_stopping=True, validation_fraction=0.3, solver="sgd", alpha=1e-3
        ),
        WEIGHTED_EQUALS_REPEATED,
        "early stopping",
    ),
    (
        ScratchMLPClassifier(
            early_stopping=True, validation_fraction=0.25, activation="logistic"
        ),
        WEIGHTED_EQUALS_REPEATED,
        "early stopping",
    ),
    (
        ScratchMLPClassifier(class_weight={1: 3.0}, solver="sgd"),
        MULTILABEL | {"check_classifiers_classes"},
        "class_weight",
    ),
    (
        ScratchMLPClassifier(class_weight={0: 5.0, 1: 1.0}, solver="lbfgs"),
        MULTILABEL | {"check_classifiers_classes"} | ON_LABELS_1_AND_2,
        "class_weight",
    ),
    (ScratchMLPClassifier(class_weight={}), MULTILABEL, "multilabel"),
    (
        ScratchMLPRegressor(solver="sgd", activation="logistic", alpha=1e-2),
        {"check_regressors_train"},
        "R²",
    ),
    # dropout beside the tabular options: its rows, and no more
    pytest.param(
        ScratchMLPRegressor(
            n_members=2, embedding="piecewise_linear", normalize_y=True, dropout=0.2
        ),
        WEIGHTED_EQUALS_REPEATED,
        "dropout",
        marks=pytest.mark.slow,
    ),
    (
        ScratchMLPRegressor(
            loss="quantile", quantile=(0.25, 0.75), hidden_layer_sizes=(20,)
        ),
        {
            "check_regressors_train",
            "check_estimator_sparse_array",
            "check_estimator_sparse_matrix",
        },
        "quantile",
    ),
]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    "estimator, checks, word", BEYOND_THE_CHECKED, ids=_estimator_id
)
def test_declarations_hold_beyond_the_checked_configurations(estimator, checks, word):
    declared = expected_failed_checks(estimator)
    assert set(declared) == checks
    assert all(word in reason for reason in declared.values())
    for check in checks:
        assert _failure_of(estimator, check) is not None, check


# Configurations beside a declared cause, which do not share it: nothing is
# declared, and the checks the cause would fail pass.
WITHOUT_THE_CAUSE = [
    # no hidden layer, no unit to drop
    (
        ScratchMLPClassifier(dropout=0.2, hidden_layer_sizes=()),
        WEIGHTED_EQUALS_REPEATED,
    ),
    (
        ScratchMLPRegressor(dropout=(0.0, 0.0), hidden_layer_sizes=(5, 5)),
        WEIGHTED_EQUALS_REPEATED,
    ),
    # L-BFGS ignores early stopping, as in scikit-learn's MLP
    (
        ScratchMLPRegressor(early_stopping=True, solver="lbfgs"),
        WEIGHTED_EQUALS_REPEATED,
    ),
    # logistic units stay below the R² bar under sgd only
    (ScratchMLPRegressor(activation="logistic"), {"check_regressors_train"}),
    # the squared error ignores the quantiles: y's shape is predicted
    (
        ScratchMLPRegressor(quantile=[0.1, 0.9]),
        {"check_regressors_train", "check_estimator_sparse_matrix"},
    ),
    # (the classifier has no decision_function: that check skips itself)
    (ScratchMLPClassifier(class_weight="balanced"), MULTILABEL - STRUCTURAL_SKIPS),
    # weighted bins, moments and members' losses: weights are repeated rows
    pytest.param(
        ScratchMLPRegressor(
            n_members=3,
            embedding="piecewise_linear",
            embedding_size=5,
            normalize_y=True,
        ),
        WEIGHTED_EQUALS_REPEATED,
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("estimator, checks", WITHOUT_THE_CAUSE, ids=_estimator_id)
def test_nothing_is_declared_without_the_cause(estimator, checks):
    assert expected_failed_checks(estimator) == {}
    for check in checks:
        assert _failure_of(estimator, check) is None, check


def test_two_causes_of_one_failure_give_both_reasons():
    lbfgs_relu = expected_failed_checks(ScratchMLPClassifier(solver="lbfgs"))
    weighted = expected_failed_checks(ScratchMLPClassifier(class_weight={1: 2.0}))
    both = expected_failed_checks(
        ScratchMLPClassifier(solver="lbfgs", class_weight={1: 2.0})
    )
    (shared,) = set(lbfgs_relu) & set(weighted)
    assert both[shared] == lbfgs_relu[shared] + REASON_SEPARATOR + weighted[shared]
    assert both == {**lbfgs_relu, **weighted, shared: both[shared]}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_estimator_is_left_as_it_was_and_the_dict_is_the_callers():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    fitted = ScratchMLPClassifier(dropout=0.2, max_iter=5, random_state=0).fit(X, y)
    params, coefs = fitted.get_params(), [c.copy() for c in fitted.coefs_]
    declared = expected_failed_checks(fitted)
    assert declared == expected_failed_checks(clone(fitted))  # fitted or not
    declared.clear()
    assert expected_failed_checks(fitted) == expected_failed_checks(clone(fitted))
    assert fitted.get_params() == params
    for now, before in zip(fitted.coefs_, coefs, strict=True):
        np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize(
    "not_ours, named",
    [
        (MLPClassifier(), "MLPClassifier"),
        (make_pipeline(StandardScaler(), ScratchMLPClassifier()), "Pipeline"),
        ("ScratchMLPClassifier", "str"),
        (ScratchMLPClassifier, "the class ScratchMLPClassifier"),
        (MLPClassifier, "the class MLPClassifier"),
    ],
    ids=["sklearn-twin", "pipeline", "string", "our-class", "another-class"],
)
def test_refuses_what_is_not_one_of_our_estimators(not_ours, named):
    with pytest.raises(ValueError, match=rf"^expected_failed_checks .* got {named}\.$"):
        expected_failed_checks(not_ours)


@pytest.mark.parametrize(
    "estimator",
    [
        ScratchMLPClassifier(solver="newton"),
        ScratchMLPRegressor(dropout=1.5),
        ScratchMLPRegressor(dropout=(0.1, 0.2), hidden_layer_sizes=(5,)),
        ScratchMLPClassifier(dropout=0.2, solver="lbfgs"),
        ScratchMLPClassifier(embedding="fourier"),
        ScratchMLPClassifier(embedding="periodic", embedding_columns=[]),
        ScratchMLPRegressor(embedding_size=1),
        ScratchMLPRegressor(n_members=0),
        ScratchMLPClassifier(n_members=2, hidden_layer_sizes=()),
        ScratchMLPRegressor(normalize_y=True, loss="poisson"),
        ScratchMLPRegressor(normalize_y=1, loss="poisson"),
    ],
    ids=_estimator_id,
)
def test_invalid_parameters_raise_the_error_of_fit(estimator):
    with pytest.raises(ValueError) as from_fit:
        clone(estimator).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(type(from_fit.value)) as from_declarations:
        expected_failed_checks(estimator)
    assert str(from_declarations.value) == str(from_fit.value)


# A user's own suite, as docs/drop_in.md shows it: a configuration that is not
# checked above, whose declared failures are expected (and, under this suite's
# strict expected failures, must fail).
USERS_CONFIGURATION = ScratchMLPRegressor(dropout=0.1, hidden_layer_sizes=(50,))


@parametrize_with_checks(
    [USERS_CONFIGURATION], expected_failed_checks=expected_failed_checks
)
def test_users_own_checks(estimator, check):
    check(estimator)


def test_users_configuration_is_not_one_checked_here():
    assert expected_failed_checks(USERS_CONFIGURATION)
    assert not any(
        clone(USERS_CONFIGURATION).get_params() == c(**s).get_params()
        for c, s in CONFIGURATIONS
    )
