"""A call that fails leaves the estimator as it was, and says what to try.

Training that diverges (in every solver, on a fresh fit, in a continued one,
under early stopping), input refused by a fitted estimator, an error in a
first fit; and, for another thread, the restore is atomic. (The messages for
bad input, and that they come before training: test_bad_input.py.)"""

import sys
import threading
import warnings

import numpy as np
import pytest
from helpers import weights_of
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]


def fitted_state(estimator) -> dict:
    """Every fitted attribute, with arrays and lists copied."""
    state = {}
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("__"):
            if isinstance(value, list):
                value = [np.copy(v) if isinstance(v, np.ndarray) else v for v in value]
            elif isinstance(value, np.ndarray):
                value = value.copy()
            state[name] = value
    return state


def assert_same_state(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for name, value in before.items():
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            for a, b in zip(value, after[name], strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(value, after[name])


# -- divergence -------------------------------------------------------------------
# Each way to diverge: the estimator, its solver, the scale of X (and of the
# regressor's targets) and the learning rate. Squared errors of 1e200-sized
# targets overflow; so do SGD's steps of 1000 × a 1e200-sized gradient. (Adam's
# steps stay near the learning rate, and a log-loss grows only linearly, so a
# classifier under Adam trains — badly — without overflowing.) At 1e6 and a
# learning rate of 10, sgd's weights grow over a few epochs instead.
DIVERGING = [
    (ScratchMLPRegressor, "adam", 1e200, 1e3),
    (ScratchMLPRegressor, "sgd", 1e200, 1e3),
    (ScratchMLPRegressor, "lbfgs", 1e200, 1e3),
    (ScratchMLPClassifier, "sgd", 1e200, 1e3),
    (ScratchMLPRegressor, "sgd", 1e6, 10.0),
]


@pytest.mark.parametrize(
    ("estimator_class", "solver", "scale", "learning_rate"),
    DIVERGING,
    ids=[f"{c.__name__}-{solver}-{scale:g}" for c, solver, scale, _ in DIVERGING],
)
def test_divergence_is_a_value_error_that_says_what_to_try(
    iris, estimator_class, solver, scale, learning_rate
):
    X, y = iris
    y = y if estimator_class is ScratchMLPClassifier else y * scale
    estimator = estimator_class(
        solver=solver, learning_rate_init=learning_rate, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(
            ValueError, match=r"diverged.*Scale the inputs.*learning_rate_init"
        ):
            estimator.fit(X * scale, y)
    assert not hasattr(estimator, "coefs_")  # unfitted again, not fitted with NaN


def test_divergence_in_a_continued_fit_restores_everything(iris):
    """partial_fit and a warm-started fit that diverge leave every fitted
    attribute as it was, and the estimator predicts as before."""
    X, _ = iris
    reg = ScratchMLPRegressor(
        solver="sgd", learning_rate_init=10.0, warm_start=True, random_state=0
    )
    reg.set_params(max_iter=5, learning_rate_init=1e-3).fit(X, X[:, 0])
    before, predicted = fitted_state(reg), reg.predict(X)
    assert np.isfinite(predicted).all()
    reg.set_params(learning_rate_init=10.0)
    for continued in (reg.partial_fit, reg.fit):
        with pytest.raises(ValueError, match="diverged"):
            continued(X * 1e200, X[:, 0] * 1e200)  # the squared error overflows
        assert_same_state(before, fitted_state(reg))
        np.testing.assert_array_equal(reg.predict(X), predicted)


def test_divergence_under_early_stopping_keeps_the_best_weights(iris):
    """As scikit-learn's MLP ends on its best validated weights: the diverged
    epoch is recorded as NaN and counted, and a ConvergenceWarning says so."""
    X, _ = iris
    y = X[:, 0] * 10.0  # sgd at this rate diverges after a few epochs
    params = dict(
        hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.1,
        early_stopping=True, n_iter_no_change=100, max_iter=50, random_state=0,
    )  # fmt: skip
    reg = ScratchMLPRegressor(**params)
    with pytest.warns(ConvergenceWarning, match=r"diverged.*best validation score"):
        reg.fit(X, y)
    assert 1 < reg.n_iter_ < 50
    for curve in [reg.loss_curve_, reg.validation_scores_, reg.validation_loss_curve_]:
        assert len(curve) == reg.n_iter_
        assert np.isnan(curve[-1])
    assert np.isfinite(reg.loss_curve_[:-1]).all() and np.isnan(reg.loss_)
    best_epoch = int(np.nanargmax(reg.validation_scores_)) + 1
    assert reg.best_validation_score_ == reg.validation_scores_[best_epoch - 1]
    # the weights are those of a run stopped after the best epoch
    stopped = ScratchMLPRegressor(**{**params, "max_iter": best_epoch})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stopped.fit(X, y)
    for kept, expected in zip(weights_of(reg), weights_of(stopped), strict=True):
        np.testing.assert_array_equal(kept, expected)

    # without early stopping: an error, and the estimator as it was
    plain = ScratchMLPRegressor(**{**params, "early_stopping": False})
    with pytest.raises(ValueError, match=r"diverged.*non-finite at iteration"):
        plain.fit(X, y)
    assert not hasattr(plain, "coefs_")


# -- other failures -------------------------------------------------------------
def test_a_failed_refit_keeps_the_fitted_model(iris):
    X, y = iris
    clf = ScratchMLPClassifier((5,), max_iter=20, random_state=0).fit(X, y)
    before, predicted = fitted_state(clf), clf.predict(X)
    with pytest.raises(ValueError, match="non-negative"):
        clf.fit(X[:, :2], y % 2, sample_weight=-np.ones(150))
    assert_same_state(before, fitted_state(clf))
    np.testing.assert_array_equal(clf.predict(X), predicted)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(iris):
    X, y = iris
    clf = ScratchMLPClassifier(warm_start=True, max_iter=5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(150))
    with pytest.raises(NotFittedError):
        clf.predict(X)
    clf.fit(X, y)  # warm start has nothing to continue from: a fresh fit
    assert list(clf.classes_) == [0, 1, 2]

    early = ScratchMLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping"):
        early.partial_fit(X, y, classes=[0, 1, 2])
    assert vars(early).keys() == early.get_params().keys()


@pytest.mark.slow
def test_a_failed_calls_restore_is_atomic_for_other_threads(iris):
    """While one thread's partial_fit fails and restores the estimator, another
    thread predicting never sees it empty (NotFittedError) or half-restored."""
    X, y = iris
    clf = ScratchMLPClassifier((5,), random_state=0).partial_fit(
        X, y, classes=[0, 1, 2]
    )
    bad_weights = -np.ones(len(y))  # refused after the snapshot is taken
    errors, stop = [], threading.Event()

    def predict() -> None:
        while not stop.is_set():
            try:
                for _ in range(20):  # what every prediction does first
                    check_is_fitted(clf)
                clf.predict_proba(X[:5])
            except Exception as error:  # any error here is the failure
                errors.append(error)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=predict)
    try:
        reader.start()
        for _ in range(1000):
            with pytest.raises(ValueError, match="non-negative"):
                clf.partial_fit(X, y, sample_weight=bad_weights)
            if errors:
                break
    finally:
        stop.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert not errors, repr(errors[0])

    class Watched(dict):
        """An attribute dictionary that must never be emptied in place."""

        def clear(self):
            raise AssertionError("the restore emptied the estimator")

    clf.__dict__ = Watched(vars(clf))
    with pytest.raises(ValueError, match="non-negative"):
        clf.partial_fit(X, y, sample_weight=bad_weights)
    assert "coefs_" in vars(clf)


# -- Ctrl-C ---------------------------------------------------------------------------
# A network whose one epoch (or one L-BFGS evaluation) takes 10 s or more on
# 2 cores, interrupted 0.3 s into it: the fit must end within a few seconds.
INTERRUPT_AFTER, ENDS_WITHIN = 0.3, 4.0


def interrupted_fit(estimator, monkeypatch, hook_owner, hook_name, timing: dict):
    """Fit ``estimator`` on data that take long, sending SIGINT to this process
    ``INTERRUPT_AFTER`` seconds after ``hook_owner.hook_name`` (the epoch, or
    the L-BFGS minimiser) starts; ``timing["seconds"]`` receives the time from
    the signal to the end of the fit (or to the KeyboardInterrupt it raised,
    raised again)."""
    import os
    import signal
    import time

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("only the main thread sees SIGINT")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50_000, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    original = getattr(hook_owner, hook_name)
    sent = []

    def send():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    def hooked(*args, **kwargs):
        timer = threading.Timer(INTERRUPT_AFTER, send)
        timer.start()
        try:
            return original(*args, **kwargs)
        finally:
            timer.cancel()

    monkeypatch.setattr(hook_owner, hook_name, hooked)
    # A user's Ctrl-C meets Python's own handler, unblocked: set both up again
    # (in the whole suite, something before this test left SIGINT otherwise in
    # CI's fresh environment, and the signal never reached the fit)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    try:
        estimator.fit(X, y)
    finally:
        ended = time.perf_counter()
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, previous)
        assert sent, "the fit ended before the signal was sent"
        timing["seconds"] = ended - sent[0]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_ctrl_c_ends_a_stochastic_fit_within_a_batch(monkeypatch, solver):
    from sknn_scratch._reference import _training

    estimator = ScratchMLPClassifier(
        (2048, 2048), solver=solver, batch_size=256, max_iter=3, random_state=0
    )
    timing = {}
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        interrupted_fit(
            estimator, monkeypatch, _training.MiniBatchTrainer, "epoch", timing
        )
    assert timing["seconds"] < ENDS_WITHIN
    # as scikit-learn's MLP: fitted, on the weights of the last completed
    # batch; the interrupted epoch is not counted
    check_is_fitted(estimator)
    assert estimator.n_iter_ == 0 and estimator.loss_curve_ == []
    assert np.isfinite(estimator.coefs_[0]).all()
    assert estimator.predict(np.zeros((2, 64), np.float32)).shape == (2,)


def test_ctrl_c_ends_an_lbfgs_fit_and_leaves_the_estimator_as_it_was(monkeypatch):
    from sknn_scratch._estimators import _base

    estimator = ScratchMLPClassifier((2048, 2048), solver="lbfgs", random_state=0)
    timing = {}
    with pytest.raises(KeyboardInterrupt):
        interrupted_fit(estimator, monkeypatch, _base, "minimize_lbfgs", timing)
    assert timing["seconds"] < ENDS_WITHIN
    with pytest.raises(NotFittedError):  # as before the call
        check_is_fitted(estimator)


# -- fitted attributes that do not form a network ------------------------------------
# Set by hand, or loaded from a crafted pickle, joblib or skops file: each
# call that reads them refuses them with a ValueError naming the attribute,
# before any engine reads an array.
def _drop_output_layer(model):
    model.coefs_, model.intercepts_ = model.coefs_[:-1], model.intercepts_[:-1]


def _two_outputs_for_three_classes(model):
    model.coefs_[-1] = model.coefs_[-1][:, :2].copy()
    model.intercepts_[-1] = model.intercepts_[-1][:2].copy()
    model.n_outputs_ = 2


CORRUPTIONS = {
    "two biases for 16 units": (
        lambda m: m.intercepts_.__setitem__(0, m.intercepts_[0][:2].copy()),
        r"intercepts_\[0\] has shape \(2,\)",
    ),
    "coefs_[1] with too few rows": (
        lambda m: m.coefs_.__setitem__(1, m.coefs_[1][:3].copy()),
        r"coefs_\[1\] has shape \(3, 8\)",
    ),
    "coefs_[0] with too many columns": (
        lambda m: m.coefs_.__setitem__(0, np.hstack([m.coefs_[0]] * 2)),
        r"coefs_\[0\] gives its layer 32 units",
    ),
    "an empty output intercept": (
        lambda m: m.intercepts_.__setitem__(2, np.empty(0)),
        r"intercepts_\[2\] has shape \(0,\)",
    ),
    "fewer intercepts than coefs": (
        lambda m: setattr(m, "intercepts_", m.intercepts_[:-1]),
        r"intercepts_ has 2 bias vectors",
    ),
    "a layer dropped from both lists": (_drop_output_layer, r"n_layers_=4"),
    "an output width that does not match classes_": (
        _two_outputs_for_three_classes,
        r"the targets need 3",
    ),
    "weights of another dtype than the first layer's": (
        lambda m: m.coefs_.__setitem__(1, m.coefs_[1].astype(np.float32)),
        r"coefs_\[1\] must be a 2-D float64 array",
    ),
    "an unknown output activation": (
        lambda m: setattr(m, "out_activation_", "exp2"),
        r"out_activation_='exp2'",
    ),
}


def three_class_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)


def assert_every_call_refuses(model, X, y, message: str) -> None:
    """predict_proba, predict, partial_fit and a warm start each raise the
    ValueError that names the bad attribute."""
    for call in (
        lambda: model.predict_proba(X[:3]),
        lambda: model.predict(X[:3]),
        lambda: model.partial_fit(X, y),
        lambda: model.set_params(warm_start=True).fit(X, y),
    ):
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_fitted_attributes_that_do_not_chain_are_refused(corruption):
    corrupt, message = CORRUPTIONS[corruption]
    X, y = three_class_data()
    model = ScratchMLPClassifier((16, 8), max_iter=20, random_state=0).fit(X, y)
    corrupt(model)
    assert_every_call_refuses(model, X, y, message)


# The fitted attributes of the options for tabular data: (the options fitted
# with, the corruption, the message). Each refused by predict, partial_fit and
# a warm start alike, on either engine, never met by NumPy's IndexError or
# read by C.
def _set(name, value):
    return lambda m: setattr(m, name, value(m) if callable(value) else value)


def _set_in_embedding(name, value):
    return lambda m: setattr(m.embedding_, name, value(m.embedding_))


MEMBERS = {"n_members": 3}
PERIODIC = {"embedding": "periodic", "embedding_size": 2, "embedding_columns": [0, 2]}
PIECEWISE_LINEAR = {"embedding": "piecewise_linear", "embedding_size": 4}
TABULAR_CORRUPTIONS = {
    "member_scales_ of another width": (
        MEMBERS,
        _set("member_scales_", lambda m: m.member_scales_[:, :4].copy()),
        r"member_scales_ has shape \(3, 4\), but the first layer has 6 inputs",
    ),
    "member_scales_ of one member": (
        MEMBERS,
        _set("member_scales_", lambda m: m.member_scales_[:1].copy()),
        r"member_scales_ has shape \(1, 6\)",
    ),
    "member_scales_ for fewer members than heads": (
        MEMBERS,
        _set("member_scales_", lambda m: m.member_scales_[:2].copy()),
        r"the last layer has 9 units .* for each of 2 members",
    ),
    "member_scales_ of another dtype": (
        MEMBERS,
        _set("member_scales_", lambda m: m.member_scales_.astype(np.float32)),
        r"member_scales_ .* float64 values",
    ),
    "member_scales_ as a list": (
        MEMBERS,
        _set("member_scales_", lambda m: m.member_scales_.tolist()),
        r"member_scales_ has shape None",
    ),
    "embedding_params_ of another shape": (
        PERIODIC,
        _set("embedding_params_", lambda m: m.embedding_params_[:1].copy()),
        r"embedding_params_ has shape \(1, 2\), but embedding_ needs \(2, 2\)",
    ),
    "embedding_params_ gone": (
        PERIODIC,
        _set("embedding_params_", None),
        r"embedding_params_ has shape None",
    ),
    "embedding_params_ for an encoding without any": (
        PIECEWISE_LINEAR,
        _set("embedding_params_", np.ones((6, 4))),
        r"embedding_params_ has shape \(6, 4\), but embedding_ needs None",
    ),
    "bin edges that do not increase": (
        PIECEWISE_LINEAR,
        _set_in_embedding("constants", lambda e: [c[::-1].copy() for c in e.constants]),
        r"increasing finite bin edges",
    ),
    "a bin edge that is not finite": (
        PIECEWISE_LINEAR,
        _set_in_embedding(
            "constants", lambda e: [np.r_[c[:-1], np.inf] for c in e.constants]
        ),
        r"increasing finite bin edges",
    ),
    "a single edge": (
        PIECEWISE_LINEAR,
        _set_in_embedding("constants", lambda e: [c[:1].copy() for c in e.constants]),
        r"increasing finite bin edges",
    ),
    "edges for fewer columns": (
        PIECEWISE_LINEAR,
        _set_in_embedding("constants", lambda e: e.constants[:-1]),
        r"constants of each of its 6 columns",
    ),
    "an embedded column X does not have": (
        PERIODIC,
        _set_in_embedding("columns", lambda e: np.array([0, 9])),
        r"embedding_ embeds columns array\(\[0, 9\]\)",
    ),
    "embedded columns that are not indices": (
        PERIODIC,
        _set_in_embedding("columns", lambda e: e.columns.astype(float)),
        r"embedding_ embeds columns",
    ),
    "columns passed through that X does not have": (
        PERIODIC,
        _set_in_embedding("passthrough", lambda e: np.array([1, 3, 4, 7])),
        r"embedding_ passes columns .* the columns of X it does not embed are "
        r"\[1, 3, 4, 5\]",
    ),
    "an embedded column passed through again": (
        PERIODIC,
        _set_in_embedding("passthrough", lambda e: np.array([0, 3, 4, 5])),
        r"embedding_ passes columns",
    ),
    "an embedding_ that is not one": (
        PERIODIC,
        _set("embedding_", "periodic"),
        r"embedding_ must be a numerical embedding",
    ),
    "an embedding of an unknown kind": (
        PERIODIC,
        _set_in_embedding("kind", lambda e: "fourier"),
        r"embedding_ must be a numerical embedding",
    ),
}


@pytest.mark.parametrize("corruption", TABULAR_CORRUPTIONS)
def test_fitted_embeddings_and_members_that_do_not_fit_are_refused(corruption):
    options, corrupt, message = TABULAR_CORRUPTIONS[corruption]
    X, y = three_class_data()
    model = ScratchMLPClassifier((16, 8), max_iter=5, random_state=0, **options)
    model.fit(X, y)
    corrupt(model)
    assert_every_call_refuses(model, X, y, message)


# normalize_y's moments: (the corruption, the message)
MOMENT_CORRUPTIONS = {
    "a scale of zero": (
        _set("y_scale_", np.array([0.0])),
        r"y_scale_ must be positive",
    ),
    "a negative scale": (_set("y_scale_", np.array([-2.0])), r"y_scale_ must be posit"),
    "a scale that is not finite": (
        _set("y_scale_", np.array([np.inf])),
        r"y_scale_ must be a finite float array of shape \(1,\)",
    ),
    "no scale": (_set("y_scale_", None), r"y_scale_ must be a finite float array"),
    "a mean per quantile": (
        _set("y_mean_", np.zeros(2)),
        r"y_mean_ must be a finite float array of shape \(1,\), one value per target",
    ),
    "a mean of another dimension": (
        _set("y_mean_", np.zeros((1, 1))),
        r"y_mean_ must be a finite float array of shape \(1,\)",
    ),
    "a mean that is not a number": (
        _set("y_mean_", np.array([np.nan])),
        r"y_mean_ must be a finite float array",
    ),
    "a mean of text": (_set("y_mean_", np.array(["0"])), r"y_mean_ must be a finite"),
    "a mean as a float": (_set("y_mean_", 0.5), r"y_mean_ must be a finite"),
}


@pytest.mark.parametrize("corruption", MOMENT_CORRUPTIONS)
def test_fitted_moments_of_normalize_y_that_do_not_fit_are_refused(corruption):
    corrupt, message = MOMENT_CORRUPTIONS[corruption]
    X, _ = three_class_data()
    y = 100 * X[:, 0] + 5
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(8,), normalize_y=True, max_iter=5, random_state=0
    ).fit(X, y)
    corrupt(model)
    for call in (
        lambda: model.predict(X[:3]),
        lambda: model.score(X, y),
        lambda: model.partial_fit(X, y),
        lambda: model.set_params(warm_start=True).fit(X, y),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_an_optimizer_state_that_does_not_fit_is_refused():
    X, y = three_class_data()
    for solver, name in (("adam", "m"), ("sgd", "velocity")):
        model = ScratchMLPClassifier((16, 8), solver=solver, max_iter=5).fit(X, y)
        setattr(model._optimizer, name, getattr(model._optimizer, name)[:7].copy())
        before = fitted_state(model)
        with pytest.raises(ValueError, match="fitted _optimizer cannot go on"):
            model.partial_fit(X, y)
        assert_same_state(before, fitted_state(model))
    model._optimizer = "adam"
    with pytest.raises(ValueError, match="_optimizer is a str"):
        model.partial_fit(X, y)


def test_a_parameter_vector_that_does_not_fit_is_rebuilt_from_the_layers():
    # _params is the vector the layers are views of; one that does not match
    # them (loaded from a crafted file) is not trained: the layers are.
    X, y = three_class_data()
    model = ScratchMLPClassifier((16, 8), max_iter=5, random_state=0).fit(X, y)
    expected = model.predict_proba(X)
    model._params = model._params[:10].copy()
    np.testing.assert_array_equal(model.predict_proba(X), expected)
    model.partial_fit(X, y)
    assert model._params.shape == (6 * 16 + 16 * 8 + 8 * 3 + 16 + 8 + 3,)
