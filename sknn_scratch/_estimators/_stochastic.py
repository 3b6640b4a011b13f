"""The fit loop of the stochastic solvers ('sgd', 'adam'): epochs, early
stopping's bookkeeping (its validation set: ``_validation``), the curves they
record, and what the callbacks hear of each epoch (``_callbacks``).

Part of the estimator layer: these functions read the estimator's parameters,
set its fitted attributes and drive the engine's ``MiniBatchTrainer``.

An epoch that ends with a non-finite loss or non-finite weights has diverged.
Without early stopping that is an error (and the estimator is restored by the
caller). With early stopping it ends training as scikit-learn's MLP would end
it, on the best validated weights: the epoch is recorded as NaN in the curves
and counted in ``n_iter_``, and a ``ConvergenceWarning`` says what happened.
"""

import math

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._reference._optimizers import SOLVERS, STOCHASTIC_SOLVERS, StochasticOptimizer
from .._reference._training import MiniBatchTrainer
from ._exceptions import DIVERGENCE_ADVICE, TrainingDivergedError, warn
from ._validation import Part, split_validation_set, validation_scorer

# Fitted attributes that only the stochastic solvers set.
STATE = (
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
    "best_loss_",
    "best_validation_score_",
    "_no_improvement_count",
    "_optimizer",
    "_best_params",
    "_dropout_rng",
)
# Those of them that training changes in place (see _state.snapshot).
MUTATED_IN_PLACE = (
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
    "_optimizer",
    "_best_params",
    "_dropout_rng",
)


def start_tracking(estimator, network) -> None:
    """The curves and counters of the stochastic solvers, from scratch or
    when continuing a fit made with other settings (lbfgs, early stopping
    switched on or off)."""
    if not hasattr(estimator, "loss_curve_"):
        estimator.loss_curve_ = []
        estimator._no_improvement_count = 0
    if estimator.early_stopping:
        if getattr(estimator, "validation_scores_", None) is None:
            estimator.validation_scores_ = []
            estimator.validation_loss_curve_ = []
            estimator.best_validation_score_ = -np.inf
            estimator.best_loss_ = None
            estimator._best_params = network.params.copy()
    else:
        if getattr(estimator, "best_loss_", None) is None:
            estimator.best_loss_ = np.inf
        estimator.validation_scores_ = None
        estimator.validation_loss_curve_ = None
        estimator.best_validation_score_ = None


def fit_stochastic(estimator, problem, incremental: bool) -> None:
    """Train ``problem.network`` by epochs of mini-batches (see the module)."""
    network, random_state = problem.network, problem.random_state
    optimizer = getattr(estimator, "_optimizer", None)
    if not incremental or optimizer is None:
        make = SOLVERS[estimator.solver].make
        optimizer = make(
            estimator.get_params(deep=False), network.params.shape[0], network.dtype
        )
    else:  # partial_fit goes on from the fitted optimizer's state
        _check_fitted_optimizer(optimizer, network.params)
    estimator._optimizer = optimizer
    start_tracking(estimator, network)

    full = Part(problem.X, problem.T, problem.sample_weight)
    if not estimator.early_stopping:
        train, validation = full, None
    elif problem.validation is not None:  # given to fit: all of X trains
        train, validation = full, problem.validation
    else:
        train, validation = split_validation_set(estimator, full, problem)
    n_samples = train.X.shape[0]
    batch_size = _batch_size(estimator.batch_size, n_samples)
    if any(network.dropout):
        # Drawn only when dropout is on, so that dropout=0 leaves every other
        # random draw, and hence the results, exactly as without the feature.
        if getattr(estimator, "_dropout_rng", None) is None:
            estimator._dropout_rng = np.random.default_rng(
                random_state.randint(np.iinfo(np.int32).max)
            )
        network.set_dropout_rng(estimator._dropout_rng)
    trainer = MiniBatchTrainer(
        network,
        optimizer,
        train.X,
        estimator._training_targets(train.T),
        train.sample_weight,
        batch_size,
        problem.alpha,
    )
    monitor = (
        None
        if validation is None
        else validation_scorer(estimator, network, validation)
    )
    try:
        _epochs(estimator, trainer, validation, monitor, problem, incremental)
    except KeyboardInterrupt:
        warn("Training interrupted by user.")

    if estimator.early_stopping:
        network.params[...] = estimator._best_params


def _epochs(
    estimator, trainer, validation, monitor, problem, incremental: bool
) -> None:
    """Run epochs until max_iter, convergence, divergence under early
    stopping, or a callback's request to stop (``problem.report``)."""
    network, optimizer, report = problem.network, trainer.optimizer, problem.report
    sample_order = np.arange(trainer.n_samples)
    estimator.n_iter_ = 0
    for _ in range(estimator.max_iter):
        report.begin_step("epoch", network.params)
        if estimator.shuffle:
            # scikit-learn's MLP draws ``shuffle(sample_idx, random_state)``
            # each epoch, which permutes ``arange(n)`` with
            # ``random_state.shuffle`` and indexes sample_idx with it: the
            # same draws and the same order as shuffling it in place, without
            # that function's validation and copies.
            problem.random_state.shuffle(sample_order)
        loss = trainer.epoch(sample_order if estimator.shuffle else None)
        estimator.n_iter_ += 1
        estimator.t_ += trainer.n_samples
        diverged = _divergence(loss, network.params)
        if diverged is not None:
            what = f"the {diverged} became non-finite at iteration {estimator.n_iter_}"
            if not estimator.early_stopping:
                raise TrainingDivergedError(what)
            _end_on_best_weights(estimator, what)
            return
        estimator.loss_ = loss
        estimator.loss_curve_.append(loss)
        if estimator.verbose:
            print(f"Iteration {estimator.n_iter_}, loss = {loss:.8f}")

        _update_no_improvement_count(estimator, network, validation, monitor)
        optimizer.iteration_ends(estimator.t_)
        if report.end_step(network.params):
            return  # a callback asked to stop: a clean end, no warning

        if estimator._no_improvement_count > estimator.n_iter_no_change:
            if estimator.early_stopping:
                what = "Validation score did not improve"
            else:
                what = "Training loss did not improve"
            message = (
                f"{what} more than tol={estimator.tol:f} for "
                f"{estimator.n_iter_no_change} consecutive epochs."
            )
            if optimizer.trigger_stopping(message, estimator.verbose):
                return
            estimator._no_improvement_count = 0

        if incremental:
            return
        # (a schedule over a horizon of max_iter epochs ends there by design)
        if estimator.n_iter_ == estimator.max_iter and not optimizer.has_horizon:
            warn(
                f"Stochastic Optimizer: Maximum iterations ({estimator.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )


def _check_fitted_optimizer(optimizer, params: np.ndarray) -> None:
    """Raise ValueError unless the fitted ``_optimizer`` can take steps on
    ``params`` (a state loaded from a file, or set by hand, is read by the
    engine: see _checks)."""
    if not isinstance(optimizer, StochasticOptimizer) or optimizer.name not in SOLVERS:
        raise ValueError(
            f"The fitted _optimizer is a {type(optimizer).__name__}, not one of the "
            f"optimizers of {STOCHASTIC_SOLVERS}. Refit the estimator."
        )
    try:
        optimizer.check_state(params)
    except ValueError as error:
        raise ValueError(
            f"The fitted _optimizer cannot go on: {error} Refit the estimator, or "
            "load a file saved from a fitted one."
        ) from None


def _divergence(loss: float, params: np.ndarray) -> str | None:
    """What became non-finite in an epoch, or None."""
    if not math.isfinite(loss):
        return "loss"
    if not np.isfinite(params).all():
        return "weights"
    return None


def _end_on_best_weights(estimator, what: str) -> None:
    """Record a diverged epoch as NaN and warn (the caller restores the best
    weights)."""
    estimator.loss_ = np.nan
    estimator.loss_curve_.append(np.nan)
    estimator.validation_scores_.append(np.nan)
    estimator.validation_loss_curve_.append(np.nan)
    best = estimator.best_validation_score_
    kept = (
        f"the weights of the best validation score ({best:g}) are kept"
        if np.isfinite(best)
        else "no epoch was validated, so the initial weights are kept"
    )
    warn(
        f"Training diverged: {what}. Training stopped and {kept}. {DIVERGENCE_ADVICE}",
        ConvergenceWarning,
    )


def _batch_size(batch_size, n_samples: int) -> int:
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warn(
            "Got `batch_size` less than 1 or larger than sample size. It is "
            f"going to be clipped: batch_size={batch_size} is larger than the "
            f"number of training samples, {n_samples}, so batches of "
            f"{n_samples} are used.",
            UserWarning,
        )
    return min(batch_size, n_samples)


def _update_no_improvement_count(estimator, network, validation, monitor) -> None:
    """Record the epoch's validation loss and score (``monitor`` of the
    validation outputs) or training loss, and count epochs without progress."""
    if estimator.early_stopping:
        outputs = np.empty(validation.T.shape, dtype=network.dtype)
        validation_loss = network.loss(
            validation.X,
            validation.T,
            validation.sample_weight,
            validation.alpha,
            outputs,
        )
        estimator.validation_loss_curve_.append(validation_loss)
        score = monitor(outputs) if np.isfinite(outputs).all() else np.nan
        estimator.validation_scores_.append(score)
        if estimator.verbose:
            print(f"Validation score: {score:f}")
        if score < estimator.best_validation_score_ + estimator.tol:
            estimator._no_improvement_count += 1
        else:
            estimator._no_improvement_count = 0
        if score > estimator.best_validation_score_:
            estimator.best_validation_score_ = score
            estimator._best_params[...] = network.params
    else:
        last = estimator.loss_curve_[-1]
        if last > estimator.best_loss_ - estimator.tol:
            estimator._no_improvement_count += 1
        else:
            estimator._no_improvement_count = 0
        if last < estimator.best_loss_:
            estimator.best_loss_ = last
