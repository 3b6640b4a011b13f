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
from sklearn.utils.multiclass import unique_labels

from .._reference._network import layer_views
from ._base import BaseScratchMLP
from ._exceptions import warn

# A finite difference within this fraction of the gradient's scale of the
# backpropagated value confirms it; a gradient check's threshold of 1e-6
# leaves a margin of ten above what a correct gradient can show.
TOLERANCE = 1e-7
# The loss counts as smooth at p, at one step, when the central and the two
# one-sided differences agree within this fraction of the scale: ten times
# finer than TOLERANCE, so that rounding seldom passes for smoothness by chance.
SMOOTHNESS = 1e-8
# Steps, as multiples of epsilon, at which a parameter is re-examined when its
# first central difference disagrees with backpropagation: smaller ones slip
# between kinks, larger ones rise above rounding in the loss.
STEP_FACTORS = (1.0, 10.0, 0.1, 100.0, 0.01, 1000.0)

_NOT_FINITE = (
    "The loss or its gradient is not finite for this data and these weights; "
    "scale X before checking gradients."
)


def _as_float64(X):
    if sp.issparse(X):
        return X.astype(np.float64)
    if hasattr(X, "columns") and hasattr(X, "astype"):  # a DataFrame: keep names
        return X.astype(np.float64)
    return np.asarray(X, dtype=np.float64)


def _gradient_scale(network, problem, alpha: float, reseed) -> float:
    """The size of the terms the gradient sums: the largest, over parameters,
    of Σ_n (s_n / S) |∂ℓ_n/∂p_j| + α |W_j| / S.

    At a minimum the gradient itself is near zero while these terms are not,
    so errors measured against them keep their meaning on trained networks.
    """
    X, T, weights = problem.X, problem.T, problem.sample_weight
    n_rows = X.shape[0]
    total = float(n_rows if weights is None else weights.sum())
    magnitudes = np.zeros_like(network.params)
    for row in range(n_rows):
        share = (1.0 if weights is None else float(weights[row])) / total
        if share == 0.0:
            continue
        reseed()
        network.loss_and_gradient(X[row : row + 1], T[row : row + 1], None, 0.0)
        magnitudes += np.abs(network.grad) * share
    n_weights = network.n_weights
    magnitudes[:n_weights] += float(alpha) / total * np.abs(network.params[:n_weights])
    return float(magnitudes.max())


def _difference_error(
    loss_at, at_p: float, gradient: float, epsilon: float, scale: float
) -> float | None:
    """|finite difference - backpropagated value| for one parameter, or None
    when no finite difference can be trusted (see ``check_gradients``).

    ``loss_at(step)`` is the loss with the parameter moved by ``step``;
    ``at_p`` the loss where it is.
    """
    tolerance = TOLERANCE * scale
    central = (loss_at(epsilon) - loss_at(-epsilon)) / (2 * epsilon)
    if not np.isfinite(central):
        raise ValueError(_NOT_FINITE)
    error = abs(central - gradient)
    if error <= tolerance:
        return error
    smooth = False
    for factor in STEP_FACTORS:
        step = factor * epsilon
        up, down = loss_at(step), loss_at(-step)
        up2, down2 = loss_at(2 * step), loss_at(-2 * step)
        # fourth-order central, and second-order one-sided on either side
        differences = np.array(
            [
                (8 * (up - down) - (up2 - down2)) / (12 * step),
                (4 * up - up2 - 3 * at_p) / (2 * step),
                (3 * at_p - 4 * down + down2) / (2 * step),
            ]
        )
        if not np.isfinite(differences).all():  # a large step overflowed
            continue
        smooth = smooth or np.ptp(differences) <= SMOOTHNESS * scale
        error = min(error, np.abs(differences - gradient).min())
        if error <= tolerance:
            break
    return float(error) if error <= tolerance or smooth else None


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

    E is the training objective: data loss plus L2 penalty, with sample and
    class weights and fixed dropout masks. For each checked parameter p_i,
    backpropagation's g_i = ∂E/∂p_i is compared with a finite difference d_i
    of E, and the value returned is::

        max_i |d_i - g_i| / scale,

    where the scale is the largest, over all parameters, of
    ``Σ_n (s_n / S) |∂ℓ_n/∂p_j|`` (``+ α |W_j| / S`` for a weight): the size of the
    per-sample terms the gradient sums. Unlike the gradient, which is near
    zero on a trained network, it does not vanish at a minimum, so the measure
    keeps its meaning there. A correct gradient gives less than {tolerance},
    usually far less; above 1e-6 means a wrong gradient. It is computed in
    float64 whatever the estimator's dtype.

    How d_i is found: first as the central difference
    ``(E(p + ε e_i) - E(p - ε e_i)) / 2ε``. If that disagrees with g_i by more
    than {tolerance} of the scale, the difference itself may be wrong: its step
    may carry a unit or a residual across a kink (relu and leaky_relu at 0,
    the absolute and quantile losses at a zero residual), measuring neither
    slope; or rounding in the loss, divided by ε, may swamp it. The parameter
    is then re-examined at steps from {smallest} to {largest} (smaller ones
    slip between kinks, larger ones rise above rounding) with a fourth-order
    central difference and second-order one-sided differences on either side
    (where a kink lies at p itself, the side p is on gives the slope
    backpropagation takes), and d_i is the one that agrees best with g_i.

    A parameter at which the loss never looks smooth (at no step do those
    three differences agree to {smoothness} of the scale, and none confirms
    g_i) has no derivative that finite differences can measure: units or
    residuals sit on their kinks on both sides of it, as is common after
    training with the absolute or quantile loss, or rounding exceeds its
    gradient where the outputs saturate. It is left out of the maximum, and a
    ``UserWarning`` says how many were.

    Parameters
    ----------
    estimator : ScratchMLPClassifier or ScratchMLPRegressor
        Fitted or not. A fitted estimator is checked at its fitted weights (y
        must then hold the classes it was fitted on); an unfitted one at the
        initial weights its ``random_state`` draws. It is never modified.
    X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
        Data the loss is evaluated on. Keep it small: each checked parameter
        costs two passes over it (more when it is re-examined), and the scale
        one backward pass per sample.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, as for ``fit``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights, as for ``fit``.
    epsilon : float, default=1e-6
        Step of the central differences (the first one tried).
    max_params : int or None, default=500
        Check at most this many parameters, chosen at random, so that large
        networks stay quick; None checks every parameter.
    random_state : int, RandomState instance or None, default=None
        Chooses the parameters checked and the (fixed) dropout masks.

    Returns
    -------
    float
        The largest error over the checked parameters, relative to the
        gradient's scale; NaN if no parameter could be checked.

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
        # the parameters below the first layer too (members' scales, the
        # embedding's frequencies), which the network takes in the layers' dtype
        for name in ("member_scales_", "embedding_params_"):
            extra = getattr(probe, name, None)
            if extra is not None:
                setattr(probe, name, np.asarray(extra, dtype=np.float64))
    if hasattr(probe, "classes_"):
        labels = unique_labels(y)
        if not np.array_equal(labels, probe.classes_):
            raise ValueError(
                "check_gradients checks a fitted classifier on data of the "
                f"classes it was fitted on, {probe.classes_.tolist()}; y has "
                f"{labels.tolist()}. Pass rows of every class, or check an "
                "unfitted estimator."
            )
    problem = probe._prepare_training(
        _as_float64(X), y, sample_weight, incremental=False
    )
    # the objective training minimises: with the classifier's smoothed labels
    problem = problem._replace(T=probe._training_targets(problem.T))
    network, alpha = problem.network, probe.alpha
    rng = check_random_state(random_state)
    dropout_seed = rng.randint(np.iinfo(np.int32).max)

    def reseed() -> None:
        # The same dropout masks at every evaluation: the loss is then one
        # deterministic function of the parameters.
        network.set_dropout_rng(np.random.default_rng(dropout_seed))

    def loss(gradient: bool = False) -> float:
        reseed()
        data = (problem.X, problem.T, problem.sample_weight, alpha)
        if gradient:
            return network.loss_and_gradient(*data)
        return network.loss(*data, training=True)

    params = network.params

    def loss_at(i: int):
        def moved(step: float) -> float:
            saved = params[i]
            params[i] = saved + step
            try:
                return loss()
            finally:
                params[i] = saved

        return moved

    with np.errstate(all="ignore"):
        loss(gradient=True)
        backprop = network.grad.copy()
        at_p = loss()
        scale = _gradient_scale(network, problem, alpha, reseed)
        n_params = params.size
        if max_params is None or max_params >= n_params:
            checked = np.arange(n_params)
        else:
            checked = np.sort(rng.choice(n_params, max_params, replace=False))
        if not np.isfinite([at_p, scale]).all() or not np.isfinite(backprop).all():
            raise ValueError(_NOT_FINITE)
        if scale == 0:
            return 0.0
        errors = [
            _difference_error(loss_at(i), at_p, backprop[i], epsilon, scale)
            for i in checked
        ]

    verified = [error for error in errors if error is not None]
    if len(verified) < len(errors):
        warn(
            f"{len(errors) - len(verified)} of {len(errors)} checked parameters "
            "were left out: the loss has kinks on both sides of them (units or "
            "residuals sitting on a kink), or rounding in the loss exceeds their "
            "gradient, at every step tried, so no finite difference defines their "
            "derivative."
        )
    if not verified:
        return float("nan")
    return float(max(verified) / scale)


check_gradients.__doc__ = check_gradients.__doc__.format(
    tolerance=f"{TOLERANCE:.0e}".replace("e-0", "e-"),
    smoothness=f"{SMOOTHNESS:.0e}".replace("e-0", "e-"),
    smallest=f"ε/{1 / min(STEP_FACTORS):g}",
    largest=f"{max(STEP_FACTORS):g} ε",
)
