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
    p ← p - η₀ √(1 - β₂ᵏ) / (1 - β₁ᵏ) · m / (√v + ε).

L-BFGS is scipy's L-BFGS-B run directly on the network's parameter vector.

``SOLVERS`` is the one table of solvers: each entry says whether the solver is
stochastic (mini-batches: ``partial_fit``, dropout and early stopping apply),
how it is built from the estimator's parameters, and what the docstrings say
of it. Validation, the docstrings and the fit loops read it.
"""

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import scipy.optimize


class StochasticOptimizer:
    """Learning-rate bookkeeping shared by SGD and Adam.

    Besides ``step`` (the reference's update), each optimizer tells the
    compiled engine (``_compiled/_optimizers.pyx.tp``) what its compiled
    update reads: ``kernel_arguments()`` (its state vectors and constants)
    and ``step_scalars(k)`` (the one number that changes from step to step,
    for the next k steps), computed here for both engines.
    """

    name = ""  # its key in SOLVERS (and in the compiled engine's codes)

    def __init__(self, n_params: int, learning_rate_init: float) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.n_params = n_params
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

    def step_scalars(self, steps: int) -> list[float]:
        """The scalar of each of the next ``steps`` steps (not taken)."""
        raise NotImplementedError

    def iteration_ends(self, time_step: int) -> None:
        """Called after every epoch with the number of samples seen."""

    def steps_taken(self, steps: int) -> None:
        """The compiled engine made ``steps`` steps on this optimizer's state."""

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
    ) -> None:
        super().__init__(n_params, learning_rate_init)
        self.schedule = schedule
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.velocity = np.zeros(n_params, dtype=dtype)

    def state_vectors(self) -> tuple[np.ndarray, ...]:
        return (self.velocity,)

    def kernel_arguments(self) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
        """The velocity; the momentum, and 1.0 for Nesterov's (0.0 without)."""
        return (self.velocity,), (self.momentum, float(self.nesterov))

    def step_scalars(self, steps: int) -> list[float]:
        """The learning rate η of each step (it changes between epochs only)."""
        return [self.learning_rate] * steps

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """One update of ``params`` in place."""
        step, v = self._scratch_like(params), self.velocity
        np.multiply(grad, self.learning_rate, out=step)  # η g
        v *= self.momentum
        v -= step  # v = μ v - η g
        if self.nesterov:
            params -= step
            np.multiply(v, self.momentum, out=step)
            params += step  # p += μ v - η g
        else:
            params += v

    def iteration_ends(self, time_step: int) -> None:
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
    ) -> None:
        super().__init__(n_params, learning_rate_init)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)

    def _rate(self, t: int) -> float:
        """η_t = η₀ √(1 - β₂ᵗ) / (1 - β₁ᵗ), scikit-learn's ``learning_rate``
        of step t. Python floats, not NumPy float64 scalars: those would
        promote a float32 step to float64 and take NumPy's slow casting path."""
        return (
            self.learning_rate_init
            * math.sqrt(1.0 - self.beta_2**t)
            / (1.0 - self.beta_1**t)
        )

    def _step_size(self, t: int) -> float:
        """c = η_t (1 - β₁) / √(1 - β₂), the factor of step t on the scaled
        moments (see ``step``): the one formula of Adam's step size."""
        return self._rate(t) * (1.0 - self.beta_1) / math.sqrt(1.0 - self.beta_2)

    def _scaled_epsilon(self) -> float:
        """ε' = ε / √(1 - β₂), ε on the scale of the scaled second moment."""
        return self.epsilon / math.sqrt(1.0 - self.beta_2)

    def state_vectors(self) -> tuple[np.ndarray, ...]:
        return (self.m, self.v)

    def kernel_arguments(self) -> tuple[tuple[np.ndarray, ...], tuple[float, ...]]:
        """The scaled moments m̃, ṽ; β₁, β₂ and ε'."""
        return (self.m, self.v), (self.beta_1, self.beta_2, self._scaled_epsilon())

    def step_scalars(self, steps: int) -> list[float]:
        """The step size c of steps t + 1, ..., t + ``steps``."""
        return [self._step_size(self.t + k) for k in range(1, steps + 1)]

    def steps_taken(self, steps: int) -> None:
        """Count ``steps`` more steps and set the learning rate of the last."""
        self.t += steps
        self.learning_rate = self._rate(self.t)

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """One update of ``params`` in place.

        The moments are kept scaled, m̃ = m / (1 - β₁) and ṽ = v / (1 - β₂), so
        that their updates need no multiplication of g:

            m̃ ← β₁ m̃ + g,    ṽ ← β₂ ṽ + g²,
            p ← p - c m̃ / (√ṽ + ε'),

        with c = η_k (1 - β₁) / √(1 - β₂) and ε' = ε / √(1 - β₂), which is the
        update of the module docstring term for term. (``self.m`` and
        ``self.v`` hold these scaled moments.)
        """
        self.steps_taken(1)
        step_size, epsilon = self._step_size(self.t), self._scaled_epsilon()
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


def _make_sgd(params: Mapping[str, object], n_params: int, dtype) -> SGD:
    return SGD(
        n_params,
        dtype,
        params["learning_rate_init"],
        params["learning_rate"],
        params["momentum"],
        params["nesterovs_momentum"],
        params["power_t"],
    )


def _make_adam(params: Mapping[str, object], n_params: int, dtype) -> Adam:
    return Adam(
        n_params,
        dtype,
        params["learning_rate_init"],
        params["beta_1"],
        params["beta_2"],
        params["epsilon"],
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
