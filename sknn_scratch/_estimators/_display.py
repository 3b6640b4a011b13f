"""LossCurveDisplay: the training (and validation) curves of a fitted network.

In the style of scikit-learn's displays: the constructor takes the data to
draw, ``plot`` draws it, ``from_estimator`` builds and draws from a fitted
estimator, and the matplotlib objects are kept as attributes ending in ``_``.
matplotlib is imported only when drawing.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "LossCurveDisplay draws with matplotlib, which is not installed: "
            'pip install matplotlib (or pip install "sknn-scratch[examples]").'
        ) from error
    return plt


class LossCurveDisplay:
    """Loss per iteration of a network, with the validation curves if recorded.

    Build it with :meth:`from_estimator`; the constructor is for curves you
    already have.

    Parameters
    ----------
    loss_curve : sequence of float
        Training loss after each iteration (``loss_curve_``).
    validation_loss_curve : sequence of float, default=None
        Validation loss after each iteration (``validation_loss_curve_``).
    validation_scores : sequence of float, default=None
        Validation score after each iteration (``validation_scores_``), drawn
        on a second y-axis.
    estimator_name : str, default=None
        Title of the plot.
    score_name : str, default="validation score"
        Label of the score axis.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss.
    validation_line_ : matplotlib Line2D or None
        The validation loss, if recorded.
    score_line_ : matplotlib Line2D or None
        The validation score, if recorded.
    ax_ : matplotlib Axes
        The axes of the losses.
    score_ax_ : matplotlib Axes or None
        The twin axes of the validation score, if recorded.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknn_scratch import LossCurveDisplay, ScratchMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ScratchMLPClassifier(early_stopping=True, random_state=0).fit(X, y)
    >>> display = LossCurveDisplay.from_estimator(clf)
    >>> [line.get_label() for line in display.ax_.get_lines()]
    ['training loss', 'validation loss']
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        estimator_name: str | None = None,
        score_name: str = "validation score",
    ) -> None:
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name
        self.score_name = score_name

    def plot(self, ax=None, *, name: str | None = None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made if None.
        name : str, default=None
            Title; ``estimator_name`` if None.
        **kwargs : dict
            Passed to ``Axes.plot`` for the training loss.

        Returns
        -------
        display : LossCurveDisplay
            This object, with the artists stored on it.
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        iterations = np.arange(1, len(self.loss_curve) + 1)
        (self.line_,) = ax.plot(
            iterations, self.loss_curve, **{"label": "training loss", **kwargs}
        )
        self.validation_line_ = None
        if self.validation_loss_curve is not None:
            (self.validation_line_,) = ax.plot(
                iterations[: len(self.validation_loss_curve)],
                self.validation_loss_curve,
                label="validation loss",
            )
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        lines = [self.line_]
        if self.validation_line_ is not None:
            lines.append(self.validation_line_)
        self.score_ax_ = self.score_line_ = None
        if self.validation_scores is not None:
            self.score_ax_ = ax.twinx()
            (self.score_line_,) = self.score_ax_.plot(
                iterations[: len(self.validation_scores)],
                self.validation_scores,
                linestyle="--",
                color="tab:green",
                label=self.score_name,
            )
            self.score_ax_.set_ylabel(self.score_name)
            lines.append(self.score_line_)
        ax.legend(lines, [line.get_label() for line in lines], loc="best")
        title = name if name is not None else self.estimator_name
        if title is not None:
            ax.set_title(title)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name: str | None = None, **kwargs):
        """Draw the curves recorded by a fitted 'sgd' or 'adam' network.

        Parameters
        ----------
        estimator : estimator, Pipeline or search
            A fitted estimator that records ``loss_curve_``: a
            ScratchMLPClassifier or ScratchMLPRegressor, or scikit-learn's
            MLPClassifier or MLPRegressor, trained by solver 'sgd' or 'adam';
            or a fitted Pipeline whose last step is one, or a fitted search
            (such as GridSearchCV) whose ``best_estimator_`` is one.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made if None.
        name : str, default=None
            Title; the estimator's class name if None.
        **kwargs : dict
            Passed to ``Axes.plot`` for the training loss.

        Returns
        -------
        display : LossCurveDisplay
        """
        network = _estimator_inside(estimator)
        check_is_fitted(network)
        if getattr(network, "loss_curve_", None) is None:
            raise ValueError(_no_loss_curve(estimator, network))
        is_classifier = hasattr(network, "classes_")
        display = cls(
            loss_curve=network.loss_curve_,
            validation_loss_curve=getattr(network, "validation_loss_curve_", None),
            validation_scores=getattr(network, "validation_scores_", None),
            estimator_name=type(network).__name__,
            score_name="validation accuracy" if is_classifier else "validation R²",
        )
        return display.plot(ax=ax, name=name, **kwargs)


def _estimator_inside(estimator):
    """The estimator inside what users hold: a Pipeline's last step, a fitted
    search's ``best_estimator_`` (in any nesting of the two), or itself."""
    while True:
        if isinstance(estimator, Pipeline):
            estimator = estimator[-1]
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        else:
            return estimator


def _no_loss_curve(held, estimator) -> str:
    """Why ``estimator`` (found inside ``held``) has nothing to draw."""
    found = type(estimator).__name__
    if estimator is not held:
        found += f", inside the {type(held).__name__},"
    if hasattr(estimator, "cv_results_"):
        found += " is a search fitted with refit=False (no best_estimator_) and"
    elif hasattr(estimator, "n_layers_"):  # a network: its solver records none
        found += f" was trained with solver={estimator.solver!r} and"
    return (
        "LossCurveDisplay needs loss_curve_, which a network trained by solver "
        "'sgd' or 'adam' records (ours, or scikit-learn's MLPClassifier and "
        "MLPRegressor), alone, as a Pipeline's last step or as a fitted "
        f"search's best_estimator_; {found} has none."
    )
