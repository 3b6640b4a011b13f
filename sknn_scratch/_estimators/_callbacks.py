"""scikit-learn's callbacks (``sklearn.callback``) during fit.

Where scikit-learn has the module (1.9 and later), the estimators take its
``CallbackSupportMixin``: ``set_callbacks(ProgressBar(), ...)`` registers
callbacks, and each call to ``fit`` is a task whose subtasks are the epochs of
'sgd' and 'adam' or the iterations of 'lbfgs' (``FitReport``). Where it is
missing (scikit-learn 1.6 to 1.8), ``set_callbacks`` raises an ImportError
that says what is needed, and fit tells nobody anything (``SILENT``).

``partial_fit`` reports nothing: it is one epoch of a loop the user drives.
"""

from collections.abc import Callable

import numpy as np
import sklearn

from .._reference._network import layer_views

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn before 1.9
    CALLBACKS_AVAILABLE = False

    class CallbackSupportMixin:
        """``set_callbacks`` where scikit-learn has no callbacks: it says so."""

        def set_callbacks(self, *callbacks):
            """Set callbacks for the estimator (needs scikit-learn 1.9 or later).

            Parameters
            ----------
            *callbacks : callback instances
                The callbacks to set.

            Returns
            -------
            self : estimator instance
                Never: this scikit-learn has no ``sklearn.callback``, so it
                raises ImportError.
            """
            raise ImportError(
                "set_callbacks needs scikit-learn's callbacks (sklearn.callback), "
                "which scikit-learn 1.9 and later provide; this is scikit-learn "
                f"{sklearn.__version__}. Upgrade it (pip install "
                "'scikit-learn>=1.9') to use callbacks such as "
                "sklearn.callback.ProgressBar."
            )

    def with_callbacks(method):
        """Nothing to set up or tear down without ``sklearn.callback``."""
        return method

else:
    CALLBACKS_AVAILABLE = True


class FitReport:
    """What the callbacks of an estimator hear about one call to fit.

    The call is the root task; each epoch or iteration of the solver is a
    subtask, begun before it runs and ended after it with the weights it
    reached, and a callback's wish to stop is what ``end_step`` returns. A
    subtask that never ran to its end (training ended inside it, or the
    solver stopped before it) is ended without data by ``abandon_step``, so
    that every begin has its end.

    The hooks get ``X`` and ``y`` as the user gave them to fit (labels, not
    the encoded targets), ``sample_weight`` as metadata, and, when a callback
    asks for a ``fitted_estimator``, a copy of the estimator whose ``coefs_``
    and ``intercepts_`` are copies of the weights at that point: the solver
    goes on changing its own vector in place.
    """

    def __init__(
        self, estimator, X, y, sample_weight, *, max_subtasks: int, network
    ) -> None:
        self._estimator = estimator
        self._data = {
            "X": X,
            "y": y,
            "metadata": None
            if sample_weight is None
            else {"sample_weight": sample_weight},
        }
        self._layer_sizes, self._dtype = network.layer_sizes, network.dtype
        self._root = estimator._init_callback_context(max_subtasks=max_subtasks)
        self._step = None

    def begin(self) -> None:
        """The call to fit begins (its data are validated)."""
        self._root.call_on_fit_task_begin(estimator=self._estimator, **self._data)

    def begin_step(self, task_name: str, params: np.ndarray) -> None:
        """An epoch or iteration begins from the weights ``params``."""
        self._step = self._root.subcontext(task_name=task_name)
        self._step.call_on_fit_task_begin(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=self._weights(params),
        )

    def end_step(self, params: np.ndarray) -> bool:
        """The step ends at the weights ``params``; whether to stop training."""
        step, self._step = self._step, None
        return step.call_on_fit_task_end(
            estimator=self._estimator,
            **self._data,
            reconstruction_attributes=self._weights(params),
        )

    def abandon_step(self) -> None:
        """End the step begun last, if it has not ended, as an empty task."""
        step, self._step = self._step, None
        if step is not None:
            step.call_on_fit_task_end(estimator=self._estimator)

    def end(self) -> None:
        """The call to fit ends; the estimator holds its fitted state."""
        self.abandon_step()
        self._root.call_on_fit_task_end(
            estimator=self._estimator, **self._data, reconstruction_attributes={}
        )

    def _weights(self, params: np.ndarray) -> Callable[[], dict]:
        """The fitted attributes of weights ``params``, made only if a callback
        asks for a fitted estimator (the hooks call what they are given)."""

        def attributes() -> dict:
            copy = np.array(params, dtype=self._dtype)
            coefs, intercepts = layer_views(copy, self._layer_sizes)
            return {"coefs_": coefs, "intercepts_": intercepts}

        return attributes


class _Silent:
    """A FitReport that tells nobody anything (partial_fit; no sklearn.callback)."""

    def begin(self) -> None:
        pass

    def begin_step(self, task_name: str, params: np.ndarray) -> None:
        pass

    def end_step(self, params: np.ndarray) -> bool:
        return False

    def abandon_step(self) -> None:
        pass

    def end(self) -> None:
        pass


SILENT = _Silent()


def fit_report(estimator, X, y, sample_weight, network) -> FitReport | _Silent:
    """The report of one call to fit: one subtask per epoch ('sgd', 'adam') or
    per iteration ('lbfgs'), at most ``max_iter`` of them."""
    if not CALLBACKS_AVAILABLE:
        return SILENT
    return FitReport(
        estimator, X, y, sample_weight, max_subtasks=estimator.max_iter, network=network
    )
