"""ONNX export: sknn_scratch.onnx.register() lets skl2onnx convert our
estimators, onnxruntime then predicts what they predict, and what cannot be
exported is refused by name at conversion."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, _activations

skl2onnx = pytest.importorskip(
    "skl2onnx", reason='needs the onnx extra: pip install ".[onnx]"'
)
onnxruntime = pytest.importorskip(
    "onnxruntime", reason='needs the onnx extra: pip install ".[onnx]"'
)

import sknn_scratch.onnx  # noqa: E402

# onnxruntime's products and activations round differently from NumPy's
# (another summation order; its own tanh, sigmoid and exp), by a few units in
# the last place at the outputs' magnitude (up to 3 seen here). This many
# units are 1e-15 in float64 and 5.4e-7 in float32, where 1e-7 is less than
# one unit of any number in [1, 2): float32's epsilon is 1.19e-7. Networks
# with large weights amplify the differences of their hidden layers (180
# units were seen for tanh units fitted by lbfgs until the logits reached
# 80), so the tests fit moderate networks with adam.
ROUNDING_UNITS = 4.5

SKLEARN_ACTIVATIONS = [n for n, a in _activations.ACTIVATIONS.items() if a.in_sklearn]
OTHER_ACTIVATIONS = [
    n for n, a in _activations.ACTIVATIONS.items() if not a.in_sklearn
] or [pytest.param(None, marks=pytest.mark.skip(reason="none in the table yet"))]


def tolerance(dtype, values) -> float:
    scale = max(1.0, float(np.abs(values).max()))
    return ROUNDING_UNITS * float(np.finfo(dtype).eps) * scale


@pytest.fixture(scope="module", autouse=True)
def registered():
    sknn_scratch.onnx.register()


def targets(kind, X, y):
    """Labels that nocl must turn into indices: not 0, 1, ..."""
    return {
        "binary": np.array(["no", "yes"])[(y == 1).astype(int)],
        "multiclass": np.array([-3, 5, 9])[y],
        "multilabel": np.c_[y == 1, y == 2, y > 0],
        "two labels": np.c_[y == 1, y > 0],
        "one output": X[:, 0],
        "two outputs": X[:, :2],
    }[kind]


def fitted(kind, X, y, dtype, activation="relu"):
    estimator_class = ScratchMLPRegressor if "output" in kind else ScratchMLPClassifier
    estimator = estimator_class(
        hidden_layer_sizes=(8, 6),
        activation=activation,
        max_iter=200,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X.astype(dtype), targets(kind, X, y))


def run(model, X, options=None):
    onx = skl2onnx.to_onnx(model, X[:1], options=options)
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def decided(probabilities, multilabel, margin):
    """Entries whose predicted label lies farther than margin from a tie."""
    if multilabel or probabilities.shape[1] == 1:
        return np.abs(probabilities - 0.5) > margin
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0] > margin


def assert_classifier_matches(classifier, X, options):
    label, probabilities = run(classifier, X, options)
    expected = classifier.predict_proba(X)
    assert probabilities.dtype == X.dtype
    np.testing.assert_allclose(
        probabilities, expected, rtol=0, atol=tolerance(X.dtype, expected)
    )
    multilabel = expected.ndim == 2 and label.ndim == 2
    if options.get("nocl") and not multilabel:
        assert label.dtype == np.int64
        label = classifier.classes_[label]  # nocl: class indices
    predicted = classifier.predict(X)
    assert label.shape == predicted.shape
    sure = decided(expected, multilabel, 2 * tolerance(X.dtype, expected))
    assert sure.mean() > 0.9
    np.testing.assert_array_equal(label[sure], predicted[sure])


@pytest.mark.parametrize(
    "options", [{"zipmap": False}, {"zipmap": False, "nocl": True}]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "two labels"])
def test_onnxruntime_classifies_like_the_classifier(iris, kind, dtype, options):
    X, y = iris
    classifier = fitted(kind, X, y, dtype)
    assert_classifier_matches(classifier, X.astype(dtype), options)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["one output", "two outputs"])
def test_onnxruntime_predicts_like_the_regressor(iris, kind, dtype):
    X, y = iris
    regressor = fitted(kind, X, y, dtype)
    X = X.astype(dtype)
    (predicted,) = run(regressor, X)
    expected = regressor.predict(X)
    assert predicted.dtype == dtype
    assert predicted.shape == (len(X), regressor.n_outputs_)
    np.testing.assert_allclose(
        predicted.reshape(expected.shape),
        expected,
        rtol=0,
        atol=tolerance(dtype, expected),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", SKLEARN_ACTIVATIONS)
def test_every_sklearn_activation_exports(iris, activation, dtype):
    X, y = iris
    classifier = fitted("multiclass", X, y, dtype, activation)
    assert_classifier_matches(classifier, X.astype(dtype), {"zipmap": False})
    regressor = fitted("two outputs", X, y, dtype, activation)
    (predicted,) = run(regressor, X.astype(dtype))
    expected = regressor.predict(X.astype(dtype))
    np.testing.assert_allclose(
        predicted, expected, rtol=0, atol=tolerance(dtype, expected)
    )


@pytest.mark.parametrize("zipmap", [True, "columns"])
def test_zipmap_outputs_carry_the_probabilities(iris, zipmap):
    X, y = iris
    classifier = fitted("multiclass", X, y, np.float32)
    X = X.astype(np.float32)
    outputs = run(classifier, X, {"zipmap": zipmap})
    if zipmap is True:
        probabilities = np.array(
            [[row[c] for c in classifier.classes_] for row in outputs[1]]
        )
    else:
        probabilities = np.column_stack(outputs[1:])
    expected = classifier.predict_proba(X)
    np.testing.assert_allclose(
        probabilities, expected, rtol=0, atol=tolerance(np.float32, expected)
    )


def test_a_pipeline_exports(iris):
    X, y = iris
    pipeline = make_pipeline(
        StandardScaler(),
        ScratchMLPClassifier(hidden_layer_sizes=(8,), random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X * 10 + 3, np.array(["a", "b", "c"])[y])
    assert_classifier_matches(pipeline, X * 10 + 3, {"zipmap": False, "nocl": True})


def test_conversion_leaves_the_estimator_as_it_was(iris):
    X, y = iris
    classifier = fitted("multiclass", X, y, np.float64)
    classes = classifier.classes_
    attributes = dict(vars(classifier))
    run(classifier, X, {"zipmap": False, "nocl": True})
    assert classifier.classes_ is classes
    assert vars(classifier) == attributes


def assert_refused(estimator, X, options, *names):
    with pytest.raises(ValueError, match="cannot be exported to ONNX") as error:
        skl2onnx.to_onnx(estimator, X[:1], options=options)
    for name in names:
        assert name in str(error.value)


def test_poisson_is_refused_by_name(iris):
    X, _ = iris
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(4,), loss="poisson", solver="lbfgs", max_iter=20
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        regressor.fit(X, np.abs(X[:, 0]))
    assert_refused(regressor, X, None, "loss='poisson'", "'exp'")


@pytest.mark.parametrize("quantiles", [[0.1, 0.5, 0.9], [0.5]])
def test_a_sequence_of_quantiles_is_refused_by_name(iris, quantiles):
    # predict sorts the outputs and adds an axis for the quantiles, which the
    # converter does not write; a float quantile exports as any regressor
    X, _ = iris
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(4,), loss="quantile", max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        several = ScratchMLPRegressor(quantile=quantiles, **params).fit(X, X[:, 0])
        one = ScratchMLPRegressor(quantile=0.5, **params).fit(X, X[:, 0])
    assert_refused(several, X, None, f"quantile={quantiles}", "loss='quantile'")
    (predicted,) = run(one, X)
    expected = one.predict(X)
    np.testing.assert_allclose(
        predicted.ravel(), expected, rtol=0, atol=tolerance(np.float32, expected)
    )


# (estimator, options, what the refusal names): what the converters cannot
# write, each alone and all together
TABULAR_REFUSALS = [
    (ScratchMLPClassifier, {"embedding": "periodic"}, ["embedding='periodic'"]),
    (
        ScratchMLPRegressor,
        {"embedding": "piecewise_linear", "embedding_columns": [1]},
        ["embedding='piecewise_linear'"],
    ),
    (ScratchMLPClassifier, {"n_members": 3}, ["n_members=3"]),
    (ScratchMLPRegressor, {"n_members": 2}, ["n_members=2"]),
    (ScratchMLPRegressor, {"normalize_y": True}, ["normalize_y=True"]),
    (
        ScratchMLPRegressor,
        {"embedding": "periodic", "n_members": 4, "normalize_y": True},
        ["embedding='periodic'", "n_members=4", "normalize_y=True"],
    ),
]


@pytest.mark.parametrize(
    ("estimator_class", "options", "named"),
    TABULAR_REFUSALS,
    ids=[f"{c.__name__}-{o}" for c, o, _ in TABULAR_REFUSALS],
)
def test_embeddings_members_and_normalize_y_are_refused_by_name(
    iris, estimator_class, options, named
):
    X, y = iris
    X = X.astype(np.float32)
    target = y if estimator_class is ScratchMLPClassifier else 100 * X[:, 0]
    estimator = estimator_class(hidden_layer_sizes=(4,), max_iter=5, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, target)
    options_for = {"zipmap": False} if estimator_class is ScratchMLPClassifier else None
    assert_refused(estimator, X, options_for, *named)
    with pytest.raises(ValueError) as error:
        skl2onnx.to_onnx(estimator, X[:1], options=options_for)
    for setting in ("embedding=", "n_members=", "normalize_y="):  # those it has only
        assert (setting in str(error.value)) == any(setting in n for n in named)
    # the same network without them exports
    plain = estimator_class(hidden_layer_sizes=(4,), max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(X, target)
    run(plain, X, options_for)


def test_activation_outside_sklearn_is_refused_by_the_table(iris, monkeypatch):
    """The check reads ``in_sklearn`` from the table, not a list of names."""
    X, y = iris
    classifier = fitted("multiclass", X, y, np.float64, "tanh")
    entry = _activations.ACTIVATIONS["tanh"]
    monkeypatch.setitem(
        _activations.ACTIVATIONS, "tanh", entry._replace(in_sklearn=False)
    )
    assert_refused(classifier, X, {"zipmap": False}, "activation='tanh'")


@pytest.mark.parametrize("activation", OTHER_ACTIVATIONS)
def test_activations_outside_sklearn_are_refused(iris, activation):
    X, y = iris
    regressor = fitted("one output", X, y, np.float64, activation)
    assert_refused(regressor, X, None, f"activation={activation!r}")


def test_labels_beyond_int32_need_nocl(iris):
    X, y = iris
    classifier = ScratchMLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, np.array([7, 2**40, -3])[y])
    assert_refused(classifier, X, {"zipmap": False}, "int32", "nocl")
    assert_classifier_matches(classifier, X, {"zipmap": False, "nocl": True})


def test_zipmap_with_a_double_input_is_refused(iris):
    X, y = iris
    classifier = fitted("binary", X, y, np.float64)
    assert_refused(classifier, X, None, "zipmap=True")
    assert_refused(classifier, X, {"zipmap": True}, "zipmap=True")


def test_register_needs_skl2onnx_and_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r"pip install .*\[onnx\]"):
        sknn_scratch.onnx.register()


REGISTER_IN_A_FRESH_PROCESS = """
import logging, os, sys, warnings
import numpy as np
import sknn_scratch
import sknn_scratch.onnx

assert not any(m.split(".")[0] in {"skl2onnx", "onnx", "onnxruntime"}
               for m in sys.modules), "importing sknn_scratch imported onnx"

def process_state():
    return (list(warnings.filters), np.geterr(), np.get_printoptions(),
            np.random.get_state()[1].tolist(), dict(os.environ),
            logging.getLogger().level, list(logging.getLogger().handlers))

before = process_state()
import skl2onnx
from skl2onnx import _parse, _supported_operators
from skl2onnx.common import _registration

def unwrapped(entry):  # a converter is registered in a new wrapper each time
    return (getattr(entry, "_fct", entry), getattr(entry, "_options", None))

def registry():
    return [{key: unwrapped(entry) for key, entry in pool.items()} for pool in (
        _supported_operators.sklearn_operator_name_map,
        _registration._converter_pool,
        _registration._shape_calculator_pool,
        _parse.sklearn_parsers_map,
    )]

empty = registry()
sknn_scratch.onnx.register()
assert process_state() == before, "register() changed process-wide state"
once = registry()
sknn_scratch.onnx.register()
assert registry() == once, "a second register() changed the registry"
ours = {sknn_scratch.ScratchMLPClassifier, sknn_scratch.ScratchMLPRegressor,
        sknn_scratch.onnx.CLASSIFIER_ALIAS, sknn_scratch.onnx.REGRESSOR_ALIAS}
for old, new in zip(empty, once):
    assert set(new) - set(old) <= ours
    assert {k: v for k, v in new.items() if k not in ours} == old

import onnx
assert onnx is not sknn_scratch.onnx and hasattr(onnx, "ModelProto")
print("ok")
"""


@pytest.mark.slow
def test_register_changes_only_the_registry_and_only_once(tmp_path):
    """In a fresh interpreter: importing sknn_scratch imports no ONNX package,
    register() changes nothing but skl2onnx's registry, adds only our two
    classes to it, and a second call changes nothing."""
    result = subprocess.run(
        [sys.executable, "-c", REGISTER_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository's root: import the installed package
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
