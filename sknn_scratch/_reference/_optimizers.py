"""Optimizers on the flat parameter vector: SGD, Adam and L-BFGS.

The stochastic optimizers update ``params`` in place from ``grad`` (both flat
vectors of the same layout, see ``_network``), with one scratch vector so that a
step allocates nothing. Their schedules follow scikit-learn's MLP:

SGD with momentum μ and learning rate η:

    v ← μ v - η g,
    p ← p + μ v - η g   (Nesterov)     or     p ← p + v   (classical).

η is constant, ``η₀ / (t + 1)^power_t`` after each epoch ("invscaling", t the
number of samples seen), or divided by 5 each time progress stalls ("adaptive").

Adam with β₁, β₂, ε and step count k:

    m ← β₁ m + (1 - β₁) g,      v ← β₂ v + (1 - β₂) g²,
    p ← p - η √(1 - β₂ᵏ) / (1 - β₁ᵏ) · m / (√v + ε).

**Schedules.** Beyond SGD's own ("invscaling", "adaptive"), a schedule of
``SCHEDULES`` may set each batch's rate for either optimizer: η = η₀ · m(p),
with p ∈ [0, 1] the progress of training at the middle of the batch, in
epochs over a horizon of ``max_iter`` epochs (held at 1 beyond it).

**Decoupled weight decay** λ (AdamW, and its SGD analogue) shrinks the
weights, not the biases, by η λ at each step, apart from the gradient:

    W ← W - η (update + λ W),

with η the step's scheduled rate (without Adam's bias correction), as
PyTorch does. It is skipped entirely when λ = 0.

L-BFGS is scipy's L-BFGS-B run directly on the network's parameter vector.

``SOLVERS`` is the one table of solvers: each entry says whether the solver is
stochastic (mini-batches: ``partial_fit``, dropout and early stopping apply),
how it is built from the estimator's parameters, and what the docstrings say
of it; ``SCHEDULES`` the one table of learning-rate schedules. Validation, the
docstrings and the fit loops read them.
"""

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import scipy.optimize


# -- learning-rate schedules --------------------------------------------------------
def _warmed_up(progress: float, warmup: float) -> float | None:
    """The rise of a linear warm-up over the first ``warmup`` of the horizon,
    or None once it is over."""
    return progress / warmup if progress < warmup else None


def _cosine(progress: float, warmup: float) -> float:
    # warm-up, then ½ (1 + cos πq) from 1 down to 0 over the rest
    rising = _warmed_up(progress, warmup)
    if rising is not None:
        return rising
    return 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / (1.0 - warmup)))


def _flat_cosine(progress: float, warmup: float) -> float:
    # warm-up, flat at 1 until half the horizon, then ½ (1 + cos πq) down to 0
    rising = _warmed_up(progress, warmup)
    if rising is not None:
        return rising
    flat_until = max(0.5, warmup)
    if progress < flat_until:
        return 1.0
    decayed = (progress - flat_until) / (1.0 - flat_until)
    return 0.5 * (1.0 + math.cos(math.pi * decayed))


class Schedule(NamedTuple):
    """A learning-rate schedule: one entry of ``SCHEDULES``.

    ``multiplier(p, w)`` is the factor m of η₀ at progress p ∈ [0, 1] with a
    warm-up over the first w of the horizon, updated every batch; None for
    SGD's own schedules, which set its rate between epochs. ``solvers`` are
    those that follow it (Adam ignores SGD's own, as in scikit-learn).
    """

    description: str
    formula: str
    multiplier: Callable[[float, float], float] | None
    solvers: tuple[str, ...]


SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule("the rate stays learning_rate_init", "η₀", None, ("sgd",)),
    "invscaling": Schedule(
        "sgd's rate falls after each epoch, as learning_rate_init / (t + 1) ** "
        "power_t with t the number of samples seen",
        "η₀ / (t + 1)^power_t",
        None,
        ("sgd",),
    ),
    "adaptive": Schedule(
        "sgd's rate is divided by 5 each time n_iter_no_change epochs pass "
        "without improvement by tol, and training stops once it falls below 1e-6",
        "η₀ / 5ⁿ",
        None,
        ("sgd",),
    ),
    "cosine": Schedule(
        "a linear warm-up over the first warmup_fraction of the horizon, then a "
        "cosine decay to 0 at its end",
        "η₀ · ½ (1 + cos πq), q the progress after the warm-up",
        _cosine,
        ("sgd", "adam"),
    ),
    "flat_cosine": Schedule(
        "a linear warm-up, the rate held at learning_rate_init until half the "
        "horizon, then a cosine decay to 0 at its end",
        "η₀ until p = ½, then η₀ · ½ (1 + cos πq)",
        _flat_cosine,
        ("sgd", "adam"),
    ),
}


class StochasticOptimizer:
    """Learning-rate bookkeeping shared by SGD and Adam.

    A step is ``apply(params, grad, scalar, decay, n_weights)``: ``scalar`` is
    the one number that changes from step to step (Adam's step size, SGD's
    rate), ``decay`` the weight decay's η λ. ``epoch_scalars`` computes both
    for each step of an epoch, for both engines: the compiled one
    (``_compiled/_optimizers.pyx.tp``) reads them, with the state vectors and
    constants of ``kernel_arguments()``.

    Parameters
    ----------
    n_params : int
    learning_rate_init : float
        η₀.
    schedule : str
        A key of ``SCHEDULES``.
    warmup : float
        The share of the horizon a schedule's warm-up takes, in [0, 1).
    horizon : int
        The epochs the schedule spans (``max_iter``).
    weight_decay : float
        λ of the decoupled weight decay (0: none).
    """

    name = ""  # its key in SOLVERS (and in the compiled engine's codes)

    def __init__(
        self,
        n_params: int,
        learning_rate_init: float,
        schedule: str = "constant",
        warmup: float = 0.0,
        horizon: int = 1,
        weight_decay: float = 0.0,
    ) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.n_params = n_params
        self.schedule = schedule
        self.warmup = float(warmup)
        self.horizon = int(horizon)
        self.weight_decay = float(weight_decay)
        self.epochs_done = 0
        self._scratch = None

    def _scratch_like(self, params: np.ndarray) -> np.ndarray:
        # Made on the first step, like the parameters. No dtype is kept on the
        # optimizer: a numpy.dtype attribute is a type skops.io does not trust,
        # and every saved estimator would have to be loaded trusting it.
        if self._scratch is None:
            self._scratch = np.empty_like(params)
        return self._scratch

    def __getstate__(self) -> dict:
        # The scratch vector holds nothing between steps: don't pickle it.
        state = self.__dict__.copy()
        state["_scratch"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        # optimizers saved by 0.1.0 had no schedule, warm-up or decay
        defaults = {"warmup": 0.0, "horizon": 1, "weight_decay": 0.0, "epochs_done": 0}
        self.__dict__.update({**defaults, **state})
        self.__dict__.setdefault("schedule", "constant")

    def state_vectors(self) -> tuple[np.ndarray, ...]:
        """The vectors the optimizer keeps between steps, one entry per
        parameter."""
        return ()

    def check_state(self, params: np.ndarray) -> None:
        """Raise ValueError unless every state vector fits ``params``: a
        writeable C-ordered vector of its length and dtype. (A state loaded
        from a file, or set by hand, is checked before any step reads it.)"""
        for index, state in enumerate(self.state_vectors()):
            if not (
                isinstance(state, np.ndarray)
                and state.shape == params.shape
                and state.dtype == params.dtype
                and state.flags.c_contiguous
                and state.flags.writeable
            ):
                raise ValueError(
                    f"{type(self).__name__}'s state vector {index} does not fit the "
                    f"{params.shape[0]} {params.dtype} parameters it updates: got "
                    f"{getattr(state, 'shape', None)} of "
                    f"{getattr(state, 'dtype', type(state).__name__)}."
                )

    def kernel_arguments(self) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
        """The state vectors and the constants the compiled update reads."""
        raise NotImplementedError

    @property
    def has_horizon(self) -> bool:
        """Whether a schedule of ``SCHEDULES`` sets this optimizer's rate over
        its horizon (and so ends it there by design)."""
        schedule = SCHEDULES[self.schedule]
        return schedule.multiplier is not None and self.name in schedule.solvers

    def _own_rate(self) -> float:
        """The rate of a step where no schedule of ``SCHEDULES`` sets it."""
        return self.learning_rate_init

    def _rate(self, batch: int, n_batches: int) -> float:
        """η of batch ``batch`` of this epoch's ``n_batches``: η₀ · m(p), p the
        progress at the batch's middle, in epochs over the horizon (1 at
        most), where the schedule has a multiplier for this optimizer."""
        if not self.has_horizon:
            return self._own_rate()
        schedule = SCHEDULES[self.schedule]
        progress = (self.epochs_done + (batch + 0.5) / n_batches) / self.horizon
        return self.learning_rate_init * schedule.multiplier(
            min(progress, 1.0), self.warmup
        )

    def _scalar(self, step: int, rate: float) -> float:
        """The scalar of the ``step``-th next step, taken at rate η."""
        raise NotImplementedError

    def epoch_scalars(
        self, n_batches: int, stepping: np.ndarray | None = None
    ) -> tuple[list[float], list[float]]:
        """The scalar and the decay η λ of each step of an epoch of
        ``n_batches`` batches, in order: one per batch, or one per batch
        where ``stepping`` is true (a batch of zero-weight rows takes no
        step). Nothing is taken: ``steps_taken`` counts the steps."""
        batches = range(n_batches) if stepping is None else np.flatnonzero(stepping)
        rates = [self._rate(int(batch), n_batches) for batch in batches]
        scalars = [self._scalar(k, rate) for k, rate in enumerate(rates, start=1)]
        decays = [rate * self.weight_decay for rate in rates]
        return scalars, decays

    def apply(
        self,
        params: np.ndarray,
        grad: np.ndarray,
        scalar: float,
        decay: float = 0.0,
        n_weights: int = 0,
    ) -> None:
        """One update of ``params`` in place: the decay of the first
        ``n_weights`` entries (the weights), W ← W (1 - η λ), then the
        optimizer's own update from ``grad``."""
        if decay:
            params[:n_weights] *= 1.0 - decay
        self._update(params, grad, scalar)

    def _update(self, params: np.ndarray, grad: np.ndarray, scalar: float) -> None:
        raise NotImplementedError

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """One step on its own: the next step's scalar, the update, counted.
        (No decay: the optimizer does not know which entries are weights.)"""
        scalars, _ = self.epoch_scalars(1)
        self.apply(params, grad, scalars[0])
        self.steps_taken(1)

    def iteration_ends(self, time_step: int) -> None:
        """Called after every epoch with the number of samples seen."""
        self.epochs_done += 1

    def steps_taken(self, steps: int) -> None:
        """``steps`` more steps were taken on this optimizer's state."""

    def trigger_stopping(self, message: str, verbose: bool) -> bool:
        """Progress stalled: return True to stop training."""
        if verbose:
            print(message + " Stopping.")
        return True


class SGD(StochasticOptimizer):
    """Stochastic gradient descent with momentum and learning-rate schedules.

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float
    schedule : {"constant", "invscaling", "adaptive"}
    momentum : float
    nesterov : bool
    power_t : float
    """

    name = "sgd"

    def __init__(
        self,
        n_params: int,
        dtype,
        learning_rate_init: float = 0.1,
        schedule: str = "constant",
        momentum: float = 0.9,
        nesterov: bool = True,
        power_t: float = 0.5,
        warmup: float = 0.0,
        horizon: int = 1,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            n_params, learning_rate_init, schedule, warmup, horizon, weight_decay
        )
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.velocity = np.zeros(n_params, dtype=dtype)

    def state_vectors(self) -> tuple[np.ndarray, ...]:
        return (self.velocity,)

    def kernel_arguments(self) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
        """The velocity; the momentum, and 1.0 for Nesterov's (0.0 without)."""
        return (self.velocity,), (self.momentum, float(self.nesterov))

    def _own_rate(self) -> float:
        """SGD's own rate: constant, or set between epochs ("invscaling",
        "adaptive")."""
        return self.learning_rate

    def _scalar(self, step: int, rate: float) -> float:
        """SGD's scalar is the rate η itself."""
        return rate

    def _update(self, params: np.ndarray, grad: np.ndarray, scalar: float) -> None:
        step, v = self._scratch_like(params), self.velocity
        np.multiply(grad, scalar, out=step)  # η g
        v *= self.momentum
        v -= step  # v = μ v - η g
        if self.nesterov:
            params -= step
            np.multiply(v, self.momentum, out=step)
            params += step  # p += μ v - η g
        else:
            params += v

    def iteration_ends(self, time_step: int) -> None:
        super().iteration_ends(time_step)
        if self.schedule == "invscaling":
            self.learning_rate = (
                self.learning_rate_init / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, message: str, verbose: bool) -> bool:
        if self.schedule != "adaptive":
            return super().trigger_stopping(message, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + f" Setting learning rate to {self.learning_rate:f}")
        return False


class Adam(StochasticOptimizer):
    """Adam (Kingma & Ba, 2014) on a flat parameter vector.

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates.
    epsilon : float
        Added to √v to keep the step finite.
    """

    name = "adam"

    def __init__(
        self,
        n_params: int,
        dtype,
        learning_rate_init: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        schedule: str = "constant",
        warmup: float = 0.0,
        horizon: int = 1,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            n_params, learning_rate_init, schedule, warmup, horizon, weight_decay
        )
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)

    def _corrected(self, rate: float, t: int) -> float:
        """η √(1 - β₂ᵗ) / (1 - β₁ᵗ), scikit-learn's ``learning_rate`` of step t
        at rate η. Python floats, not NumPy float64 scalars: those would
        promote a float32 step to float64 and take NumPy's slow casting path."""
        return rate * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)

    def _scalar(self, step: int, rate: float) -> float:
        """c = η_t (1 - β₁) / √(1 - β₂), η_t the corrected rate of step t + step,
        the factor on the scaled moments (see ``_update``): the one formula of
        Adam's step size."""
        corrected = self._corrected(rate, self.t + step)
        return corrected * (1.0 - self.beta_1) / math.sqrt(1.0 - self.beta_2)

    def _scaled_epsilon(self) -> float:
        """ε' = ε / √(1 - β₂), ε on the scale of the scaled second moment."""
        return self.epsilon / math.sqrt(1.0 - self.beta_2)

    def state_vectors(self) -> tuple[np.ndarray, ...]:
        return (self.m, self.v)

    def kernel_arguments(self) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
        """The scaled moments m̃, ṽ; β₁, β₂ and ε'."""
        return (self.m, self.v), (self.beta_1, self.beta_2, self._scaled_epsilon())

    def steps_taken(self, steps: int) -> None:
        """Count ``steps`` more steps and set the learning rate of the last
        (at η₀: scikit-learn's attribute)."""
        self.t += steps
        self.learning_rate = self._corrected(self.learning_rate_init, self.t)

    def _update(self, params: np.ndarray, grad: np.ndarray, scalar: float) -> None:
        """One update of ``params`` in place, c = ``scalar``.

        The moments are kept scaled, m̃ = m / (1 - β₁) and ṽ = v / (1 - β₂), so
        that their updates need no multiplication of g:

            m̃ ← β₁ m̃ + g,    ṽ ← β₂ ṽ + g²,
            p ← p - c m̃ / (√ṽ + ε'),

        with c = η_k (1 - β₁) / √(1 - β₂) and ε' = ε / √(1 - β₂), which is the
        update of the module docstring term for term. (``self.m`` and
        ``self.v`` hold these scaled moments.)
        """
        step_size, epsilon = scalar, self._scaled_epsilon()
        beta_1, beta_2 = self.beta_1, self.beta_2
        m, v, s = self.m, self.v, self._scratch_like(params)
        m *= beta_1
        m += grad
        np.multiply(grad, grad, out=s)
        v *= beta_2
        v += s
        np.sqrt(v, out=s)
        s += epsilon
        np.divide(m, s, out=s)
        s *= step_size
        params -= s


def minimize_lbfgs(
    network,
    X,
    T: np.ndarray,
    sample_weight: np.ndarray | None,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    callback=None,
) -> scipy.optimize.OptimizeResult:
    """Minimise the full-batch loss with scipy's L-BFGS-B on ``network.params``.

    Parameters
    ----------
    network : Network
        Its parameters are the starting point and receive the solution.
    X, T, sample_weight, alpha
        Data, encoded targets, weights and L2 penalty (see
        ``Network.loss_and_gradient``).
    max_iter, max_fun : int
        Limits on iterations and on loss evaluations.
    tol : float
        Stop when the largest projected gradient component is below ``tol``.
    callback : callable, default=None
        Called with scipy's intermediate result after each iteration.

    Returns
    -------
    scipy.optimize.OptimizeResult
    """

    def loss_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        np.copyto(network.params, x, casting="same_kind")
        loss = network.loss_and_gradient(X, T, sample_weight, alpha)
        # scipy keeps the gradient it is given: hand it a copy, in float64.
        return loss, network.grad.astype(np.float64)

    result = scipy.optimize.minimize(
        loss_and_gradient,
        network.params.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    np.copyto(network.params, result.x, casting="same_kind")
    return result


class Solver(NamedTuple):
    """A solver: one entry of ``SOLVERS``.

    ``make(params, n_params, dtype)`` builds a stochastic solver's optimizer
    from the estimator's parameters (``get_params()``); None for L-BFGS, which
    ``minimize_lbfgs`` drives on the whole data. ``compiled`` says whether the
    compiled engine has the stochastic solver's update
    (``_compiled/_optimizers.pyx.tp``); without it, its epochs run on the
    reference's loop, the network's forward and backward passes still
    compiled. (L-BFGS's objective is the network's, compiled where the
    network is.)
    """

    description: str
    stochastic: bool
    make: Callable[[Mapping[str, object], int, np.dtype], object] | None
    compiled: bool


def _schedule_of(params: Mapping[str, object]) -> dict[str, object]:
    """The schedule, warm-up, horizon and decay of the estimator's parameters
    (those of 0.1.0, which had no warm-up or decay, mean none)."""
    return {
        "schedule": params["learning_rate"],
        "warmup": params.get("warmup_fraction", 0.0),
        "horizon": params["max_iter"],
        "weight_decay": params.get("weight_decay", 0.0),
    }


def _make_sgd(params: Mapping[str, object], n_params: int, dtype) -> SGD:
    return SGD(
        n_params,
        dtype,
        params["learning_rate_init"],
        momentum=params["momentum"],
        nesterov=params["nesterovs_momentum"],
        power_t=params["power_t"],
        **_schedule_of(params),
    )


def _make_adam(params: Mapping[str, object], n_params: int, dtype) -> Adam:
    return Adam(
        n_params,
        dtype,
        params["learning_rate_init"],
        params["beta_1"],
        params["beta_2"],
        params["epsilon"],
        **_schedule_of(params),
    )


SOLVERS: dict[str, Solver] = {
    "lbfgs": Solver(
        "the quasi-Newton method of ``scipy.optimize`` on the full data, often "
        "best for small data sets",
        False,
        None,
        True,
    ),
    "sgd": Solver("mini-batch gradient descent with momentum", True, _make_sgd, True),
    "adam": Solver(
        "the Adam method of Kingma and Ba, a robust default for larger data sets",
        True,
        _make_adam,
        True,
    ),
}

STOCHASTIC_SOLVERS = tuple(name for name, s in SOLVERS.items() if s.stochastic)
