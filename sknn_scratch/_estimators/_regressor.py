"""ScratchMLPRegressor: one or several real-valued outputs."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import column_or_1d

from ._base import BaseScratchMLP, incremental_only
from ._docstrings import (
    COMMON_ATTRIBUTES,
    COMMON_PARAMETERS,
    DROPOUT_PARAMETER,
    EMBEDDING_PARAMETERS,
    LOSS_SETTING_PARAMETERS,
    MEMBERS_PARAMETER,
    SCORING_PARAMETER,
    TRAINING_CONTROL_PARAMETERS,
    regression_loss_parameter,
)
from ._params import REGRESSOR_CONSTRAINTS

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

Attributes
----------
{attributes}

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
    ):
        self.loss = loss
        self.huber_delta = huber_delta
        self.quantile = quantile
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

    def _score_outputs(self, outputs, T, sample_weight) -> float:
        return float(r2_score(T, outputs, sample_weight=sample_weight))

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
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            One-dimensional when the model was fitted on a one-dimensional y.
        """
        predicted = self._forward(X)
        if predicted.shape[1] == 1:
            return predicted.ravel()
        return predicted
