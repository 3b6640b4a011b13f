"""Parameter and attribute descriptions shared by the two estimators' docstrings.

Both estimators take the same constructor parameters (the regressor adds
``loss``); their descriptions are written once here and assembled into each
class docstring. The lists of activations, solvers and losses are read from
the engine's tables, so that they name exactly what validation accepts.
"""

import textwrap

from .._reference._activations import ACTIVATIONS
from .._reference._embeddings import EMBEDDINGS
from .._reference._losses import LOSSES, REGRESSION_LOSSES
from .._reference._optimizers import SCHEDULES, SOLVERS
from ._params import REGRESSOR_CONSTRAINTS


def _choices(names) -> str:
    return "{" + ", ".join(repr(name) for name in names) + "}"


def _activation_lines() -> str:
    return "\n".join(
        f"    - {name!r}: ``{entry.formula}``" for name, entry in ACTIVATIONS.items()
    )


def _item(text: str) -> str:
    """A bullet of a parameter description, wrapped and indented."""
    return textwrap.fill(
        text, width=76, initial_indent="    - ", subsequent_indent="      "
    )


def _schedule_lines() -> str:
    return "\n".join(
        _item(f"{name!r}: {entry.description}.") for name, entry in SCHEDULES.items()
    )


def _embedding_lines() -> str:
    return "\n".join(
        _item(f"{name!r}: {entry.description}: ``{entry.formula}``.")
        for name, entry in EMBEDDINGS.items()
    )


def _solver_lines() -> str:
    return "\n".join(
        _item(f"{name!r}: {entry.description}.") for name, entry in SOLVERS.items()
    )


def regression_loss_parameter() -> str:
    """The regressor's ``loss`` parameter, one line per regression loss."""
    lines = "\n".join(
        _item(
            f"{name!r}: ``{LOSSES[name].formula}``; output activation "
            f"{LOSSES[name].output_activation!r}"
            + "".join(f", parameter ``{s}``" for s in LOSSES[name].settings)
            + "."
        )
        for name in REGRESSION_LOSSES
    )
    return f"""\
loss : {_choices(REGRESSION_LOSSES)}, default='squared_error'
    The loss per sample, summed over outputs k and averaged over samples
    (weighted by ``sample_weight``), with z the output layer's
    pre-activation and t the target:

{lines}"""


COMMON_PARAMETERS = f"""\
hidden_layer_sizes : int or sequence of int, default=(100,)
    Number of units in each hidden layer. ``()`` gives a network with no
    hidden layer: a linear or generalised-linear model trained by the same
    engine.

activation : {_choices(ACTIVATIONS)}, default='relu'
    Activation f(z) of every hidden unit:

{_activation_lines()}

solver : {_choices(SOLVERS)}, default='adam'
    Weight optimiser:

{_solver_lines()}

alpha : float, default=0.0001
    Strength of the L2 penalty ``0.5 * alpha * ||W||² / n`` on the weights
    (not the biases), where ``n`` is the number of samples of the batch, or
    the sum of their sample weights.

batch_size : int or 'auto', default='auto'
    Rows per mini-batch for 'sgd' and 'adam'; 'auto' is
    ``min(200, n_samples)``. Ignored by 'lbfgs'.

learning_rate : {_choices(SCHEDULES)}, default='constant'
    Step-size schedule:

{_schedule_lines()}

    The schedules 'sgd' alone follows leave 'adam' at
    ``learning_rate_init`` (as in scikit-learn); the others set each batch's
    rate for both, as ``learning_rate_init`` times a factor of the progress
    of training: the middle of the batch, in epochs, over a horizon of
    ``max_iter`` epochs (held at its end beyond it, for ``partial_fit``). A
    fit restarts the schedule, warm start or not; each ``partial_fit`` call
    goes on with it. Ignored by 'lbfgs'.

learning_rate_init : float, default=0.001
    Initial step size of 'sgd' and 'adam'.

power_t : float, default=0.5
    Exponent of the 'invscaling' schedule of 'sgd'.

max_iter : int, default=200
    Maximum number of epochs for 'sgd' and 'adam' (each sample is used
    once per epoch), or of iterations for 'lbfgs'.

shuffle : bool, default=True
    Whether 'sgd' and 'adam' visit the samples in a new random order each
    epoch.

random_state : int, RandomState instance or None, default=None
    Seeds the weight initialisation, the validation split of early stopping
    and the shuffling of samples. An int gives reproducible results, and the
    same draws as scikit-learn's MLP for the same seed.

tol : float, default=1e-4
    Improvement below which an epoch counts as no progress (for 'sgd' and
    'adam'), or gradient tolerance of 'lbfgs'.

verbose : bool or int, default=False
    Print the loss after every iteration.

warm_start : bool, default=False
    Start ``fit`` from the weights of the previous fit instead of new random
    ones.

momentum : float, default=0.9
    Momentum of 'sgd', in [0, 1].

nesterovs_momentum : bool, default=True
    Use Nesterov's momentum in 'sgd' when ``momentum > 0``.

early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the training data ({{split}}), or
    validate on the ``X_val`` and ``y_val`` given to ``fit``, and stop 'sgd'
    or 'adam' when the validation score (``scoring``) has not improved by
    ``tol`` for ``n_iter_no_change`` epochs; the weights of the best epoch are
    kept. An epoch whose loss or weights become non-finite also ends
    training, on the best weights, with a ConvergenceWarning (it is recorded
    as NaN).

validation_fraction : float, default=0.1
    Share of the training data held out for early stopping, in [0, 1).
    Ignored when ``X_val`` is given to ``fit``.

beta_1 : float, default=0.9
    Decay rate of Adam's first-moment estimate, in [0, 1).

beta_2 : float, default=0.999
    Decay rate of Adam's second-moment estimate, in [0, 1).

epsilon : float, default=1e-8
    Added to the square root of Adam's second moment for numerical
    stability.

n_iter_no_change : int or np.inf, default=10
    Number of epochs without improvement by ``tol`` before 'sgd' or 'adam'
    stops (or, with ``learning_rate='adaptive'``, lowers its step).

max_fun : int, default=15000
    Maximum number of loss evaluations of 'lbfgs'."""

DROPOUT_PARAMETER = """\
dropout : float or sequence of float, default=0.0
    Probability of dropping each hidden unit during training, for all hidden
    layers (a float) or one per hidden layer (a sequence), each in [0, 1).
    Kept units are scaled by ``1 / (1 - rate)`` ("inverted dropout"), so
    prediction uses the whole network unchanged and is deterministic. Needs
    'sgd' or 'adam'. The default 0.0 gives exactly the results of a network
    without the feature. (Not in scikit-learn's MLP.)"""


SCORING_PARAMETER = """\
scoring : str, callable or None, default=None
    What early stopping monitors on the validation set; used only when
    ``early_stopping=True``. None is the estimator's ``score`` ({score}).
    'loss' is the validation loss without the L2 penalty, and
    ``validation_scores_`` then holds its negative, so that higher is better
    (as in scikit-learn's HistGradientBoosting estimators). Any
    other str is a scorer's name (``sklearn.metrics.get_scorer_names()``),
    and a callable is a scorer ``scorer(estimator, X, y)``: it gets the
    estimator with the weights of the epoch and the validation set in the
    user's form (labels, not their encoding). ``validation_scores_`` records
    the monitored score, ``tol`` is measured on its scale, and the weights of
    its best epoch are kept. (Not in scikit-learn's MLP.)"""


TRAINING_CONTROL_PARAMETERS = """\
warmup_fraction : float, default=0.0
    For the schedules that warm up ('cosine', 'flat_cosine'): the share of
    the horizon (``max_iter`` epochs) over which the rate rises linearly
    from 0 to ``learning_rate_init``, in [0, 1). (Not in scikit-learn's MLP.)

weight_decay : float, default=0.0
    Decoupled weight decay λ of 'sgd' and 'adam' (AdamW, and its SGD
    analogue): each step shrinks the weights, not the biases, by the step's
    scheduled rate times λ, apart from the gradient, ``W ← W - η (update +
    λ W)``. Unlike the L2 penalty ``alpha``, it is not scaled by Adam's
    second moment. Ignored by 'lbfgs'. (Not in scikit-learn's MLP.)"""


EMBEDDING_PARAMETERS = f"""\
embedding : {{{", ".join(repr(name) for name in EMBEDDINGS)}}} or None, default=None
    A numerical embedding of the columns ``embedding_columns``, which the
    first layer reads in their place (Gorishniy et al., 2022):

{_embedding_lines()}

    The embedded columns come first in the first layer's input, the others
    after them as they are: ``coefs_[0]`` has a row per value of that input
    (``embedding_.width``). None reads X as it is. (Not in scikit-learn's
    MLP.)

embedding_columns : str, sequence of int or str, boolean mask or None, \
default=None
    The columns to embed: indices of X's columns, a mask of them, their
    names (X a DataFrame), or a regular expression that picks the columns
    whose names it matches (``re.search``), such as ``"^numeric__"`` for the
    numeric branch of a ``ColumnTransformer`` with pandas output. A pattern
    that matches no column embeds nothing (and ``embedding_`` is not set).
    None embeds every column. After one-hot encoding, the estimator cannot
    tell numeric columns from the rest: name the numeric ones.

embedding_size : int, default=16
    Bins of each column ('piecewise_linear': at most, the distinct quantiles
    of the first fit's data, fixed from then on) or frequencies
    ('periodic', each giving a cosine and a sine), at least 2.

embedding_scale : float, default=0.1
    'periodic': σ of the frequencies' initial draws, N(0, σ²), on the scale
    of the columns (standardise them first). Ignored by 'piecewise_linear'."""


MEMBERS_PARAMETER = """\
n_members : int, default=1
    Packed members k, trained together in one pass (TabM-mini, Gorishniy et
    al., 2025): each member reads the first layer's input scaled by its own
    vector r_m (``member_scales_``, drawn as random signs), shares the hidden
    layers with the others, and has its own output layer. Each member has
    its own loss and the training objective is their mean; predictions
    (and the scores of early stopping) are the mean of the members'
    outputs, probabilities for the classifier. With k > 1, ``coefs_[-1]``
    holds the k heads side by side, of shape (units of the last hidden
    layer, k * ``n_outputs_``), and ``intercepts_[-1]`` their
    k * ``n_outputs_`` biases. (Not in scikit-learn's MLP.)"""


def _range(name: str) -> str:
    """The allowed values of a regressor parameter, from its constraint."""
    return REGRESSOR_CONSTRAINTS[name][0].describe()


LOSS_SETTING_PARAMETERS = f"""\
huber_delta : float, default=1.0
    For ``loss='huber'``: the residual size at which the loss turns from
    quadratic to linear, {_range("huber_delta")}. Residuals beyond it
    weigh in linearly, so outliers pull the fit less than under the squared
    error. Ignored by the other losses. (Not in scikit-learn's MLP.)

quantile : float, sequence of float or None, default=None
    For ``loss='quantile'``: the quantile of the target to predict,
    {_range("quantile")}, and required by that loss, as in
    :class:`~sklearn.ensemble.HistGradientBoostingRegressor`. A sequence of Q
    quantiles (at least one, each {_range("quantile")}, strictly
    increasing; a list, tuple or 1-d array) fits them all in one network: it
    has Q outputs per target (output j·Q + k predicts quantile k of target
    j), each trained with its own pinball loss. ``predict`` then returns
    them sorted, so that they never cross, of shape (n_samples, Q) for a
    one-dimensional y and (n_samples, n_outputs, Q) for a two-dimensional
    one, a sequence of one quantile included; ``score``, which early
    stopping monitors by default, is the mean over the quantiles of their D²
    pinball scores instead of R². A float keeps the shapes and the score of
    the other losses. Ignored by the other losses. (Not in scikit-learn's
    MLP.)"""

NORMALIZE_Y_PARAMETER = """\
normalize_y : bool, default=False
    Whether the network learns the targets standardised: each target
    column minus its mean, divided by its standard deviation (both weighted
    by ``sample_weight``, taken at the first fit or partial_fit and kept
    after, ``y_mean_`` and ``y_scale_``; a constant column is divided by 1).
    ``predict`` maps the outputs back, so predictions and scores are in y's
    units, while ``loss_curve_`` and ``validation_loss_curve_`` are in the
    standardised ones, as is ``huber_delta``. Adam's steps have a size of
    about ``learning_rate_init`` whatever the targets' scale, so targets in
    the thousands need it. As in
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor`. Not with
    ``loss='poisson'``, whose targets are counts. (Not in scikit-learn's
    MLP.)"""

COMMON_ATTRIBUTES = """\
loss_ : float
    Loss at the end of training: the data loss averaged over samples plus
    the L2 penalty.

best_loss_ : float or None
    Lowest ``loss_curve_`` value ('sgd' and 'adam'); None under early
    stopping, where ``best_validation_score_`` takes its place.

loss_curve_ : list of float
    Loss after each epoch ('sgd' and 'adam').

validation_scores_ : list of float or None
    The score early stopping monitors (``scoring``; by default {score}) on
    the validation set after each epoch, under early stopping; None
    otherwise. For ``scoring='loss'``, the negative validation loss.

validation_loss_curve_ : list of float or None
    Loss on the validation set after each epoch, under early stopping
    ('sgd' and 'adam'): the same loss and L2 penalty as ``loss_curve_``,
    without dropout. None otherwise. (Not in scikit-learn's MLP.)

best_validation_score_ : float or None
    Best of ``validation_scores_``; None without early stopping.

t_ : int
    Number of training samples seen by the stochastic solver, summed over
    epochs; it drives the 'invscaling' schedule.

coefs_ : list of ndarray
    ``coefs_[i]`` is the weight matrix from layer i to layer i + 1, of shape
    (units of layer i, units of layer i + 1).

intercepts_ : list of ndarray
    ``intercepts_[i]`` is the bias vector of layer i + 1.

n_features_in_ : int
    Number of features seen during fit.

feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of the features seen during fit, when X had string column names.

n_iter_ : int
    Number of iterations run by the solver in the last fit.

n_layers_ : int
    Number of layers, input and output included.

n_outputs_ : int
    Number of output units.

out_activation_ : str
    Name of the output activation.

embedding_ : NumericalEmbedding
    The fitted numerical embedding (its columns, and the piecewise-linear
    bins fixed at the first fit); only with ``embedding`` set. (Not in
    scikit-learn's MLP.)

embedding_params_ : ndarray of shape (n_embedded_columns, embedding_size) \
or None
    The trained frequencies of ``embedding='periodic'``; None for
    'piecewise_linear', which trains nothing of its own; only with
    ``embedding_``. (Not in scikit-learn's MLP.)

member_scales_ : ndarray of shape (n_members, units of the first layer's \
input)
    Each packed member's scales r_m of the first layer's input; only with
    ``n_members > 1``. (Not in scikit-learn's MLP.)"""
