"""Bad input gets a ValueError that names the problem, before any training.

Bad data, bad parameters (of scikit-learn's and of our options), calls that
cannot be made (partial_fit with lbfgs, ...), and the wording: where
scikit-learn's MLP refuses the same input, our message begins with its.

Every row of the tables below is tried on both estimators (where it applies).
Training is booby-trapped (``no_training``): if an error were only raised after
an epoch or an L-BFGS run had started, the trap's AssertionError would fail the
test. What a failed call leaves behind: test_failures.py.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import SKLEARN_TWIN
from sklearn.base import clone

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, _base, _training

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]

rng = np.random.RandomState(0)
X = rng.normal(size=(30, 3))
Y_CLASS = np.arange(30) % 3
Y_REG = rng.normal(size=30)


def target_for(estimator_class):
    return Y_CLASS if estimator_class is ScratchMLPClassifier else Y_REG


def trap_training(monkeypatch) -> None:
    """Make any start of training fail loudly from now on."""

    def trap(*args, **kwargs):
        raise AssertionError("training started before the input was rejected")

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", trap)
    monkeypatch.setattr(_base, "minimize_lbfgs", trap)


@pytest.fixture
def no_training(monkeypatch):
    """Make any start of training fail loudly."""
    trap_training(monkeypatch)


def with_value(array, index, value, dtype=float):
    changed = np.array(array, dtype=dtype)
    changed[index] = value
    return changed


# (name, X, y or None for "the estimator's usual target", fit kwargs, message)
FIT_CASES = [
    ("nan in X", with_value(X, (3, 1), np.nan), None, {}, "Input X contains NaN"),
    ("inf in X", with_value(X, (0, 0), np.inf), None, {}, "Input X contains infinity"),
    ("-inf in X", with_value(X, (5, 2), -np.inf), None, {}, "infinity"),
    ("nan in y", X, with_value(Y_CLASS, 4, np.nan), {}, "Input y contains NaN"),
    ("inf in y", X, with_value(Y_CLASS, 4, np.inf), {}, "Input y contains infinity"),
    (
        "nan in sample_weight",
        X, None, {"sample_weight": with_value(np.ones(30), 2, np.nan)},
        "Input sample_weight contains NaN",
    ),
    (
        "inf in sample_weight",
        X, None, {"sample_weight": with_value(np.ones(30), 2, np.inf)},
        "Input sample_weight contains infinity",
    ),
    ("no samples", X[:0], np.array([]), {}, "0 sample"),
    ("no features", X[:, :0], None, {}, "0 feature"),
    ("3-D X", X.reshape(30, 3, 1), None, {}, "dim 3"),
    ("1-D X", X[:, 0], None, {}, "Expected 2D array"),
    ("complex X", X + 1j, None, {}, "Complex data not supported"),
    ("strings in X", np.full((30, 3), "a"), None, {}, "could not convert string"),
    ("objects in X", np.full((30, 3), {}, dtype=object), None, {}, "must hold numbers"),
    ("X longer than y", X, Y_CLASS[:-1], {}, "inconsistent numbers of samples"),
    (
        "short sample_weight",
        X, None, {"sample_weight": np.ones(29)},
        r"sample_weight.shape == \(29,\), expected \(30,\)!",
    ),
    (
        "2-D sample_weight",
        X, None, {"sample_weight": np.ones((30, 2))},
        "Sample weights must be 1D array or scalar",
    ),
    (
        "negative sample_weight",
        X, None, {"sample_weight": with_value(np.ones(30), 0, -1.0)},
        "sample_weight must be non-negative",
    ),
    (
        "zero sample_weight",
        X, None, {"sample_weight": np.zeros(30)},
        "Sample weights must contain at least one non-zero number",
    ),
    (
        "text sample_weight",
        X, None, {"sample_weight": np.full(30, "heavy")},
        "could not convert string to float.*sample_weight must be numeric",
    ),
]  # fmt: skip


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("X_bad", "y_bad", "fit_kwargs", "message"),
    [case[1:] for case in FIT_CASES],
    ids=[case[0] for case in FIT_CASES],
)
@pytest.mark.parametrize(
    ("method", "solver"),
    [("fit", "adam"), ("fit", "sgd"), ("fit", "lbfgs"), ("partial_fit", "adam")],
)
def test_bad_data_in_fit(
    estimator_class, X_bad, y_bad, fit_kwargs, message, method, solver
):
    y = target_for(estimator_class) if y_bad is None else y_bad
    estimator = estimator_class(solver=solver)
    kwargs = dict(fit_kwargs)
    if method == "partial_fit" and estimator_class is ScratchMLPClassifier:
        kwargs["classes"] = np.unique(Y_CLASS)
    with pytest.raises(ValueError, match=message):
        getattr(estimator, method)(X_bad, y, **kwargs)
    assert not hasattr(estimator, "coefs_")


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda c: c.__name__)
def fitted(request):
    estimator = request.param(hidden_layer_sizes=(4,), solver="lbfgs", random_state=0)
    return estimator.fit(X, target_for(request.param))


PREDICT_CASES = [
    ("too few features", X[:, :2], "X has 2 features, but .* is expecting 3"),
    ("too many features", np.hstack([X, X]), "X has 6 features"),
    ("nan", with_value(X, (1, 1), np.nan), "Input X contains NaN"),
    ("inf", with_value(X, (1, 1), np.inf), "Input X contains infinity"),
    ("empty", X[:0], "0 sample"),
    ("3-D", X.reshape(30, 3, 1), "dim 3"),
    ("complex", X + 1j, "Complex data not supported"),
    ("objects", np.full((30, 3), {}, dtype=object), "must hold numbers"),
    ("sparse, wrong width", sp.csr_matrix(X[:, :2]), "X has 2 features"),
]


@pytest.mark.parametrize(
    ("X_bad", "message"),
    [case[1:] for case in PREDICT_CASES],
    ids=[case[0] for case in PREDICT_CASES],
)
def test_bad_data_in_predict(fitted, X_bad, message):
    methods = ["predict", "score"]
    if isinstance(fitted, ScratchMLPClassifier):
        methods += ["predict_proba", "predict_log_proba"]
    for method in methods:
        args = (X_bad, target_for(type(fitted))[: X_bad.shape[0]])
        with pytest.raises(ValueError, match=message):
            getattr(fitted, method)(*args[: 2 if method == "score" else 1])


BAD_PARAMETERS = [
    ("hidden_layer_sizes", [0, -3, (10, 0), "10", 2.5, (3.0,), [True]]),
    ("activation", ["softmax", None, "ReLU"]),
    ("solver", ["newton", None]),
    ("alpha", [-1.0, np.nan, np.inf, "0.1", None]),
    ("batch_size", [0, -5, "big", 1.5, True]),
    ("learning_rate", ["fast", None]),
    ("learning_rate_init", [0, -0.1, np.nan, "0.01"]),
    ("power_t", [-1.0, np.nan]),
    ("max_iter", [0, -1, 1.5, None]),
    ("shuffle", ["yes", 1, None]),
    ("random_state", [-1, 2**33, "seed", 1.5]),
    ("tol", [-1e-4, np.nan]),
    ("verbose", [-1, "loud", 0.5]),
    ("warm_start", ["no", 0]),
    ("momentum", [1.5, -0.1, np.nan]),
    ("nesterovs_momentum", [None, "true"]),
    ("early_stopping", ["yes", 1]),
    ("validation_fraction", [1.0, -0.1, np.nan]),
    ("beta_1", [1.0, -0.1]),
    ("beta_2", [1.0, 2]),
    ("epsilon", [0.0, -1e-8]),
    ("n_iter_no_change", [0, 1.5, -np.inf, "never"]),
    ("max_fun", [0, 2.5]),
    ("dropout", [1.0, -0.1, [0.5, 1.2], np.nan]),  # (and "0.5", below)
    # one-pass iterators would be used up by validation; dicts and sets have
    # no order
    (
        "hidden_layer_sizes",
        [map(int, ["64", "32"]), (n for n in [4]), {4: 1}, np.ones((1, 2), int)],
    ),
    ("dropout", [(r for r in [0.5]), {0.5: 1}, {0.5}, "0.5", np.array([[0.5]])]),
    # a scorer's name, "loss" or a callable (a class is not a scorer)
    ("scoring", ["accuracy_score", "Loss", 3, ["accuracy"], ScratchMLPClassifier]),
    ("learning_rate", ["cosine_with_restarts", "Cosine"]),
    ("warmup_fraction", [1.0, -0.1, np.nan, "0.1"]),
    ("weight_decay", [-0.01, np.inf, np.nan, "0.01"]),
    # numerical embeddings and packed members
    ("embedding", ["ple", "Periodic", 1, True]),
    (
        "embedding_columns",
        [
            [],  # no column: leave embedding=None instead
            (),
            [False, False, False],  # a mask of no column
            "(",  # not a regular expression
            "[a-",
            [0, "x1"],  # indices and names mixed
            [True, 0],  # a mask and indices mixed
            [0.0, 1.0],
            1.5,
            {0: 1},
            np.array([[0, 1]]),
            (c for c in [0]),
        ],
    ),
    ("embedding_size", [1, 0, 2.5, "16", None, True]),
    ("embedding_scale", [0, -0.1, np.nan, np.inf, "0.1", None]),
    ("n_members", [0, -1, 1.5, "2", None, True]),
]


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in BAD_PARAMETERS for value in values],
    ids=[f"{name}={value!r}" for name, values in BAD_PARAMETERS for value in values],
)
def test_bad_parameter(estimator_class, name, value):
    estimator = estimator_class(**{name: value})  # __init__ stores, never checks
    assert estimator.get_params()[name] is value
    with pytest.raises(ValueError, match=rf"The '{name}' parameter .* must be .*Got"):
        estimator.fit(X, target_for(estimator_class))


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("value", [1.0, -0.1, np.nan, "0.1", None])
def test_bad_label_smoothing(value):
    estimator = ScratchMLPClassifier(label_smoothing=value)
    with pytest.raises(ValueError, match=r"'label_smoothing' parameter .* must be"):
        estimator.fit(X, target_for(ScratchMLPClassifier))


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("value", ["yes", 1, None, np.nan])
def test_bad_normalize_y(value):
    with pytest.raises(ValueError, match=r"'normalize_y' parameter .* must be a bool"):
        ScratchMLPRegressor(normalize_y=value).fit(X, Y_REG)
    # checked before it is read with the loss
    with pytest.raises(ValueError, match=r"'normalize_y' parameter .* must be a bool"):
        ScratchMLPRegressor(normalize_y=value, loss="poisson").fit(X, np.abs(Y_REG))


@pytest.mark.usefixtures("no_training")
def test_bad_regressor_loss():
    with pytest.raises(ValueError, match=r"'loss' parameter .* 'squared_error'"):
        ScratchMLPRegressor(loss="mae").fit(X, Y_REG)


# the settings of the regressor's losses: checked whichever loss is chosen
BAD_LOSS_SETTINGS = [
    ("huber_delta", [0, -1.0, np.nan, np.inf, None, "1"]),
    ("quantile", [0, 1, 1.5, -0.1, np.nan, "0.5"]),
    # several quantiles: at least one, each in (0, 1), strictly increasing, in
    # a sequence with an order
    (
        "quantile",
        [
            [],
            [0.5, 0.1],
            [0.1, 0.1],
            (0.1, 1.0),
            [0.0, 0.5],
            [0.1, np.nan],
            ["0.1", "0.5"],
            np.array([[0.1, 0.5]]),
            {0.1, 0.5},
        ],
    ),
]


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("loss", ["squared_error", "huber", "quantile"])
@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in BAD_LOSS_SETTINGS for value in values],
    ids=[f"{name}={value!r}" for name, values in BAD_LOSS_SETTINGS for value in values],
)
def test_bad_loss_setting(loss, name, value):
    reg = ScratchMLPRegressor(loss=loss, **{"quantile": 0.5, name: value})
    with pytest.raises(ValueError, match=rf"The '{name}' parameter .* must be .*Got"):
        reg.fit(X, Y_REG)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_quantile_loss_needs_a_quantile(method):
    with pytest.raises(
        ValueError, match=r"'quantile' parameter .* \(0, 1\).* when loss='quantile'"
    ):
        getattr(ScratchMLPRegressor(loss="quantile"), method)(X, Y_REG)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
def test_partial_fit_with_lbfgs(estimator_class):
    estimator = estimator_class(solver="lbfgs")
    assert not hasattr(estimator, "partial_fit")
    with pytest.raises(ValueError, match="only available for stochastic optimizers"):
        estimator.partial_fit(X, target_for(estimator_class))
    with pytest.raises(AttributeError):
        estimator.partial_fit(X, target_for(estimator_class))


@pytest.mark.usefixtures("no_training")
def test_partial_fit_needs_classes_on_first_call():
    with pytest.raises(ValueError, match="classes must be passed"):
        ScratchMLPClassifier().partial_fit(X, Y_CLASS)


@pytest.mark.usefixtures("no_training")
def test_partial_fit_with_a_label_not_in_classes():
    clf = ScratchMLPClassifier()
    with pytest.raises(
        ValueError, match=r"not in `self.classes_`.*labels \[7\] are new"
    ):
        clf.partial_fit(X, with_value(Y_CLASS, 0, 7, int), classes=[0, 1, 2])


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_poisson_with_negative_targets(method):
    y = with_value(np.abs(Y_REG), 3, -0.5)
    with pytest.raises(ValueError, match=r"loss='poisson' needs non-negative targets"):
        getattr(ScratchMLPRegressor(loss="poisson"), method)(X, y)


@pytest.mark.usefixtures("no_training")
def test_classifier_with_a_single_class():
    with pytest.raises(ValueError, match=r"at least 2 classes.*only one class: 'spam'"):
        ScratchMLPClassifier().fit(X, np.full(30, "spam"))
    with pytest.raises(ValueError, match="at least 2 classes"):
        ScratchMLPClassifier().partial_fit(X, np.zeros(30), classes=[0])
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        ScratchMLPClassifier().fit(X, Y_REG)


def test_partial_fit_may_see_one_class_when_classes_are_known():
    clf = ScratchMLPClassifier().partial_fit(X, np.zeros(30), classes=[0, 1])
    assert list(clf.classes_) == [0, 1]


@pytest.mark.usefixtures("no_training")
def test_early_stopping_needs_a_validation_set(iris):
    X, y = iris
    with pytest.raises(ValueError, match="validation set is too small"):
        ScratchMLPClassifier(early_stopping=True, validation_fraction=0.01).fit(
            X[:60], y[:60]
        )
    regressor = ScratchMLPRegressor(early_stopping=True)
    assert not hasattr(regressor, "partial_fit")  # as for lbfgs
    with pytest.raises(ValueError, match="partial_fit does not support early_stop"):
        regressor.partial_fit(X, y)


def test_zero_weight_validation_split_is_a_clear_error():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    weights = np.zeros(100)
    weights[:5] = 1.0
    messages = set()
    for seed in range(4):
        reg = ScratchMLPRegressor(
            hidden_layer_sizes=(4,), early_stopping=True, random_state=seed
        )
        try:
            reg.fit(X, y, sample_weight=weights)
        except ValueError as error:
            messages.add(str(error).split(";")[0])
    assert any("validation set split off" in m for m in messages)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_parameter_errors_are_also_type_errors(iris):
    X, y = iris
    with pytest.raises(TypeError, match="'solver' parameter"):
        ScratchMLPClassifier(solver="newton").fit(X, y)
    # an invalid solver reaches the parameter check, which lists the choices
    with pytest.raises(ValueError, match=r"'solver' parameter .* 'lbfgs'"):
        ScratchMLPRegressor(solver="newton").partial_fit(X, y)
    reg = ScratchMLPRegressor(max_iter=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="X must hold numbers"):
            reg.predict(np.full((2, 4), {}, dtype=object))


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("array_api_input", ["X", "y", "sample_weight"])
def test_array_api_inputs_are_refused_with_what_to_do(fitted, array_api_input):
    # With scikit-learn's array_api_dispatch on, another library's arrays stay
    # in their library; the estimators compute with NumPy and say so.
    xp = pytest.importorskip("array_api_strict", reason="needs the test extra")
    from sklearn import config_context, get_config

    config = get_config()
    inputs = {"X": X, "y": target_for(type(fitted)), "sample_weight": np.ones(30)}
    inputs[array_api_input] = xp.asarray(inputs[array_api_input])
    message = (
        rf"does not support array-API inputs: {array_api_input} is an array of "
        rf"array_api_strict.* Convert {array_api_input} to a NumPy array"
    )
    with config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match=message):
            clone(fitted).fit(**inputs)
        if array_api_input == "X":
            methods = ["predict"]
            if isinstance(fitted, ScratchMLPClassifier):
                methods += ["predict_proba", "predict_log_proba"]
            for method in methods:
                with pytest.raises(ValueError, match=message):
                    getattr(fitted, method)(inputs["X"])
    assert get_config() == config  # scikit-learn's configuration restored


# -- options beyond scikit-learn's ----------------------------------------------
@pytest.mark.usefixtures("no_training")
def test_class_weight_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"labels \[7\] that are not among"):
        ScratchMLPClassifier(class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="multilabel targets class_weight can only"):
        ScratchMLPClassifier(class_weight={0: 2.0}).fit(X, np.c_[y == 0, y == 1])
    with pytest.raises(ValueError, match="'class_weight' parameter"):
        ScratchMLPClassifier(class_weight={0: -1.0}).fit(X, y)
    with pytest.raises(ValueError, match="'class_weight' parameter"):
        ScratchMLPClassifier(class_weight="auto").fit(X, y)
    with pytest.raises(ValueError, match="weight of zero"):
        ScratchMLPClassifier(class_weight={0: 0, 1: 0, 2: 0}).fit(X, y)


# (name, estimator parameters, fit kwargs, message); the estimator stops early
# unless the parameters say otherwise. Given for the classifier's labels and
# the regressor's targets alike (``VAL`` is replaced by the estimator's own).
VAL = object()
VALIDATION_SET_CASES = [
    ("X_val alone", {}, {"X_val": X}, "X_val is provided, but y_val was not"),
    ("y_val alone", {}, {"y_val": VAL}, "y_val is provided, but X_val was not"),
    (
        "sample_weight_val alone", {}, {"sample_weight_val": np.ones(30)},
        "sample_weight_val is provided, but X_val and y_val were not",
    ),
    (
        "without early stopping", {"early_stopping": False},
        {"X_val": X, "y_val": VAL}, "early_stopping is False",
    ),
    (
        "with lbfgs", {"solver": "lbfgs"}, {"X_val": X, "y_val": VAL},
        "solver='lbfgs' trains on all of X at once",
    ),
    (
        "too few features", {}, {"X_val": X[:, :2], "y_val": VAL},
        "Invalid validation set .*X has 2 features",
    ),
    (
        "nan in X_val", {}, {"X_val": with_value(X, (1, 1), np.nan), "y_val": VAL},
        "Invalid validation set .*Input X contains NaN",
    ),
    (
        "y_val shorter", {}, {"X_val": X, "y_val": VAL, "cut_y_val": 1},
        "Invalid validation set .*inconsistent numbers of samples",
    ),
    (
        "one row", {}, {"X_val": X[:1], "y_val": VAL, "cut_y_val": 29},
        "X_val has 1 row.*needs at least 2",
    ),
    (
        "negative sample_weight_val", {},
        {"X_val": X, "y_val": VAL, "sample_weight_val": with_value(np.ones(30), 0, -1)},
        "Invalid validation set .*sample_weight must be non-negative",
    ),
]  # fmt: skip


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("params", "fit_kwargs", "message"),
    [case[1:] for case in VALIDATION_SET_CASES],
    ids=[case[0] for case in VALIDATION_SET_CASES],
)
def test_bad_validation_set(estimator_class, params, fit_kwargs, message):
    y = target_for(estimator_class)
    kwargs = dict(fit_kwargs)
    cut = kwargs.pop("cut_y_val", 0)
    if kwargs.get("y_val") is VAL:
        kwargs["y_val"] = y[cut:]
    estimator = estimator_class(**{"early_stopping": True, **params})
    with pytest.raises(ValueError, match=message):
        estimator.fit(X, y, **kwargs)
    assert not hasattr(estimator, "coefs_")


@pytest.mark.usefixtures("no_training")
def test_bad_validation_targets():
    clf = ScratchMLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match=r"y_val has labels \[7\] that the training"):
        clf.fit(X, Y_CLASS, X_val=X, y_val=with_value(Y_CLASS, 0, 7, int))
    with pytest.raises(ValueError, match="y_val must be of the kind the training y"):
        clf.fit(X, Y_CLASS, X_val=X, y_val=np.c_[Y_CLASS == 0, Y_CLASS == 1])
    multilabel = np.c_[Y_CLASS == 0, Y_CLASS == 1].astype(int)
    with pytest.raises(ValueError, match=r"y_val has 3 label columns; .* has 2"):
        clf.fit(X, multilabel, X_val=X, y_val=np.c_[multilabel, Y_CLASS == 2])
    reg = ScratchMLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match=r"y_val gives 2 output\(s\) .* gives 1"):
        reg.fit(X, Y_REG, X_val=X, y_val=np.c_[Y_REG, Y_REG])
    with pytest.raises(ValueError, match="y_val has 1 negative value"):
        ScratchMLPRegressor(loss="poisson", early_stopping=True).fit(
            X, np.abs(Y_REG), X_val=X, y_val=with_value(np.abs(Y_REG), 3, -1.0)
        )
    assert not hasattr(clf, "coefs_") and not hasattr(reg, "coefs_")


@pytest.mark.usefixtures("no_training")
def test_dropout_that_does_not_fit_the_network_or_the_solver(iris):
    # dropout's bad values: BAD_PARAMETERS
    X, y = iris
    with pytest.raises(ValueError, match="2 rates for 1 hidden layer"):
        ScratchMLPClassifier((5,), dropout=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        ScratchMLPRegressor(solver="lbfgs", dropout=0.2).fit(X, y)


# (name, X, embedding_columns, message): columns that this X does not have,
# refused when fit reads them against X (embedding set)
FRAME = pd.DataFrame(X, columns=["x0", "x1", "x2"])
EMBEDDING_COLUMNS_CASES = [
    ("index beyond X", X, [0, 3], r"embedding_columns names columns \[3\] that X, of"),
    ("negative index", X, [-1, 1], r"embedding_columns names columns \[-1\]"),
    ("short mask", X, [True, False], r"embedding_columns is a mask of 2 .* X has 3"),
    ("long mask", X, np.ones(4, bool), r"embedding_columns is a mask of 4 columns"),
    ("names, no names", X, ["x0"], r"embedding_columns=\['x0'\] names .* no column"),
    ("pattern, no names", X, "^x", r"embedding_columns='\^x' names .* no column"),
    ("unknown name", FRAME, ["x0", "y9"], r"embedding_columns names columns \['y9'\]"),
]  # fmt: skip


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("embedding", ["periodic", "piecewise_linear"])
@pytest.mark.parametrize(
    ("X_given", "columns", "message"),
    [case[1:] for case in EMBEDDING_COLUMNS_CASES],
    ids=[case[0] for case in EMBEDDING_COLUMNS_CASES],
)
def test_embedding_columns_that_x_does_not_have(
    estimator_class, embedding, X_given, columns, message
):
    for method, solver in (("fit", "adam"), ("fit", "lbfgs"), ("partial_fit", "sgd")):
        estimator = estimator_class(
            solver=solver, embedding=embedding, embedding_columns=columns
        )
        classifies = estimator_class is ScratchMLPClassifier
        kwargs = (
            {"classes": [0, 1, 2]} if method == "partial_fit" and classifies else {}
        )
        with pytest.raises(ValueError, match=message):
            getattr(estimator, method)(X_given, target_for(estimator_class), **kwargs)
        assert not hasattr(estimator, "coefs_")


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
def test_members_need_a_hidden_layer(estimator_class):
    estimator = estimator_class(hidden_layer_sizes=(), n_members=2)
    with pytest.raises(ValueError, match=r"n_members=2 .* hidden_layer_sizes=\(\)"):
        estimator.fit(X, target_for(estimator_class))
    assert not hasattr(estimator, "coefs_")


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_normalize_y_is_refused_with_the_poisson_loss(method):
    reg = ScratchMLPRegressor(loss="poisson", normalize_y=True)
    with pytest.raises(ValueError, match=r"normalize_y=True .* loss='poisson'"):
        getattr(reg, method)(X, np.abs(Y_REG))
    assert not hasattr(reg, "coefs_")


# (fitted with, then asked for, the message): a continued fit goes on with
# the fitted network only where the parameters still describe it
CHANGED_CONTINUATIONS = [
    ({"embedding": "periodic"}, {"embedding": "piecewise_linear"},
     r"'periodic' of columns \[0, 1, 2\].*not embedding='piecewise_linear'"),
    ({"embedding": "periodic"}, {"embedding": None}, r"not embedding=None"),
    ({}, {"embedding": "piecewise_linear"}, r"whose embedding is None"),
    ({"embedding": "periodic", "embedding_columns": [0, 1]},
     {"embedding_columns": [1, 2]}, r"columns \[0, 1\].*embedding_columns=\[1, 2\]"),
    ({"embedding": "piecewise_linear", "embedding_size": 4}, {"embedding_size": 8},
     r"\(size 4\), not .*\(size 8\)"),
    ({"n_members": 3}, {"n_members": 2}, r"of 3 packed member\(s\), not n_members=2"),
    ({}, {"n_members": 2}, r"of 1 packed member\(s\), not n_members=2"),
    ({"n_members": 2}, {"n_members": 1}, r"of 2 packed member\(s\), not n_members=1"),
]  # fmt: skip


@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
@pytest.mark.parametrize(
    ("fitted_with", "asked", "message"),
    CHANGED_CONTINUATIONS,
    ids=[f"{a}->{b}" for a, b, _ in CHANGED_CONTINUATIONS],
)
def test_continuing_with_another_embedding_or_members_is_refused(
    monkeypatch, estimator_class, method, fitted_with, asked, message
):
    y = target_for(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(4,), max_iter=2, random_state=0, **fitted_with
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "partial_fit":
            extra = (
                {"classes": [0, 1, 2]}
                if estimator_class is ScratchMLPClassifier
                else {}
            )
            estimator.partial_fit(X, y, **extra)
        else:
            estimator.set_params(warm_start=True).fit(X, y)
    before = [a.copy() for a in estimator.coefs_ + estimator.intercepts_]
    estimator.set_params(**asked)
    trap_training(monkeypatch)
    with pytest.raises(ValueError, match=message) as error:
        if method == "partial_fit":
            estimator.partial_fit(X, y)
        else:
            estimator.fit(X, y)
    assert str(error.value).endswith("Refit from scratch instead.")
    for now, then in zip(estimator.coefs_ + estimator.intercepts_, before, strict=True):
        np.testing.assert_array_equal(now, then)


@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
@pytest.mark.parametrize("fitted_with", [True, False])
def test_continuing_with_normalize_y_switched_is_refused(
    monkeypatch, method, fitted_with
):
    reg = ScratchMLPRegressor(
        hidden_layer_sizes=(4,), normalize_y=fitted_with, max_iter=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "partial_fit":
            reg.partial_fit(X, Y_REG)
        else:
            reg.set_params(warm_start=True).fit(X, Y_REG)
    had_moments = hasattr(reg, "y_mean_")
    assert had_moments == fitted_with
    reg.set_params(normalize_y=not fitted_with)
    trap_training(monkeypatch)
    learnt = "standardised" if fitted_with else "as they are"
    with pytest.raises(ValueError, match=rf"learnt the targets {learnt}, not as"):
        reg.partial_fit(X, Y_REG) if method == "partial_fit" else reg.fit(X, Y_REG)
    assert hasattr(reg, "y_mean_") == had_moments


# -- scikit-learn's wording ----------------------------------------------------


def message_of(call) -> str | None:
    """The message of the error ``call()`` raises, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except (ValueError, TypeError, AttributeError) as error:
        return str(error)
    return None


def assert_begins_with_scikit_learns(estimator_class, ours, theirs) -> None:
    """Where scikit-learn raises too, our message begins with its message
    (which names its own class where ours names ours)."""
    if theirs is None:
        return  # scikit-learn accepts it; we may refuse it in our words
    expected = theirs.replace(
        SKLEARN_TWIN[estimator_class].__name__, estimator_class.__name__
    )
    assert ours is not None
    assert ours.startswith(expected), (ours, theirs)


@pytest.mark.parametrize("estimator_class", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("X_bad", "y_bad", "fit_kwargs"),
    [case[1:4] for case in FIT_CASES],
    ids=[case[0] for case in FIT_CASES],
)
def test_bad_data_messages_begin_with_scikit_learns(
    estimator_class, X_bad, y_bad, fit_kwargs
):
    y = target_for(estimator_class) if y_bad is None else y_bad
    messages = [
        message_of(lambda make=make: make(max_iter=2).fit(X_bad, y, **fit_kwargs))
        for make in (estimator_class, SKLEARN_TWIN[estimator_class])
    ]
    assert_begins_with_scikit_learns(estimator_class, *messages)


def _warm_start_with_other_classes(make):
    estimator = make(warm_start=True, max_iter=2).fit(X, Y_CLASS)
    estimator.fit(X, Y_CLASS % 2)


def _partial_fit_with_a_new_class(make):
    estimator = make().partial_fit(X, Y_CLASS, classes=[0, 1, 2])
    estimator.partial_fit(X, with_value(Y_CLASS, 0, 7, int))


def _partial_fit_with_other_classes(make):
    estimator = make().partial_fit(X, Y_CLASS, classes=[0, 1, 2])
    estimator.partial_fit(X, Y_CLASS % 2, classes=[0, 1])


def _diverging_sgd(make):
    make(solver="sgd", learning_rate_init=1e3, random_state=0).fit(
        X * 1e200, Y_REG * 1e200
    )


# Errors that scikit-learn's MLP raises too, beyond bad data.
SCENARIOS = {
    "warm start with other classes": (
        ScratchMLPClassifier,
        _warm_start_with_other_classes,
    ),
    "partial_fit with a new class": (
        ScratchMLPClassifier,
        _partial_fit_with_a_new_class,
    ),
    "partial_fit with other classes": (
        ScratchMLPClassifier,
        _partial_fit_with_other_classes,
    ),
    "first partial_fit without classes": (
        ScratchMLPClassifier,
        lambda make: make().partial_fit(X, Y_CLASS),
    ),
    "partial_fit with lbfgs": (
        ScratchMLPClassifier,
        lambda make: make(solver="lbfgs").partial_fit(X, Y_CLASS, classes=[0, 1, 2]),
    ),
    "partial_fit with early stopping": (
        ScratchMLPRegressor,
        lambda make: make(early_stopping=True).partial_fit(X, Y_REG),
    ),
    "validation set too small": (
        ScratchMLPRegressor,
        lambda make: make(early_stopping=True).fit(X[:10], Y_REG[:10]),
    ),
    "diverging weights": (ScratchMLPRegressor, _diverging_sgd),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_error_messages_begin_with_scikit_learns(scenario):
    estimator_class, run = SCENARIOS[scenario]
    ours = message_of(lambda: run(estimator_class))
    theirs = message_of(lambda: run(SKLEARN_TWIN[estimator_class]))
    assert theirs is not None  # the scenario is an error in scikit-learn too
    assert_begins_with_scikit_learns(estimator_class, ours, theirs)


def test_zero_dimensional_arrays_are_read_as_their_number():
    reg = ScratchMLPRegressor(
        hidden_layer_sizes=np.array(5), dropout=np.array(0.5), max_iter=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, Y_REG)
    assert [c.shape for c in reg.coefs_] == [(3, 5), (5, 1)]
    assert reg._dropout_rates(1) == (0.5,)
    layers = ScratchMLPRegressor(hidden_layer_sizes=np.array([4, 2]), max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers.fit(X, Y_REG)
    assert [c.shape for c in layers.coefs_] == [(3, 4), (4, 2), (2, 1)]
