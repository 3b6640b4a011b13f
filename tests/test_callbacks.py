"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn 1.9 and later).

Each call to fit is a task with one subtask per epoch ('sgd', 'adam') or per
iteration ('lbfgs'); the hooks get the user's X and y and fitted estimators
made of copies of the weights; a callback that asks to stop ends the fit
cleanly; failures and Ctrl-C behave as without callbacks; the callbacks work
inside a Pipeline and a GridSearchCV; and where scikit-learn has no
``sklearn.callback`` nothing breaks and ``set_callbacks`` says what it needs.
Tested against scikit-learn's own ProgressBar and ScoringMonitor, and against
callbacks of our own where those cannot show a promise (asking to stop,
failing, recording the hooks' arguments).
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

try:
    from sklearn.callback import ProgressBar, ScoringMonitor
except ImportError:  # scikit-learn before 1.9
    ProgressBar = ScoringMonitor = None

requires_callbacks = pytest.mark.skipif(
    ProgressBar is None, reason="scikit-learn before 1.9 has no sklearn.callback"
)

SOLVERS = ["sgd", "adam", "lbfgs"]
STEP = {"sgd": "epoch", "adam": "epoch", "lbfgs": "iteration"}


class Recorder:
    """Records every hook call: which hook, the task, and the arguments."""

    def __init__(self):
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context, {}))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context, {}))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None):
        self.calls.append(("begin", context, {"X": X, "y": y, "metadata": metadata}))

    def on_fit_task_end(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        arguments = {"X": X, "y": y, "metadata": metadata, "fitted": fitted_estimator}
        self.calls.append(("end", context, arguments))

    def hooks(self, name, task_name=None):
        return [
            (context, arguments)
            for hook, context, arguments in self.calls
            if hook == name and task_name in (None, context.task_name)
        ]


class PropagatedRecorder(Recorder):
    """A Recorder that meta-estimators hand on to their sub-estimators."""

    max_propagation_depth = None


class StopAfter(Recorder):
    """Asks to stop at the end of the n-th epoch or iteration."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def on_fit_task_end(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        super().on_fit_task_end(
            estimator,
            context,
            X=X,
            y=y,
            metadata=metadata,
            fitted_estimator=fitted_estimator,
        )
        return context.parent is not None and context.task_id == self.n - 1


class RaiseAt(Recorder):
    """Raises an exception at the end of the n-th epoch or iteration."""

    def __init__(self, n, exception):
        super().__init__()
        self.n, self.exception = n, exception

    def on_fit_task_end(self, estimator, context):
        super().on_fit_task_end(estimator, context)
        if context.parent is not None and context.task_id == self.n - 1:
            raise self.exception


def weights(estimator) -> list[np.ndarray]:
    return [*estimator.coefs_, *estimator.intercepts_]


def assert_same_weights(a, b):
    for p, q in zip(weights(a), weights(b), strict=True):
        assert_array_equal(p, q)


def classifier(solver, **params):
    settings = dict(hidden_layer_sizes=(8,), random_state=0, solver=solver)
    if solver != "lbfgs":  # a step that learns visibly in a few epochs
        settings["learning_rate_init"] = 0.05
    return ScratchMLPClassifier(**{**settings, **params})


@requires_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_progress_bar_and_scoring_monitor_follow_every_step(iris, solver):
    X, y = iris
    monitor = ScoringMonitor(scoring="accuracy")
    recorder = Recorder()
    clf = classifier(solver, max_iter=6)
    clf.set_callbacks(ProgressBar(), monitor, recorder)
    with pytest.warns(ConvergenceWarning):  # 6 steps are too few to converge
        clf.fit(X, y)

    (root, _), *_ = recorder.hooks("begin")
    assert root.parent is None and root.max_subtasks == clf.max_iter
    rows = monitor.get_logs().data
    steps = [row for row in rows if row["task_name"] == STEP[solver]]
    assert [row["task_id"] for row in steps] == list(range(clf.n_iter_))
    assert clf.n_iter_ == 6
    # the score of the last step, and of the fit, is that of the fitted model
    expected = accuracy_score(y, clf.predict(X))
    (fit_row,) = [row for row in rows if row["task_name"] == "fit"]
    assert fit_row["accuracy"] == steps[-1]["accuracy"] == expected
    # each step is scored on its own weights: they learn from the first
    assert steps[0]["accuracy"] < expected


@requires_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_hooks_get_the_users_data_and_copies_of_the_weights(iris, solver):
    X, labels = iris
    y = np.array(["setosa", "versicolor", "virginica"])[labels]
    sample_weight = np.linspace(0.5, 2.0, len(y))
    recorder = Recorder()
    clf = classifier(solver, max_iter=5).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=sample_weight)

    for hook in ("begin", "end"):
        for _, arguments in recorder.hooks(hook):
            assert arguments["X"] is X and arguments["y"] is y
            assert arguments["metadata"]["sample_weight"] is sample_weight
    ends = recorder.hooks("end", STEP[solver])
    assert len(ends) == clf.n_iter_ == 5
    fitted = [arguments["fitted"] for _, arguments in ends]
    for step in fitted:
        assert set(step.predict(X)) <= set(y)  # labels, not their encoding
        for array in weights(step):
            assert not np.shares_memory(array, clf._params)
    # copies taken when each step ended: the first differs from the last,
    # which holds the fitted weights (no early stopping)
    assert not np.array_equal(weights(fitted[0])[0], weights(fitted[-1])[0])
    assert_same_weights(fitted[-1], clf)


@requires_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_begun_step_ends_when_training_converges(iris, solver):
    X, y = iris
    # converges long before max_iter: lbfgs on its tolerance, adam and sgd
    # after n_iter_no_change epochs without progress
    clf = classifier(solver, max_iter=500, tol=1e-2, n_iter_no_change=2)
    recorder = Recorder()
    clf.set_callbacks(recorder).fit(X, y)

    assert clf.n_iter_ < clf.max_iter
    begun = [context for context, _ in recorder.hooks("begin")]
    ended = [context for context, _ in recorder.hooks("end")]
    assert sorted(map(id, begun)) == sorted(map(id, ended))
    assert len(begun) == len(set(map(id, begun)))
    # steps that ran end with data; lbfgs's last begun iteration never ran
    with_data = [c for c, a in recorder.hooks("end", STEP[solver]) if a["X"] is X]
    assert len(with_data) == clf.n_iter_
    assert [hook for hook, _, _ in recorder.calls[:1] + recorder.calls[-1:]] == [
        "setup",
        "teardown",
    ]


@requires_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_a_callback_that_asks_to_stop_ends_the_fit_cleanly(iris, solver):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean stop: no ConvergenceWarning
        stopped = classifier(solver, max_iter=50).set_callbacks(StopAfter(3)).fit(X, y)
    # the state named in the docs: the weights and loss of the step that asked,
    # as a fit limited to that many steps ends
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        limited = classifier(solver, max_iter=3).fit(X, y)
    assert stopped.n_iter_ == limited.n_iter_ == 3
    assert stopped.loss_ == limited.loss_
    assert_same_weights(stopped, limited)
    if solver != "lbfgs":
        assert stopped.loss_curve_ == limited.loss_curve_


@requires_callbacks
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_stopping_under_early_stopping_keeps_the_best_weights(iris, estimator_class):
    X, y = iris
    # a large step, whose validation score is best before the 10th epoch
    params = dict(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        validation_fraction=0.2,
        learning_rate_init=0.3,
        random_state=0,
    )
    stopper = StopAfter(10)
    stopped = estimator_class(max_iter=50, **params).set_callbacks(stopper)
    stopped.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        limited = estimator_class(max_iter=10, **params).fit(X, y)
    assert stopped.n_iter_ == 10
    assert stopped.validation_scores_ == limited.validation_scores_
    assert_same_weights(stopped, limited)
    best = int(np.argmax(stopped.validation_scores_))
    assert best < 9
    _, arguments = stopper.hooks("end", "epoch")[best]
    assert_same_weights(stopped, arguments["fitted"])


@requires_callbacks
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_interrupting_an_epoch_loop_keeps_the_weights(iris, solver):
    X, y = iris
    interrupter = RaiseAt(3, KeyboardInterrupt())
    clf = classifier(solver, max_iter=50).set_callbacks(interrupter)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        limited = classifier(solver, max_iter=3).fit(X, y)
    assert clf.n_iter_ == 3
    assert_same_weights(clf, limited)
    assert [hook for hook, _, _ in interrupter.calls[-2:]] == ["end", "teardown"]
    assert interrupter.calls[-2][1].parent is None  # the fit's own task ended


@requires_callbacks
@pytest.mark.parametrize(
    ("solver", "exception"),
    [
        *((solver, ValueError("a callback failed")) for solver in SOLVERS),
        # (Ctrl-C in sgd or adam keeps the weights: tested above)
        ("lbfgs", KeyboardInterrupt()),
    ],
    ids=str,
)
def test_a_call_that_fails_in_a_callback_changes_nothing(iris, solver, exception):
    X, y = iris
    clf = classifier(solver, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    fitted = {name: getattr(clf, name) for name in ("n_iter_", "loss_", "t_")}
    fitted_weights = [w.copy() for w in weights(clf)]
    failing = RaiseAt(2, exception)
    clf.set_callbacks(failing).set_params(warm_start=True)
    with pytest.raises(type(exception)):
        clf.fit(X, y)
    for old, new in zip(fitted_weights, weights(clf), strict=True):
        assert_array_equal(old, new)
    assert {name: getattr(clf, name) for name in fitted} == fitted
    assert failing.calls[-1][0] == "teardown"
    assert not hasattr(clf, "_callback_fit_ctx")


@requires_callbacks
def test_scoring_monitor_on_the_network_inside_a_grid_search(iris):
    X, y = iris
    monitor = ScoringMonitor(scoring="accuracy")
    clf = classifier("adam", max_iter=3).set_callbacks(monitor)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), clf),
        {"scratchmlpclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    # 2 candidates on 2 folds, and the refit: 5 fits of 3 epochs each
    (log,) = monitor.get_logs(select="all")
    assert log.estimator_name == "GridSearchCV"
    epochs = [row for row in log.data if row["task_name"] == "epoch"]
    assert len(epochs) == 5 * 3
    assert all(0 <= row["accuracy"] <= 1 for row in epochs)


@requires_callbacks
def test_callbacks_propagate_from_a_grid_search_through_a_pipeline(iris):
    X, y = iris
    recorder = PropagatedRecorder()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), classifier("sgd", max_iter=4)),
        {"scratchmlpclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
    ).set_callbacks(ProgressBar(max_propagation_depth=None), recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    epochs = recorder.hooks("end", "epoch")
    assert len(epochs) == 5 * 4
    context, _ = epochs[0]
    path = []
    while context is not None:
        path.append(context.estimator_name)
        context = context.parent
    assert path[0] == "ScratchMLPClassifier" and path[-1] == "GridSearchCV"
    assert "Pipeline" in path


def test_without_sklearn_callback_nothing_breaks_and_set_callbacks_says_why(
    tmp_path,
):
    """scikit-learn 1.6 to 1.8 have no sklearn.callback: hide it (after
    loading the parts of scikit-learn that import it themselves) and import
    the package afresh. (In a folder of its own: in the repository's root,
    the import would find the source folder, without the built extension.)"""
    script = """
import sys, warnings
import numpy as np
import sklearn.compose, sklearn.impute, sklearn.model_selection, sklearn.pipeline
sys.modules["sklearn.callback"] = None
from sknn_scratch import ScratchMLPClassifier
X = np.random.RandomState(0).normal(size=(40, 3))
y = np.arange(40) % 2
warnings.simplefilter("ignore")
for solver in ("adam", "lbfgs"):
    clf = ScratchMLPClassifier((4,), solver=solver, max_iter=5).fit(X, y)
    assert clf.n_iter_ == 5
try:
    clf.set_callbacks()
except ImportError as error:
    print(error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert "set_callbacks needs scikit-learn's callbacks" in result.stdout
    assert "scikit-learn 1.9 and later" in result.stdout
