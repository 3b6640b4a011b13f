"""ScratchMLPRegressor: one or several real-valued outputs."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin
from sklearn.metrics import d2_pinball_score, r2_score
from sklearn.utils.validation import column_or_1d

from ._base import BaseScratchMLP, _check_finite_output, incremental_only
from ._checks import REFIT
from ._docstrings import (
    COMMON_ATTRIBUTES,
    COMMON_PARAMETERS,
    DROPOUT_PARAMETER,
    EMBEDDING_PARAMETERS,
    LOSS_SETTING_PARAMETERS,
    MEMBERS_PARAMETER,
    NORMALIZE_Y_PARAMETER,
    SCORING_PARAMETER,
    TRAINING_CONTROL_PARAMETERS,
    regression_loss_parameter,
)
from ._params import REGRESSOR_CONSTRAINTS, normalize_quantiles

_DOC = """Multi-layer perceptron regressor trained by sknn_scratch's own engine.

A drop-in for :class:`sklearn.neural_network.MLPRegressor`: the same
parameters, defaults and fitted attributes, with a forward pass,
backpropagation and optimisers of its own (compiled kernels, and a NumPy
reference engine). The output layer is linear,
or exponential (a log link) for the Poisson loss. Besides scikit-learn's
losses it offers robust and quantile regression (``loss``, ``huber_delta``,
``quantile``).

Parameters
----------
{loss}

{parameters}

{dropout}

{loss_settings}

{scoring}

{training_control}

{embedding}

{members}

{normalize_y}

Attributes
----------
{attributes}

y_mean_ : ndarray of shape (n_outputs,)
    The targets' weighted means that ``normalize_y=True`` subtracts; only
    with it. (Not in scikit-learn's MLP.)

y_scale_ : ndarray of shape (n_outputs,)
    The targets' weighted standard deviations (1 for a constant column)
    that ``normalize_y=True`` divides by; only with it. (Not in
    scikit-learn's MLP.)

See Also
--------
ScratchMLPClassifier : The classifier built on the same engine.

Examples
--------
>>> import numpy as np
>>> from sknn_scratch import ScratchMLPRegressor
>>> X = np.linspace(0, 1, 50).reshape(-1, 1)
>>> reg = ScratchMLPRegressor(
...     hidden_layer_sizes=(8,), activation="tanh", solver="lbfgs", random_state=0
... )
>>> reg.fit(X, X.ravel() ** 2).predict(X[:2]).shape
(2,)
""".format(
    loss=regression_loss_parameter(),
    parameters=COMMON_PARAMETERS.replace("{split}", "a random split"),
    attributes=COMMON_ATTRIBUTES.replace("{score}", "R²"),
    dropout=DROPOUT_PARAMETER,
    loss_settings=LOSS_SETTING_PARAMETERS,
    scoring=SCORING_PARAMETER.replace("{score}", "R²"),
    training_control=TRAINING_CONTROL_PARAMETERS,
    embedding=EMBEDDING_PARAMETERS,
    members=MEMBERS_PARAMETER,
    normalize_y=NORMALIZE_Y_PARAMETER,
)


# The fitted attributes of normalize_y=True.
TARGET_NORMALIZATION = ("y_mean_", "y_scale_")


def _weighted_moments(T: np.ndarray, sample_weight) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation, weighted (the weights as
    repetitions of rows), in float64; a constant column's scale is 1."""
    T = T.astype(np.float64)
    mean = np.average(T, axis=0, weights=sample_weight)
    std = np.sqrt(np.average((T - mean) ** 2, axis=0, weights=sample_weight))
    # a spread at rounding level is no spread: dividing by it would blow
    # rounding up into targets
    constant = std <= 8 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    return mean, np.where(constant, 1.0, std)


def _standardized(T: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((T - mean) / scale).astype(T.dtype, copy=False)


def sorted_quantiles(outputs: np.ndarray, n_quantiles: int) -> np.ndarray:
    """The network's outputs (n_samples, n_targets · n_quantiles), target-major,
    as predictions of shape (n_samples, n_targets, n_quantiles) in which the
    quantiles of each row and target increase: the monotone rearrangement
    (see ``ScratchMLPRegressor.predict``)."""
    return np.sort(outputs.reshape(outputs.shape[0], -1, n_quantiles), axis=-1)


def quantile_score(y, predictions, quantiles, sample_weight=None) -> float:
    """The mean over the quantiles of scikit-learn's ``d2_pinball_score`` of
    each quantile's predictions (``predictions[..., k]`` for quantile k; for
    several targets, each score averages over them as that function does)."""
    return float(
        np.mean(
            [
                d2_pinball_score(
                    y, predictions[..., k], sample_weight=sample_weight, alpha=q
                )
                for k, q in enumerate(quantiles)
            ]
        )
    )


class ScratchMLPRegressor(RegressorMixin, BaseScratchMLP):
    __doc__ = _DOC
    _parameter_constraints = REGRESSOR_CONSTRAINTS

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        huber_delta=1.0,
        quantile=None,
        scoring=None,
        warmup_fraction=0.0,
        weight_decay=0.0,
        embedding=None,
        embedding_columns=None,
        embedding_size=16,
        embedding_scale=0.1,
        n_members=1,
        normalize_y=False,
    ):
        self.loss = loss
        self.huber_delta = huber_delta
        self.quantile = quantile
        self.normalize_y = normalize_y
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            scoring=scoring,
            warmup_fraction=warmup_fraction,
            weight_decay=weight_decay,
            embedding=embedding,
            embedding_columns=embedding_columns,
            embedding_size=embedding_size,
            embedding_scale=embedding_scale,
            n_members=n_members,
        )

    # -- targets ----------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset, classes=None):
        X, y = self._validate_X_y(X, y, reset=reset, y_numeric=True)
        y, T = self._targets(y, X.dtype, "y")
        return X, T, y, None

    def _validate_validation_input(self, X_val, y_val, dtype):
        X, y = self._validate_X_y(X_val, y_val, reset=False, y_numeric=True)
        X = X.astype(dtype, copy=False)
        y, T = self._targets(y, dtype, "y_val")
        return X, T, y

    def _targets(self, y, dtype, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Validated y (dense, 1-D for one output) and the targets of the loss
        (2-D, in the training dtype); ``name`` names y in errors."""
        if sp.issparse(y):
            y = y.toarray()  # targets are few columns; the engine wants them dense
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                "loss='poisson' needs non-negative targets (counts or rates); "
                f"{name} has {int((y < 0).sum())} negative value(s)."
            )
        T = y.reshape(-1, 1) if y.ndim == 1 else y
        # several quantiles: each target once per quantile, target-major, as
        # the outputs are
        T = np.repeat(T, self._outputs_per_target(), axis=1)
        with np.errstate(over="ignore"):
            T = T.astype(dtype, copy=False)
        if not np.isfinite(T).all():
            raise ValueError(
                f"{name} has values beyond the range of {np.dtype(dtype)}, the "
                "precision that float32 X trains in (largest: "
                f"{np.finfo(dtype).max:.3g}). Scale {name}, or pass X as float64."
            )
        return y, T

    def _loss_name(self) -> str:
        return self.loss

    # -- standardised targets (normalize_y) -------------------------------------
    def _prepare_training(
        self, X, y, sample_weight, incremental, classes=None, validation_data=None
    ):
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        problem = super()._prepare_training(
            X, y, sample_weight, incremental, classes, validation_data
        )
        if first_pass:
            for name in TARGET_NORMALIZATION:
                if hasattr(self, name):
                    delattr(self, name)
            if self.normalize_y:
                self.y_mean_, self.y_scale_ = _weighted_moments(
                    problem.T[:, :: self._outputs_per_target()], problem.sample_weight
                )
        elif hasattr(self, "y_mean_") != bool(self.normalize_y):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, which "
                "learnt the targets "
                + ("standardised" if hasattr(self, "y_mean_") else "as they are")
                + f", not as normalize_y={self.normalize_y!r} asks. Refit from "
                "scratch instead."
            )
        normalization = self._fitted_normalization()
        if normalization is None:
            return problem
        validation = problem.validation
        if validation is not None:
            validation = validation._replace(
                T=_standardized(validation.T, *normalization)
            )
        return problem._replace(
            T=_standardized(problem.T, *normalization), validation=validation
        )

    def _validated_settings(self):
        settings = super()._validated_settings()
        if self.normalize_y and self.loss == "poisson":
            raise ValueError(
                "normalize_y=True would shift the counts of loss='poisson' below 0, "
                "where its log link cannot reach. Leave normalize_y=False for it."
            )
        return settings

    def _fitted_normalization(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(mean, scale) of each network output's target, repeated for its
        quantiles, or None without normalize_y; checked, since a file may hold
        anything."""
        if not hasattr(self, "y_mean_"):
            return None
        mean, scale = self.y_mean_, getattr(self, "y_scale_", None)
        n_targets = self.n_outputs_ // self._outputs_per_fitted_target()
        for name, values in (("y_mean_", mean), ("y_scale_", scale)):
            if not (
                isinstance(values, np.ndarray)
                and values.shape == (n_targets,)
                and values.dtype.kind == "f"
                and np.isfinite(values).all()
            ):
                raise ValueError(
                    f"{name} must be a finite float array of shape ({n_targets},), "
                    f"one value per target. {REFIT}"
                )
        if not (scale > 0).all():
            raise ValueError(f"y_scale_ must be positive. {REFIT}")
        repeats = self._outputs_per_fitted_target()
        return np.repeat(mean, repeats), np.repeat(scale, repeats)

    def _outputs_per_fitted_target(self) -> int:
        levels = self._fitted_quantile_levels()
        return 1 if levels is None else len(levels)

    # -- several quantiles in one network ---------------------------------------
    def _quantile_levels(self) -> tuple[float, ...] | None:
        """The quantiles of the outputs when ``loss='quantile'`` is given a
        sequence of them (validated parameters); None otherwise, a single
        float quantile included."""
        if self.loss != "quantile":
            return None
        return normalize_quantiles(self.quantile)

    def _fitted_quantile_levels(self) -> tuple[float, ...] | None:
        """The quantiles the fitted outputs predict (None: the outputs are the
        targets' own), checked against ``n_outputs_`` (a file may hold
        anything)."""
        levels = getattr(self, "_fitted_quantiles", None)
        if levels is None:
            return None
        checked = normalize_quantiles(levels)
        n_outputs = getattr(self, "n_outputs_", None)
        if (
            checked is None
            or not isinstance(n_outputs, Integral)
            or n_outputs % len(checked)
        ):
            raise ValueError(
                f"The fitted quantiles {levels!r} are not an increasing sequence of "
                f"quantiles in (0, 1) that divides the n_outputs_={n_outputs!r} "
                f"outputs. {REFIT}"
            )
        return checked

    def _outputs_per_target(self) -> int:
        levels = self._quantile_levels()
        return 1 if levels is None else len(levels)

    def _loss_settings(self, n_outputs: int) -> dict:
        settings = super()._loss_settings(n_outputs)
        levels = self._quantile_levels()
        if levels is not None and len(levels) > 1:
            # output j·Q + k predicts quantile k of target j; one quantile is
            # one value for all outputs, exactly as a float quantile gives it
            settings["quantile"] = np.tile(levels, n_outputs // len(levels))
        elif levels is not None:
            settings["quantile"] = levels[0]
        return settings

    def _initialize(self, network, random_state) -> None:
        super()._initialize(network, random_state)
        self._fitted_quantiles = self._quantile_levels()

    def _continue_network(self, layer_sizes, dropout):
        fitted, asked = self._fitted_quantile_levels(), self._quantile_levels()
        if fitted is not None and asked != fitted:
            raise ValueError(
                "warm_start and partial_fit continue from the fitted network, whose "
                f"outputs predict the quantiles {list(fitted)}; loss={self.loss!r} "
                f"with quantile={self.quantile!r} asks for "
                + ("other outputs" if asked is None else f"the quantiles {list(asked)}")
                + ". Other quantiles make another network: refit from scratch "
                "(warm_start=False) instead."
            )
        network = super()._continue_network(layer_sizes, dropout)
        self._fitted_quantiles = asked
        return network

    def _score_outputs(self, outputs, T, sample_weight) -> float:
        levels = self._fitted_quantile_levels()
        if levels is None:
            return float(r2_score(T, outputs, sample_weight=sample_weight))
        # T holds each target once per quantile
        predictions = sorted_quantiles(outputs, len(levels))
        return quantile_score(T[:, :: len(levels)], predictions, levels, sample_weight)

    # -- public API --------------------------------------------------------------
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Train the network on X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 trains in float32, anything else in float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            Validation data for early stopping, instead of a split of X:
            needs ``early_stopping=True`` and 'sgd' or 'adam', and then all of
            X trains and ``validation_fraction`` is ignored. In a ``Pipeline``,
            ``transform_input=["X_val"]`` transforms it as X is (with metadata
            routing enabled). (Not in scikit-learn's MLP.)
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Targets of ``X_val``. Given with ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weight of each row of ``X_val`` in the validation score and loss.

        Returns
        -------
        self : ScratchMLPRegressor
            The fitted estimator.
        """
        return self._fit(
            X,
            y,
            sample_weight=sample_weight,
            incremental=False,
            validation_data=(X_val, y_val, sample_weight_val),
        )

    @incremental_only
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the stochastic solver over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.

        Returns
        -------
        self : ScratchMLPRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predicted targets, or their quantiles.

        With ``loss='quantile'`` and a sequence of quantiles, the network has
        one output per quantile of each target, and the predictions never
        cross: for each row and target, the quantiles' outputs are sorted in
        increasing order and given to the quantiles in increasing order (the
        monotone rearrangement). Training fits each output with its own
        pinball loss, so outputs may cross where the data are scarce; sorting
        them never makes the pinball loss of any row worse, summed over the
        quantiles, and leaves outputs that do not cross unchanged.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), (n_samples, n_outputs), \
(n_samples, n_quantiles) or (n_samples, n_outputs, n_quantiles)
            One-dimensional when the model was fitted on a one-dimensional y.
            With a sequence of quantiles, one more dimension holds the
            quantiles, in the order of ``quantile``: (n_samples, n_quantiles)
            for a one-dimensional y, (n_samples, n_outputs, n_quantiles) for
            a two-dimensional one (a sequence of one quantile too).
        """
        predicted = self._forward(X)
        normalization = self._fitted_normalization()
        if normalization is not None:
            mean, scale = (values.astype(predicted.dtype) for values in normalization)
            predicted = predicted * scale + mean
            _check_finite_output(predicted, "predictions in y's units")
        levels = self._fitted_quantile_levels()
        if levels is not None:
            predictions = sorted_quantiles(predicted, len(levels))
            return predictions[:, 0, :] if predictions.shape[1] == 1 else predictions
        if predicted.shape[1] == 1:
            return predicted.ravel()
        return predicted

    def score(self, X, y, sample_weight=None) -> float:
        """The coefficient of determination R² of the predictions, or with
        several quantiles the mean of their D² pinball scores.

        R² is scikit-learn's ``r2_score`` (1 is best; a constant prediction
        of the mean scores 0), as for scikit-learn's MLP. With
        ``loss='quantile'`` and a sequence of quantiles, it is the mean over
        the quantiles q of scikit-learn's
        ``d2_pinball_score(y, predictions of q, alpha=q)``: 1 is best, and a
        constant prediction of y's q-quantile scores 0, as with R². Early
        stopping monitors this score by default (``scoring=None``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values for X.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        float
            R², or the mean D² pinball score over the quantiles.
        """
        levels = self._fitted_quantile_levels()
        if levels is None:
            return super().score(X, y, sample_weight=sample_weight)
        return quantile_score(y, self.predict(X), levels, sample_weight)
