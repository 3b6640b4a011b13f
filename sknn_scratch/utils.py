"""Utilities for the users' own test suites.

``expected_failed_checks`` gives, for any configuration of our estimators, the
checks of scikit-learn's ``check_estimator`` that it is declared to fail, in
the form ``parametrize_with_checks`` and ``check_estimator`` take.
"""

from ._estimators._base import BaseScratchMLP
from ._estimators._expected_failures import EXPECTED_FAILURES

__all__ = ["expected_failed_checks"]

# Two rows that declare the same check for a configuration: their reasons, joined.
REASON_SEPARATOR = "; "


def expected_failed_checks(estimator: BaseScratchMLP) -> dict[str, str]:
    """The checks of scikit-learn's ``check_estimator`` declared to fail for
    this configuration, each with its reason.

    Pass the function itself to ``parametrize_with_checks`` (its
    ``expected_failed_checks`` argument), or its result for one estimator to
    ``check_estimator``: the checks it names are then expected failures. It
    reads the table that our own test suite declares its expected failures
    with.

    A failure is declared only when scikit-learn's MLP fails the check the same
    way with the same settings (or, for a setting it lacks, with settings that
    behave alike), or when one of our options cannot satisfy the check by its
    nature: dropout's random masks and early stopping's validation split make a
    weighted fit differ from a fit on repeated rows, a ``class_weight`` dict
    has no meaning for multilabel targets and is refused on data that lack a
    label it names, and a sequence of quantiles predicts an array with a
    column per quantile, not of y's shape. Each declaration holds for every
    configuration that shares its cause: ``dropout=0.2`` with any other
    parameters, or ``solver="sgd"`` with ``activation="logistic"`` whatever
    the others. The defaults declare none.

    Parameters
    ----------
    estimator : ScratchMLPClassifier or ScratchMLPRegressor
        The configuration to be checked, fitted or not. It is not modified.

    Returns
    -------
    dict of str to str
        ``{check name: reason}``; empty when every check should pass. A check
        declared for two causes gives both reasons, joined by ``"; "``.

    Raises
    ------
    ValueError
        If ``estimator`` is not an instance of ``ScratchMLPClassifier`` or
        ``ScratchMLPRegressor`` (the message names what it got), or if its
        parameters are invalid: the error ``fit`` would raise, which every
        check would meet.

    Notes
    -----
    Our test suite checks each row of the table on a configuration where it
    applies. On other configurations, what depends on the configuration as a
    whole rather than on one cause is not declared:

    - checks that hold a score to a bar (``check_classifiers_train``,
      ``check_regressors_train``, ``check_class_weight_classifiers``) may fail
      for a configuration that learns their small data sets less well, such as
      a small network under dropout;
    - early stopping with ``validation_fraction`` below 0.2 fails further
      checks: some fit on 10 rows, which leave it fewer than the 2 validation
      rows it needs (scikit-learn's MLP fails them too);
    - conversely, a declared failure that depends on the check's data and the
      solver (the R² bar, the multilabel probabilities of L-BFGS, the
      divergence of ``sgd``) may not happen for other settings. Under pytest's
      strict expected failures (``xfail_strict = true`` in its configuration,
      or ``xfail_strict=True`` given to ``parametrize_with_checks`` from
      scikit-learn 1.8) the check's pass then fails the test; with
      ``xfail_strict=False`` it is reported as an unexpected pass.

    In a test module::

        from sklearn.utils.estimator_checks import parametrize_with_checks

        from sknn_scratch import ScratchMLPClassifier
        from sknn_scratch.utils import expected_failed_checks

        @parametrize_with_checks(
            [ScratchMLPClassifier(dropout=0.2)],
            expected_failed_checks=expected_failed_checks,
        )
        def test_sklearn_compatible(estimator, check):
            check(estimator)

    To declare a failure particular to your configuration as well, pass a
    function that adds it to this one's result::

        def my_expected_failures(estimator):
            return {
                **expected_failed_checks(estimator),
                "check_classifiers_train": "our small network, under dropout",
            }

    Examples
    --------
    >>> from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
    >>> from sknn_scratch.utils import expected_failed_checks
    >>> expected_failed_checks(ScratchMLPRegressor())
    {}
    >>> failures = expected_failed_checks(ScratchMLPClassifier(dropout=0.2))
    >>> for check in failures:
    ...     print(check)
    check_sample_weight_equivalence_on_dense_data
    check_sample_weight_equivalence_on_sparse_data
    >>> print(failures["check_sample_weight_equivalence_on_dense_data"])
    dropout's random masks differ between a weighted fit and a fit on repeated rows
    """
    if isinstance(estimator, type) and issubclass(estimator, BaseScratchMLP):
        raise ValueError(
            "expected_failed_checks takes an estimator instance, such as "
            f"{estimator.__name__}(); got the class {estimator.__name__}."
        )
    if not isinstance(estimator, BaseScratchMLP):
        got = (
            f"the class {estimator.__name__}"
            if isinstance(estimator, type)
            else type(estimator).__name__
        )
        raise ValueError(
            "expected_failed_checks declares the failures of ScratchMLPClassifier "
            f"and ScratchMLPRegressor; got {got}."
        )
    params = _validated_params(estimator)
    failures: dict[str, str] = {}
    for row in EXPECTED_FAILURES:
        if isinstance(estimator, row.estimators) and row.when.holds(params):
            for check in row.checks:
                earlier = failures.get(check)
                failures[check] = (
                    row.reason
                    if earlier is None
                    else f"{earlier}{REASON_SEPARATOR}{row.reason}"
                )
    return failures


def _validated_params(estimator: BaseScratchMLP) -> dict:
    """The estimator's parameters, refused as ``fit`` refuses them."""
    # the parameters alone, and together (the dropout rates' count and their
    # solver, members without a hidden layer, normalize_y with poisson)
    estimator._validated_settings()
    return estimator.get_params(deep=False)
