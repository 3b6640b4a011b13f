"""check_gradients: backpropagation against finite differences, for an estimator.

Every hand-written network should be checked this way; this function does it
for the exact configuration of a ScratchMLPClassifier or ScratchMLPRegressor
(activation, loss, depth, L2 penalty, sample and class weights, dropout) on the
user's own data.
"""

import copy

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._base import BaseScratchMLP
from ._network import layer_views


def _as_float64(X):
    if sp.issparse(X):
        return X.astype(np.float64)
    if hasattr(X, "columns") and hasattr(X, "astype"):  # a DataFrame: keep names
        return X.astype(np.float64)
    return np.asarray(X, dtype=np.float64)


def check_gradients(
    estimator: BaseScratchMLP,
    X,
    y,
    *,
    sample_weight=None,
    epsilon: float = 1e-6,
    max_params: int | None = 500,
    random_state=None,
) -> float:
    """Largest error of the backpropagated gradient against finite differences.

    For each checked parameter p_i the loss E (the training objective: data
    loss plus L2 penalty, with sample and class weights) is evaluated at
    p ± ε e_i, and the central difference ``(E(p + ε e_i) - E(p - ε e_i)) / 2ε``
    is compared with the engine's backpropagated g_i = ∂E/∂p_i. With d_i the
    central difference, the error returned is

        max_i |d_i - g_i| / max(max_j |g_j|, max_i |d_i|),

    the largest discrepancy relative to the size of the gradient (0 when the
    gradient is exactly zero). It is computed in float64 whatever the
    estimator's dtype. Around 1e-9 is typical; above 1e-6 means a wrong gradient
    (or, with relu units, a finite difference that crossed a kink: use fewer
    samples or a smaller ``epsilon``).

    Parameters
    ----------
    estimator : ScratchMLPClassifier or ScratchMLPRegressor
        Fitted or not. A fitted estimator is checked at its fitted weights (y
        must then hold the classes it was fitted on); an unfitted one at the
        initial weights its ``random_state`` draws. It is never modified.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data the loss is evaluated on. Keep it small: each checked parameter
        costs two passes over it.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, as for ``fit``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights, as for ``fit``.
    epsilon : float, default=1e-6
        Step of the central differences.
    max_params : int or None, default=500
        Check at most this many parameters, chosen at random, so that large
        networks stay quick; None checks every parameter.
    random_state : int, RandomState instance or None, default=None
        Chooses the parameters checked and the (fixed) dropout masks.

    Returns
    -------
    float
        The largest relative error over the checked parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn_scratch import ScratchMLPClassifier, check_gradients
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ScratchMLPClassifier(hidden_layer_sizes=(5,), activation="tanh")
    >>> check_gradients(clf, X[::10], y[::10], random_state=0) < 1e-6
    True
    """
    if not isinstance(estimator, BaseScratchMLP):
        raise ValueError(
            "check_gradients checks ScratchMLPClassifier and ScratchMLPRegressor; "
            f"got {type(estimator).__name__}."
        )
    if not (isinstance(epsilon, float | int) and 0 < epsilon < 1):
        raise ValueError(f"epsilon must be a float in (0, 1); got {epsilon!r}.")
    if max_params is not None and (not isinstance(max_params, int) or max_params < 1):
        raise ValueError(
            f"max_params must be a positive int or None; got {max_params!r}."
        )

    probe = copy.deepcopy(estimator)
    if hasattr(probe, "coefs_"):
        probe.set_params(warm_start=True)  # continue from the fitted weights
        # in float64, whatever precision the estimator was trained in
        layer_sizes = (probe.coefs_[0].shape[0], *(b.size for b in probe.intercepts_))
        probe._params = np.concatenate(
            [np.ravel(w) for w in probe.coefs_ + probe.intercepts_]
        ).astype(np.float64)
        probe.coefs_, probe.intercepts_ = layer_views(probe._params, layer_sizes)
    problem = probe._prepare_training(
        _as_float64(X), y, sample_weight, incremental=False
    )
    network, alpha = problem.network, probe.alpha
    rng = check_random_state(random_state)
    dropout_seed = rng.randint(np.iinfo(np.int32).max)

    def loss(gradient: bool = False) -> float:
        # Reseeding before every evaluation draws the same dropout masks, so
        # that the loss is one deterministic function of the parameters.
        network.set_dropout_rng(np.random.default_rng(dropout_seed))
        data = (problem.X, problem.T, problem.sample_weight, alpha)
        if gradient:
            return network.loss_and_gradient(*data)
        return network.loss(*data, training=True)

    with np.errstate(all="ignore"):
        loss(gradient=True)
        backprop = network.grad.copy()
        n_params = network.params.size
        if max_params is None or max_params >= n_params:
            checked = np.arange(n_params)
        else:
            checked = np.sort(rng.choice(n_params, max_params, replace=False))
        differences = np.empty(checked.size)
        params = network.params
        for k, i in enumerate(checked):
            saved = params[i]
            params[i] = saved + epsilon
            loss_plus = loss()
            params[i] = saved - epsilon
            loss_minus = loss()
            params[i] = saved
            differences[k] = (loss_plus - loss_minus) / (2 * epsilon)

    scale = max(np.abs(backprop).max(), np.abs(differences).max())
    if not np.isfinite(scale):
        raise ValueError(
            "The loss or its gradient is not finite for this data and these "
            "weights; scale X before checking gradients."
        )
    if scale == 0:
        return 0.0
    return float(np.abs(differences - backprop[checked]).max() / scale)
