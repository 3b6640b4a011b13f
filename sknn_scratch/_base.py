"""What the two estimators share: parameters, the fit loops and prediction.

This layer turns scikit-learn's conventions (validation, labels, sample
weights, the validation split, warm start, partial_fit) into calls to the
engine (``_network``, ``_optimizers``, ``_training``). It holds no calculus.
"""

import contextlib
import copy
import functools
import itertools
import types
import warnings
from abc import abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, shuffle
from sklearn.utils.validation import check_is_fitted, validate_data

from ._losses import LOSSES
from ._network import Network, chunk_product, forward, layer_views
from ._optimizers import SOLVERS, STOCHASTIC_SOLVERS, minimize_lbfgs
from ._params import normalize_dropout, normalize_hidden_layer_sizes, validate_params
from ._threads import SMALL_PRODUCT, blas_threads
from ._training import MiniBatchTrainer

# Fitted attributes that only the stochastic solvers set.
_TRACKING = (
    "best_loss_",
    "best_validation_score_",
    "_no_improvement_count",
)


class NotIncrementalError(AttributeError, ValueError):
    """``partial_fit`` was asked of an estimator whose parameters rule it out
    (the lbfgs solver, or balanced class weights).

    An ``AttributeError``, so that ``hasattr(est, "partial_fit")`` is False as
    for scikit-learn's lbfgs MLP, and a ``ValueError`` because it comes from a
    parameter value.
    """


class incremental_only:
    """Method decorator for ``partial_fit``: it exists only when the estimator's
    parameters allow training batch by batch (see ``_why_not_incremental``).

    Looking the method up otherwise raises ``NotIncrementalError``, so that
    ``hasattr`` is False and a call explains itself. (scikit-learn's
    ``available_if`` would turn it into a bare ``AttributeError`` and lose the
    ``ValueError`` side.)
    """

    def __init__(self, method) -> None:
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, estimator, owner=None):
        if estimator is None:
            return self.method
        reason = estimator._why_not_incremental()
        if reason is not None:
            raise NotIncrementalError(f"{self.method.__name__} {reason}")
        return types.MethodType(self.method, estimator)


class InvalidInputError(ValueError, TypeError):
    """Input data of the wrong type.

    A ``ValueError``, as for every bad input, and a ``TypeError`` as NumPy's
    own conversion error was, so that code catching either keeps working.
    """


@contextlib.contextmanager
def _numeric_input(what: str = "X and y"):
    """Validation of user data: no NumPy warnings, and no bare TypeError."""
    try:
        with np.errstate(all="ignore"):
            yield
    except TypeError as error:
        raise InvalidInputError(f"{what} must hold numbers: {error}") from None


def _check_finite_output(output: np.ndarray, what: str) -> None:
    if not np.isfinite(output).all():
        bad_rows = int((~np.isfinite(output)).any(axis=1).sum())
        raise ValueError(
            f"The network's {what} overflow for {bad_rows} row(s) of X: their "
            "values lie far beyond the range seen in training. Scale or clip X "
            "as the training data was."
        )


class TrainingDivergedError(ValueError):
    """The loss or the weights became non-finite during training."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Training diverged: {what}. Scale the inputs (for example with "
            "sklearn.preprocessing.StandardScaler), and the targets of a "
            "regression, or lower learning_rate_init ('sgd' and 'adam')."
        )


class _TrainingProblem(NamedTuple):
    """Validated data and the network one call to fit or partial_fit trains."""

    network: Network
    X: object
    T: np.ndarray
    sample_weight: np.ndarray | None
    stratify: np.ndarray | None
    random_state: np.random.RandomState


class BaseScratchMLP(BaseEstimator):
    """Base class of ScratchMLPClassifier and ScratchMLPRegressor.

    Not for direct use: the public estimators document the parameters.
    """

    _parameter_constraints: ClassVar[dict] = {}

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        dropout,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout

    # -- hooks the two estimators fill in ---------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental: bool, reset: bool, classes=None):
        """Validated X, targets encoded for the loss (2-D), and stratify labels."""

    @abstractmethod
    def _loss_name(self) -> str:
        """Name of the engine loss for the encoded targets of this fit."""

    def _loss_settings(self) -> dict:
        """The estimator parameters the loss reads (``Loss.settings``)."""
        names = LOSSES[self._loss_name()].settings
        return {name: getattr(self, name) for name in names}

    @abstractmethod
    def _score_outputs(self, outputs, T, sample_weight) -> float:
        """Score (accuracy or R²) of network outputs against encoded targets."""

    # -- input -------------------------------------------------------------------
    def _validate_sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        n_samples = X.shape[0]
        if np.isscalar(sample_weight) and not isinstance(sample_weight, str):
            sample_weight = np.full(n_samples, sample_weight)
        try:
            weights = np.asarray(sample_weight)
        except (TypeError, ValueError) as error:
            raise ValueError(f"sample_weight must be numeric: {error}") from None
        if weights.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_weight must be numeric; got an array of dtype {weights.dtype}."
            )
        if weights.ndim != 1:
            raise ValueError(
                f"sample_weight must be 1D array or scalar; got shape {weights.shape}."
            )
        if weights.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight.shape == ({weights.shape[0]},), expected "
                f"({n_samples},): one weight per sample."
            )
        weights = weights.astype(X.dtype, copy=False)
        if not np.isfinite(weights).all():
            raise ValueError("sample_weight contains NaN or infinity.")
        if (weights < 0).any():
            raise ValueError("sample_weight must be non-negative; got negative values.")
        if not weights.any():
            raise ValueError("sample_weight must not be all zero.")
        return weights

    def _validate_X_y(self, X, y, reset: bool, y_numeric: bool):
        """scikit-learn's validation of X and y, keeping float32 as float32.

        Dense X comes back C-ordered (row slices are then contiguous); this is
        the only copy of X that training makes, and only when needed.
        """
        with _numeric_input():
            return validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                multi_output=True,
                dtype=(np.float64, np.float32),
                order="C",
                reset=reset,
                y_numeric=y_numeric,
            )

    # -- fitting -----------------------------------------------------------------
    def _prepare_training(self, X, y, sample_weight, incremental, classes=None):
        """Validate everything and build the network, without training.

        Sets the fitted attributes a first fit starts with (classes, fresh
        weights, empty curves) or loads the fitted weights to continue from.
        """
        validate_params(self, self._parameter_constraints)
        hidden_layer_sizes = normalize_hidden_layer_sizes(self.hidden_layer_sizes)
        dropout = self._dropout_rates(len(hidden_layer_sizes))
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        if self.early_stopping and incremental and self.solver in STOCHASTIC_SOLVERS:
            raise ValueError(
                "partial_fit does not support early_stopping=True: a validation "
                "split of each call's data makes no sense. Set early_stopping=False."
            )
        X, T, stratify = self._validate_input(
            X, y, incremental, reset=first_pass, classes=classes
        )
        if not first_pass and X.dtype != self._params.dtype:
            # Training continues in the precision it started in.
            X, T = X.astype(self._params.dtype), T.astype(self._params.dtype)
        sample_weight = self._validate_sample_weight(sample_weight, X)
        sample_weight = self._apply_class_weight(sample_weight, T)
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()  # mini-batches are rows

        layer_sizes = (X.shape[1], *hidden_layer_sizes, T.shape[1])
        random_state = check_random_state(self.random_state)
        if first_pass:
            network = Network(
                layer_sizes,
                self.activation,
                self._loss_name(),
                X.dtype,
                dropout,
                loss_settings=self._loss_settings(),
            )
            self._initialize(network, random_state)
        else:
            network = self._continue_network(layer_sizes, dropout)
        return _TrainingProblem(network, X, T, sample_weight, stratify, random_state)

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None):
        # A call that fails leaves the estimator as it found it: no half-set
        # attributes after bad input, no diverged weights after a bad run.
        saved = self._snapshot()
        try:
            problem = self._prepare_training(X, y, sample_weight, incremental, classes)
            self._train(problem, incremental)
        except BaseException:
            self._restore(saved)
            raise
        return self

    def _train(self, problem: "_TrainingProblem", incremental: bool) -> None:
        network, n_samples = problem.network, problem.X.shape[0]
        if self.solver in STOCHASTIC_SOLVERS:
            batch = 200 if self.batch_size == "auto" else self.batch_size
            rows = min(n_samples, batch)
        else:
            rows = network.chunk_rows(n_samples)
        threads = blas_threads(
            network.largest_product(rows), lbfgs=self.solver == "lbfgs"
        )
        with (
            threads as parts,
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        ):
            network.matmul_parts = parts
            try:
                if self.solver in STOCHASTIC_SOLVERS:
                    self._fit_stochastic(problem, incremental)
                else:
                    self._fit_lbfgs(
                        network, problem.X, problem.T, problem.sample_weight
                    )
            finally:
                network.matmul_parts = 1
        if not np.isfinite(network.params).all():
            raise TrainingDivergedError("the weights became non-finite")

    # State that training changes in place; everything else it replaces.
    _MUTABLE_STATE = (
        "loss_curve_",
        "validation_scores_",
        "validation_loss_curve_",
        "_optimizer",
        "_best_params",
        "_dropout_rng",
    )

    def _snapshot(self) -> dict:
        """What ``_restore`` needs to undo a failed call to fit or partial_fit."""
        state = dict(vars(self))
        for name in self._MUTABLE_STATE:
            if name in state:
                state[name] = copy.deepcopy(state[name])
        if "_params" in state:  # trained in place: keep its values
            state["_params_values"] = state["_params"].copy()
        return state

    def _restore(self, state: dict) -> None:
        state = dict(state)
        values = state.pop("_params_values", None)
        if values is not None:
            state["_params"][...] = values
        self.__dict__.clear()
        self.__dict__.update(state)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coefs_")

    def _dropout_rates(self, n_hidden: int) -> tuple[float, ...]:
        """``dropout`` as one rate per hidden layer."""
        rates = normalize_dropout(self.dropout, n_hidden)
        if rates is None:
            raise ValueError(
                f"dropout={self.dropout!r} gives {len(self.dropout)} rates for "
                f"{n_hidden} hidden layer(s): give one float for all hidden layers "
                "or exactly one per hidden layer."
            )
        if any(rates) and self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError(
                "dropout needs a stochastic solver ('sgd' or 'adam'): random masks "
                f"would make the loss that solver={self.solver!r} minimises change "
                "between evaluations. Set dropout=0.0 or choose another solver."
            )
        return rates

    def _why_not_incremental(self) -> str | None:
        """Why partial_fit is unavailable with these parameters, or None.

        (Any other invalid solver is left to the parameter validation of the
        call itself, whose message lists the allowed values.)
        """
        if self.solver == "lbfgs":
            return (
                "needs a stochastic solver ('sgd' or 'adam'); "
                f"solver={self.solver!r} trains on the whole data at once. Use "
                "fit, or set solver='adam' or 'sgd'."
            )
        return None

    def _apply_class_weight(self, sample_weight, T):
        """Sample weights times class weights (the classifier overrides this)."""
        return sample_weight

    def _initialize(self, network: Network, random_state) -> None:
        """Fresh weights and fitted attributes for a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = network.layer_sizes[-1]
        self.n_layers_ = len(network.layer_sizes)
        self.out_activation_ = network.output_activation
        network.initialize(random_state)
        self._params = network.params
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        # scikit-learn's lbfgs leaves the stochastic solvers' curves unset
        for stale in (*self._MUTABLE_STATE, *_TRACKING):
            if hasattr(self, stale):
                delattr(self, stale)
        if self.solver in STOCHASTIC_SOLVERS:
            self._start_tracking(network)

    def _start_tracking(self, network: Network) -> None:
        """The curves and counters of the stochastic solvers, from scratch or
        when continuing a fit made with other settings (lbfgs, early stopping
        switched on or off)."""
        if not hasattr(self, "loss_curve_"):
            self.loss_curve_ = []
            self._no_improvement_count = 0
        if self.early_stopping:
            if getattr(self, "validation_scores_", None) is None:
                self._start_validation_tracking(network)
        else:
            if getattr(self, "best_loss_", None) is None:
                self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None

    def _start_validation_tracking(self, network: Network) -> None:
        self.validation_scores_ = []
        self.validation_loss_curve_ = []
        self.best_validation_score_ = -np.inf
        self.best_loss_ = None
        self._best_params = network.params.copy()

    def _continue_network(self, layer_sizes, dropout) -> Network:
        """A network on the fitted weights (warm start, partial_fit).

        It trains the fitted parameter vector in place, so that arrays taken
        from ``coefs_`` see the new values, as in scikit-learn; when ``coefs_``
        or ``intercepts_`` were replaced (or unpickled), their values are
        copied into a new vector first.
        """
        fitted = [np.shape(c) for c in self.coefs_]
        expected = list(itertools.pairwise(layer_sizes))
        if fitted != expected:
            raise ValueError(
                "warm_start and partial_fit continue from the fitted weights, whose "
                f"layer shapes {fitted} differ from the shapes {expected} implied "
                "by the data and hidden_layer_sizes. Refit from scratch instead."
            )
        params = self._params
        coefs, intercepts = layer_views(params, layer_sizes)
        intact = all(
            a.__array_interface__ == b.__array_interface__
            for a, b in zip(
                coefs + intercepts, self.coefs_ + self.intercepts_, strict=True
            )
        )
        network = Network(
            layer_sizes,
            self.activation,
            self._loss_name(),
            params.dtype,
            dropout,
            params=params if intact else None,
            loss_settings=self._loss_settings(),
        )
        if not intact:
            for target, source in zip(network.coefs, self.coefs_, strict=True):
                target[...] = source
            for target, source in zip(
                network.intercepts, self.intercepts_, strict=True
            ):
                target[...] = source
            self._params = network.params
            self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        self.out_activation_ = network.output_activation
        return network

    def _make_optimizer(self, network: Network):
        make = SOLVERS[self.solver].make
        return make(self.get_params(deep=False), network.params.shape[0], network.dtype)

    def _fit_stochastic(self, problem: "_TrainingProblem", incremental: bool) -> None:
        network, X, T = problem.network, problem.X, problem.T
        sample_weight, random_state = problem.sample_weight, problem.random_state
        optimizer = getattr(self, "_optimizer", None)
        if not incremental or optimizer is None:
            optimizer = self._make_optimizer(network)
        self._optimizer = optimizer
        self._start_tracking(network)

        if self.early_stopping:
            n_validation = int(np.ceil(self.validation_fraction * X.shape[0]))
            if n_validation < 2:
                raise ValueError(
                    f"The validation set is too small: validation_fraction="
                    f"{self.validation_fraction} of {X.shape[0]} samples leaves "
                    f"{n_validation} for validation, and early stopping needs at "
                    "least 2. Increase validation_fraction or the size of your "
                    "dataset."
                )
            arrays = (X, T) if sample_weight is None else (X, T, sample_weight)
            try:
                split = train_test_split(
                    *arrays,
                    random_state=random_state,
                    test_size=self.validation_fraction,
                    stratify=problem.stratify,
                )
            except ValueError as error:
                raise ValueError(
                    "early_stopping could not hold out a stratified validation "
                    f"set: {error}. Increase validation_fraction, or set "
                    "early_stopping=False."
                ) from None
            X_train, X_val, T_train, T_val = split[:4]
            w_train, w_val = (None, None) if sample_weight is None else split[4:]
            for part, weights in (("training", w_train), ("validation", w_val)):
                if weights is not None and not weights.any():
                    raise ValueError(
                        f"Every sample of the {part} set split off for early "
                        "stopping has zero weight; increase validation_fraction "
                        "or give more samples a weight."
                    )
        else:
            X_train, T_train, w_train = X, T, sample_weight
            X_val = T_val = w_val = None

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    f"batch_size={self.batch_size} is larger than the number of "
                    f"training samples ({n_samples}); it is clipped to {n_samples}.",
                    UserWarning,
                    stacklevel=5,
                )
            batch_size = min(self.batch_size, n_samples)

        if any(network.dropout):
            # Drawn only when dropout is on, so that dropout=0 leaves every other
            # random draw, and hence the results, exactly as without the feature.
            if getattr(self, "_dropout_rng", None) is None:
                self._dropout_rng = np.random.default_rng(
                    random_state.randint(np.iinfo(np.int32).max)
                )
            network.set_dropout_rng(self._dropout_rng)
        trainer = MiniBatchTrainer(
            network, optimizer, X_train, T_train, w_train, batch_size, self.alpha
        )
        sample_order = np.arange(n_samples)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_order = shuffle(sample_order, random_state=random_state)
                loss = trainer.epoch(sample_order if self.shuffle else None)
                if not np.isfinite(loss):
                    raise TrainingDivergedError(
                        f"the loss became non-finite at iteration {self.n_iter_ + 1}"
                    )
                self.n_iter_ += 1
                self.loss_ = loss
                self.t_ += n_samples
                self.loss_curve_.append(loss)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")

                self._update_no_improvement_count(network, X_val, T_val, w_val)
                optimizer.iteration_ends(self.t_)

                if self._no_improvement_count > self.n_iter_no_change:
                    if self.early_stopping:
                        what = "Validation score did not improve"
                    else:
                        what = "Training loss did not improve"
                    message = (
                        f"{what} more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs."
                    )
                    if optimizer.trigger_stopping(message, self.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=5,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=5)

        if self.early_stopping:
            network.params[...] = self._best_params

    def _update_no_improvement_count(self, network, X_val, T_val, w_val) -> None:
        if self.early_stopping:
            outputs = np.empty(T_val.shape, dtype=network.dtype)
            validation_loss = network.loss(X_val, T_val, w_val, self.alpha, outputs)
            self.validation_loss_curve_.append(validation_loss)
            if np.isfinite(outputs).all():
                score = self._score_outputs(outputs, T_val, w_val)
            else:
                score = np.nan
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params[...] = network.params
        else:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last < self.best_loss_:
                self.best_loss_ = last

    def _fit_lbfgs(self, network, X, T, sample_weight) -> None:
        callback = None
        if self.verbose:
            iteration = 0

            def callback(intermediate_result):
                nonlocal iteration
                iteration += 1
                print(f"Iteration {iteration}, loss = {intermediate_result.fun:.8f}")

        result = minimize_lbfgs(
            network,
            X,
            T,
            sample_weight,
            self.alpha,
            self.max_iter,
            self.max_fun,
            self.tol,
            callback=callback,
        )
        if not np.isfinite(result.fun):
            raise TrainingDivergedError("the loss became non-finite")
        if result.status != 0:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            warnings.warn(
                f"lbfgs stopped before converging after {result.nit} iteration(s) "
                f"(status={result.status}): {message}. Increase max_iter "
                f"(now {self.max_iter}) or max_fun (now {self.max_fun}), or scale "
                "the inputs.",
                ConvergenceWarning,
                stacklevel=5,
            )
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)

    # -- prediction ----------------------------------------------------------------
    def _forward(self, X, logits: bool = False) -> np.ndarray:
        """Validated X through the fitted network, in chunks of rows.

        Returns the output activations, or the logits (the output layer before
        its activation) when ``logits=True``. Raises ValueError rather than
        return non-finite values, which only inputs far beyond the range of the
        training data can produce.
        """
        check_is_fitted(self)
        with _numeric_input("X"):
            X = validate_data(
                self,
                X,
                accept_sparse=["csr"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
        activation = "identity" if logits else self.out_activation_
        largest = chunk_product(X.shape[0], self.coefs_, X.dtype)
        # A large prediction holds BLAS at one thread and shares rows between
        # threads itself (see _threads); a small one leaves the pools alone.
        threads = (
            blas_threads(largest, lbfgs=False)
            if largest >= SMALL_PRODUCT
            else contextlib.nullcontext(1)
        )
        with threads as parts, np.errstate(all="ignore"):
            output = forward(
                X, self.coefs_, self.intercepts_, self.activation, activation, parts
            )
        _check_finite_output(output, "logits" if logits else f"{activation} outputs")
        return output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
