"""What the two estimators share: parameters, the fit loops and prediction.

This layer turns scikit-learn's conventions (validation, labels, sample
weights, the validation split, warm start, partial_fit) into calls to the
engine (``_network``, ``_optimizers``, ``_training``). It holds no calculus.
"""

import contextlib
import functools
import itertools
import types
from abc import abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._array_api import _is_numpy_namespace, get_namespace
from sklearn.utils.validation import check_is_fitted, validate_data

from .._compat import with_new_parameters
from .._engine import warn_if_fallback
from .._reference._embeddings import NumericalEmbedding
from .._reference._losses import LOSSES
from .._reference._network import Network, forward, layer_views, n_parameters
from .._reference._optimizers import SOLVERS, STOCHASTIC_SOLVERS, minimize_lbfgs
from ._callbacks import SILENT, CallbackSupportMixin, fit_report, with_callbacks
from ._checks import check_fitted_network, is_flat_vector_of
from ._exceptions import (
    InvalidInputError,
    NotIncrementalError,
    TrainingDivergedError,
    warn,
)
from ._params import (
    embedding_columns,
    normalize_dropout,
    normalize_hidden_layer_sizes,
    validate_params,
)
from ._sample_weight import validate_sample_weight, weights_for_training
from ._state import restore, snapshot
from ._stochastic import MUTATED_IN_PLACE, STATE, fit_stochastic, start_tracking
from ._validation import ValidationSet, given_validation_set


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
            raise NotIncrementalError(reason)
        return types.MethodType(self.method, estimator)


@contextlib.contextmanager
def _numeric_input(what: str = "X and y"):
    """Validation of user data: no NumPy warnings, and no bare TypeError."""
    try:
        with np.errstate(all="ignore"):
            yield
    except TypeError as error:
        raise InvalidInputError(f"{error}. {what} must hold numbers.") from None


def _refuse_array_api_inputs(estimator, **arrays) -> None:
    """Refuse arrays of another array-API library (PyTorch, array-api-strict...).

    With scikit-learn's ``array_api_dispatch`` on, validation leaves such
    arrays in their library instead of converting them to NumPy, which both
    engines compute with; the estimators do not support array-API inputs.
    """
    if not get_config()["array_api_dispatch"]:
        return  # validation converts them to NumPy
    for name, array in arrays.items():
        namespace, _ = get_namespace(array)
        if not _is_numpy_namespace(namespace):
            library = type(array).__module__.partition(".")[0]
            raise InvalidInputError(
                f"{type(estimator).__name__} does not support array-API inputs: "
                f"{name} is an array of {library}, and with scikit-learn's "
                "array_api_dispatch on it is not converted to NumPy, which the "
                f"estimator computes with. Convert {name} to a NumPy array "
                f"first (numpy.asarray({name}); for a PyTorch tensor, "
                f"{name}.cpu().numpy()), or turn array_api_dispatch off, and "
                "scikit-learn converts it."
            )


def _check_finite_output(output: np.ndarray, what: str) -> None:
    if not np.isfinite(output).all():
        bad_rows = int((~np.isfinite(output)).any(axis=1).sum())
        raise ValueError(
            f"The network's {what} overflow for {bad_rows} row(s) of X: their "
            "values lie far beyond the range seen in training. Scale or clip X "
            "as the training data was."
        )


class _TrainingProblem(NamedTuple):
    """Validated data and the network one call to fit or partial_fit trains."""

    network: Network
    X: object
    T: np.ndarray
    sample_weight: np.ndarray | None
    alpha: float  # the L2 penalty that goes with these sample weights
    stratify: np.ndarray | None
    random_state: np.random.RandomState
    y: object  # the validated targets, before encoding (for scorers)
    X_given: object  # X as the user gave it (for scorers)
    validation: ValidationSet | None = None  # given to fit (X_val, y_val)
    report: object = SILENT  # what the callbacks hear (``_callbacks``)


class BaseScratchMLP(CallbackSupportMixin, BaseEstimator):
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
        scoring,
        warmup_fraction,
        weight_decay,
        embedding,
        embedding_columns,
        embedding_size,
        embedding_scale,
        n_members,
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
        self.scoring = scoring
        self.warmup_fraction = warmup_fraction
        self.weight_decay = weight_decay
        self.embedding = embedding
        self.embedding_columns = embedding_columns
        self.embedding_size = embedding_size
        self.embedding_scale = embedding_scale
        self.n_members = n_members

    # -- hooks the two estimators fill in ---------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental: bool, reset: bool, classes=None):
        """Validated X, targets encoded for the loss (2-D), validated y, and
        stratify labels."""

    @abstractmethod
    def _validate_validation_input(self, X_val, y_val, dtype):
        """Validated X_val in ``dtype``, its targets encoded as the training
        targets were, and validated y_val (see ``_validation``)."""

    @abstractmethod
    def _loss_name(self) -> str:
        """Name of the engine loss for the encoded targets of this fit."""

    def _members(self) -> int:
        """The fitted network's packed members (1 for a single network)."""
        scales = getattr(self, "member_scales_", None)
        # (read before the fitted attributes are checked: anything but a
        # matrix counts as one, which check_fitted_members then refuses)
        packed = isinstance(scales, np.ndarray) and scales.ndim == 2
        return scales.shape[0] if packed else 1

    def _fitted_embedding(self, X, sample_weight, first_pass: bool):
        """The numerical embedding of this fit, or None: made and fitted on
        X (its piecewise-linear bins) at a first fit or partial_fit, the
        fitted one (bins fixed) when training goes on. None too when
        ``embedding_columns`` is a pattern that matches no column of X."""
        columns = None
        if self.embedding is not None:
            columns = embedding_columns(
                self.embedding_columns,
                X.shape[1],
                getattr(self, "feature_names_in_", None),
            )
            if columns.size == 0:
                columns = None
        if not first_pass:
            # the fitted embedding goes on only where the parameters ask for
            # the same one: its kind, its columns and their size
            embedding = getattr(self, "embedding_", None)
            fitted = (
                None
                if embedding is None
                else (embedding.kind, embedding.columns.tolist(), embedding.size)
            )
            asked = (
                None
                if columns is None
                else (self.embedding, columns.tolist(), self.embedding_size)
            )
            if fitted != asked:
                described = (
                    "None"
                    if embedding is None
                    else f"{embedding.kind!r} of columns {fitted[1]} (size "
                    f"{embedding.size})"
                )
                raise ValueError(
                    "warm_start and partial_fit continue the fitted network, whose "
                    f"embedding is {described}, not embedding={self.embedding!r} "
                    f"of embedding_columns={self.embedding_columns!r} (size "
                    f"{self.embedding_size}). Refit from scratch instead."
                )
            return embedding
        if columns is None:
            return None
        embedding = NumericalEmbedding(
            self.embedding,
            columns,
            X.shape[1],
            self.embedding_size,
            self.embedding_scale,
        )
        embedded = X[:, columns]
        embedding.fit(
            embedded.toarray() if sp.issparse(embedded) else embedded, sample_weight
        )
        return embedding

    def _training_targets(self, T: np.ndarray) -> np.ndarray:
        """The encoded targets training fits (the classifier smooths its
        labels); validation scores the targets as they are."""
        return T

    def _expected_outputs(self) -> int | None:
        """Output units the fitted targets need, where they say (the
        classifier's classes); None where only ``n_outputs_`` does."""
        return None

    def _outputs_per_target(self) -> int:
        """Network outputs per column of the targets (the regressor's
        quantiles, when it predicts several); 1 elsewhere."""
        return 1

    def _loss_settings(self, n_outputs: int) -> dict:
        """The estimator parameters the loss reads (``Loss.settings``), for a
        network of ``n_outputs`` outputs: one value each for all outputs."""
        names = LOSSES[self._loss_name()].settings
        return {name: getattr(self, name) for name in names}

    @abstractmethod
    def _score_outputs(self, outputs, T, sample_weight) -> float:
        """Score (accuracy or R²) of network outputs against encoded targets."""

    # -- input -------------------------------------------------------------------
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
    def _prepare_training(
        self, X, y, sample_weight, incremental, classes=None, validation_data=None
    ):
        """Validate everything and build the network, without training.

        ``validation_data`` is ``(X_val, y_val, sample_weight_val)`` of fit.

        Sets the fitted attributes a first fit starts with (classes, fresh
        weights, empty curves) or loads the fitted weights to continue from.
        """
        hidden_layer_sizes, dropout = self._validated_settings()
        _refuse_array_api_inputs(self, X=X, y=y, sample_weight=sample_weight)
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X_given = X
        X, T, y, stratify = self._validate_input(
            X, y, incremental, reset=first_pass, classes=classes
        )
        if not first_pass:
            check_fitted_network(self)
            dtype = self.coefs_[0].dtype
            if X.dtype != dtype:
                # Training continues in the precision it started in.
                X, T = X.astype(dtype), T.astype(dtype)
        weights = validate_sample_weight(sample_weight, X.shape[0])
        weights = self._apply_class_weight(weights, T)
        sample_weight, alpha = weights_for_training(weights, self.alpha, X.dtype)
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()  # mini-batches are rows
        validation = given_validation_set(
            self, *(validation_data or (None, None, None)), X.dtype, T.shape[1]
        )

        embedding = self._fitted_embedding(X, sample_weight, first_pass)
        n_inputs = X.shape[1] if embedding is None else embedding.width
        members = self.n_members if first_pass else self._members()
        if members != self.n_members:
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, of "
                f"{members} packed member(s), not n_members={self.n_members}. "
                "Refit from scratch instead."
            )
        layer_sizes = (n_inputs, *hidden_layer_sizes, T.shape[1] * members)
        random_state = check_random_state(self.random_state)
        if first_pass:
            network = Network(
                layer_sizes,
                self.activation,
                self._loss_name(),
                X.dtype,
                dropout,
                loss_settings=self._loss_settings(T.shape[1]),
                embedding=embedding,
                members=members,
            )
            self._initialize(network, random_state)
        else:
            network = self._continue_network(layer_sizes, dropout)
        return _TrainingProblem(
            network,
            X,
            T,
            sample_weight,
            alpha,
            stratify,
            random_state,
            y,
            X_given,
            validation,
        )

    def _fit(
        self,
        X,
        y,
        sample_weight=None,
        incremental=False,
        classes=None,
        validation_data=None,
    ):
        warn_if_fallback()  # once per process, where the compiled engine is missing
        # A call that fails leaves the estimator as it found it: no half-set
        # attributes after bad input, no diverged weights after a bad run.
        saved = snapshot(self, MUTATED_IN_PLACE)
        try:
            self._fit_and_report(
                X, y, sample_weight, incremental, classes, validation_data
            )
        except BaseException:
            restore(self, saved)
            raise
        return self

    @with_callbacks
    def _fit_and_report(
        self, X, y, sample_weight, incremental, classes, validation_data
    ) -> None:
        """Validate, train, and tell the callbacks (fit only).

        ``with_callbacks`` tears the callbacks down when this returns or
        raises, before ``_fit`` restores a failed call's state (which would
        remove the bookkeeping the teardown reads).
        """
        problem = self._prepare_training(
            X, y, sample_weight, incremental, classes, validation_data
        )
        if not incremental:
            report = fit_report(self, X, y, sample_weight, problem.network)
            problem = problem._replace(report=report)
        problem.report.begin()
        self._train(problem, incremental)
        problem.report.end()

    def _train(self, problem: "_TrainingProblem", incremental: bool) -> None:
        network = problem.network
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.solver in STOCHASTIC_SOLVERS:
                fit_stochastic(self, problem, incremental)
            else:
                self._fit_lbfgs(problem)
        if not np.isfinite(network.params).all():
            raise TrainingDivergedError("the weights became non-finite")

    def __setstate__(self, state: dict) -> None:
        # a file saved before a parameter existed: it takes its default
        super().__setstate__(with_new_parameters(type(self), state))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coefs_")

    def _validated_settings(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The parameters checked on their own and together, as every fit
        checks them first (and ``sknn_scratch.utils.expected_failed_checks``
        too): the hidden layer sizes, and the dropout rate of each."""
        validate_params(self, self._parameter_constraints)
        hidden_layer_sizes = normalize_hidden_layer_sizes(self.hidden_layer_sizes)
        dropout = self._dropout_rates(len(hidden_layer_sizes))
        if self.n_members > 1 and not hidden_layer_sizes:
            raise ValueError(
                f"n_members={self.n_members} packs members that share hidden layers "
                "and differ in their scales of the first layer's input and in "
                "their heads; hidden_layer_sizes=() has no hidden layer, so the "
                "members would be linear models of differently scaled inputs. "
                "Give at least one hidden layer, or n_members=1."
            )
        return hidden_layer_sizes, dropout

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
        """Why partial_fit is unavailable with these parameters (the message
        of the error, beginning as scikit-learn's does), or None.

        (Any other invalid solver is left to the parameter validation of the
        call itself, whose message lists the allowed values.)
        """
        solver = SOLVERS.get(self.solver)
        if solver is not None and not solver.stochastic:
            return (
                f"This {type(self).__name__!r} has no attribute 'partial_fit'. "
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic: it trains on the whole data at "
                f"once. Use fit, or set solver to one of {STOCHASTIC_SOLVERS}."
            )
        if isinstance(self.early_stopping, (bool, np.bool_)) and self.early_stopping:
            return (
                "partial_fit does not support early_stopping=True: a validation "
                "split of each call's data makes no sense. Set early_stopping=False."
            )
        return None

    def _apply_class_weight(self, weights, T):
        """Sample weights times class weights (the classifier overrides this)."""
        return weights

    def _initialize(self, network: Network, random_state) -> None:
        """Fresh weights and fitted attributes for a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = network.n_outputs
        self.n_layers_ = len(network.layer_sizes)
        self.out_activation_ = network.output_activation
        network.initialize(random_state)
        self._params = network.params
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts
        # set only with an embedding or packed members, so that the fitted
        # attributes are scikit-learn's otherwise
        for name in ("embedding_", "embedding_params_", "member_scales_"):
            if hasattr(self, name):
                delattr(self, name)
        if network.embedding is not None:
            self.embedding_ = network.embedding
            self.embedding_params_ = network.embedding_params
        if network.members > 1:
            self.member_scales_ = network.member_scales
        # scikit-learn's lbfgs leaves the stochastic solvers' curves unset
        for stale in STATE:
            if hasattr(self, stale):
                delattr(self, stale)
        if self.solver in STOCHASTIC_SOLVERS:
            start_tracking(self, network)

    def _continue_network(self, layer_sizes, dropout) -> Network:
        """A network on the fitted weights (warm start, partial_fit).

        It trains the fitted parameter vector in place, so that arrays taken
        from ``coefs_`` see the new values, as in scikit-learn; when ``coefs_``
        or ``intercepts_`` were replaced (or unpickled), their values are
        copied into a new vector first.
        """
        check_fitted_network(self)
        fitted = [np.shape(c) for c in self.coefs_]
        expected = list(itertools.pairwise(layer_sizes))
        if fitted != expected:
            raise ValueError(
                "warm_start and partial_fit continue from the fitted weights, whose "
                f"layer shapes {fitted} differ from the shapes {expected} implied "
                "by the data and hidden_layer_sizes. Refit from scratch instead."
            )
        embedding = getattr(self, "embedding_", None)
        embedding_params = getattr(self, "embedding_params_", None)
        member_scales = getattr(self, "member_scales_", None)
        n_scales = 0 if member_scales is None else member_scales.size
        n_extra = 0 if embedding is None else embedding.n_params
        params = getattr(self, "_params", None)
        dtype = self.coefs_[0].dtype
        intact = is_flat_vector_of(params, layer_sizes, dtype, n_scales + n_extra)
        if intact:
            views = list(itertools.chain(*layer_views(params, layer_sizes)))
            fitted = self.coefs_ + self.intercepts_
            start = n_parameters(layer_sizes)[1]
            if n_scales:
                views.append(
                    params[start : start + n_scales].reshape(member_scales.shape)
                )
                fitted.append(member_scales)
            if n_extra:
                views.append(params[-n_extra:].reshape(embedding_params.shape))
                fitted.append(embedding_params)
            intact = all(
                a.__array_interface__ == b.__array_interface__
                for a, b in zip(views, fitted, strict=True)
            )
        network = Network(
            layer_sizes,
            self.activation,
            self._loss_name(),
            dtype,
            dropout,
            params=params if intact else None,
            loss_settings=self._loss_settings(layer_sizes[-1] // self._members()),
            embedding=embedding,
            members=self._members(),
        )
        if not intact:
            for target, source in zip(network.coefs, self.coefs_, strict=True):
                target[...] = source
            for target, source in zip(
                network.intercepts, self.intercepts_, strict=True
            ):
                target[...] = source
            if n_extra:
                network.embedding_params[...] = embedding_params
            if n_scales:
                network.member_scales[...] = member_scales
            self._params = network.params
            self.coefs_, self.intercepts_ = network.coefs, network.intercepts
            if embedding is not None:
                self.embedding_params_ = network.embedding_params
            if n_scales:
                self.member_scales_ = network.member_scales
        self.out_activation_ = network.output_activation
        return network

    def _fit_lbfgs(self, problem: "_TrainingProblem") -> None:
        report = problem.report
        iteration, stopped = 0, False

        def callback(intermediate_result):
            # called by SciPy at the end of each iteration
            nonlocal iteration, stopped
            iteration += 1
            if self.verbose:
                print(f"Iteration {iteration}, loss = {intermediate_result.fun:.8f}")
            if report.end_step(intermediate_result.x):
                stopped = True
                raise StopIteration  # SciPy ends cleanly on these weights
            if iteration < self.max_iter:
                report.begin_step("iteration", intermediate_result.x)

        report.begin_step("iteration", problem.network.params)
        result = minimize_lbfgs(
            problem.network,
            problem.X,
            self._training_targets(problem.T),
            problem.sample_weight,
            problem.alpha,
            self.max_iter,
            self.max_fun,
            self.tol,
            callback=callback,
        )
        # the iteration begun last did not run when SciPy stopped (converged,
        # or out of loss evaluations)
        report.abandon_step()
        if not np.isfinite(result.fun):
            raise TrainingDivergedError("the loss became non-finite")
        self.n_iter_ = min(result.nit, self.max_iter)
        if result.status != 0 and not stopped:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            # scikit-learn's first line, then our advice
            warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}):\n{message}\n\nIncrease max_iter "
                f"(now {self.max_iter}) or max_fun (now {self.max_fun}), or "
                "scale the inputs.",
                ConvergenceWarning,
            )
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
        check_fitted_network(self)
        _refuse_array_api_inputs(self, X=X)
        with _numeric_input("X"):
            X = validate_data(
                self,
                X,
                accept_sparse=["csr"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
        activation = "identity" if logits else self.out_activation_
        with np.errstate(all="ignore"):
            output = forward(
                X,
                self.coefs_,
                self.intercepts_,
                self.activation,
                activation,
                getattr(self, "embedding_", None),
                getattr(self, "embedding_params_", None),
                getattr(self, "member_scales_", None),
            )
        _check_finite_output(output, "logits" if logits else f"{activation} outputs")
        return output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
