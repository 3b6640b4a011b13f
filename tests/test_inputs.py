"""What the estimators accept: dtypes, sparse matrices, DataFrames, lists, labels
of any type, target shapes (multilabel, several outputs, sparse), a single row,
with and without embeddings and packed members; and that no input is ever
modified. (What they refuse: test_bad_input.py.)"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import weights_of
from sklearn.datasets import make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]

SOLVERS = ["adam", "sgd", "lbfgs"]


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_trains_and_predicts_in_float32(iris, solver):
    X, y = iris
    X32 = X.astype(np.float32)
    clf = ScratchMLPClassifier(solver=solver, max_iter=20, random_state=0).fit(X32, y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_log_proba(X32).dtype == np.float32
    reg = ScratchMLPRegressor(solver=solver, max_iter=20, random_state=0)
    reg.fit(X32, y.astype(np.float32))
    assert all(c.dtype == np.float32 for c in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X32).dtype == np.float32
    # float32 and float64 training agree to float32 precision
    clf64 = ScratchMLPClassifier(solver=solver, max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.coefs_[0], clf64.coefs_[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.int8, bool])
def test_other_dtypes_train_in_float64(iris, dtype):
    X, y = iris
    Xd = (X > 0).astype(dtype) if dtype is bool else (X * 3).astype(dtype)
    clf = ScratchMLPClassifier(max_iter=5, random_state=0).fit(Xd, y)
    assert clf.coefs_[0].dtype == np.float64
    assert clf.predict_proba(Xd).dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_equals_dense(iris, solver, container):
    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # make it genuinely sparse
    params = dict(solver=solver, max_iter=15, random_state=0)
    dense = ScratchMLPClassifier(**params).fit(X, y)
    sparse = ScratchMLPClassifier(**params).fit(container(X), y)
    for a, b in zip(dense.coefs_, sparse.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        dense.predict_proba(X), sparse.predict_proba(container(X)), atol=1e-9
    )
    reg_dense = ScratchMLPRegressor(**params).fit(X, y.astype(float))
    reg_sparse = ScratchMLPRegressor(**params).fit(container(X), y.astype(float))
    np.testing.assert_allclose(
        reg_dense.predict(X), reg_sparse.predict(container(X)), rtol=1e-6, atol=1e-8
    )


# Numerical embeddings read the embedded columns of each batch dense, and the
# members each row's copies: sparse rows give what dense rows give.
TABULAR = {
    "periodic": {"embedding": "periodic", "embedding_size": 4},
    "piecewise_linear, members": {
        "embedding": "piecewise_linear",
        "embedding_columns": [0, 3],
        "n_members": 3,
    },
    "members": {"n_members": 2},
}


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("options", TABULAR)
def test_sparse_input_equals_dense_with_embeddings_and_members(
    iris, options, container
):
    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    params = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)
    for estimator_class, target in (
        (ScratchMLPClassifier, y),
        (ScratchMLPRegressor, 10 * X[:, 0] ** 2),
    ):
        make = estimator_class(**params, **TABULAR[options]).fit
        dense, sparse = make(X, target), make(container(X), target)
        arrays = [
            (a, b)
            for name in ("coefs_", "intercepts_")
            for a, b in zip(getattr(dense, name), getattr(sparse, name), strict=True)
        ]
        for name in ("member_scales_", "embedding_params_"):
            if getattr(dense, name, None) is not None:
                arrays.append((getattr(dense, name), getattr(sparse, name)))
        for a, b in arrays:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
        if "embedding" in TABULAR[options]:
            for a, b in zip(
                dense.embedding_.constants, sparse.embedding_.constants, strict=True
            ):
                assert (a is None and b is None) or np.array_equal(a, b)
        method = (
            "predict" if estimator_class is ScratchMLPRegressor else "predict_proba"
        )
        np.testing.assert_allclose(
            getattr(dense, method)(X),
            getattr(sparse, method)(container(X)),
            rtol=1e-6,
            atol=1e-9,
        )


@pytest.mark.parametrize("options", TABULAR)
def test_float32_trains_embeddings_and_members_in_float32(iris, options):
    X, y = iris
    X32 = X.astype(np.float32)
    clf = ScratchMLPClassifier(max_iter=10, random_state=0, **TABULAR[options])
    clf.fit(X32, y)
    arrays = clf.coefs_ + clf.intercepts_
    for name in ("member_scales_", "embedding_params_"):
        if getattr(clf, name, None) is not None:
            arrays.append(getattr(clf, name))
    assert all(a.dtype == np.float32 for a in arrays)
    assert clf.predict_proba(X32).dtype == np.float32
    reg = ScratchMLPRegressor(
        max_iter=10, normalize_y=True, random_state=0, **TABULAR[options]
    )
    reg.fit(X32, 1e3 * y.astype(np.float32))
    assert reg.predict(X32).dtype == np.float32


def test_lists_and_dataframes(iris):
    X, y = iris
    columns = ["sepal length", "sepal width", "petal length", "petal width"]
    frame = pd.DataFrame(X, columns=columns)
    labels = pd.Series(np.array(["setosa", "versicolor", "virginica"])[y])
    from_frame = ScratchMLPClassifier(max_iter=10, random_state=0).fit(frame, labels)
    from_list = ScratchMLPClassifier(max_iter=10, random_state=0)
    from_list.fit(X.tolist(), labels.tolist())
    assert list(from_frame.feature_names_in_) == columns
    assert not hasattr(from_list, "feature_names_in_")
    assert from_frame.n_features_in_ == from_list.n_features_in_ == 4
    np.testing.assert_array_equal(
        from_frame.predict(frame), from_list.predict(X.tolist())
    )
    assert set(from_frame.predict(frame)) <= set(labels)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["no", "yes"]),
        np.array([-1, 1]),
        np.array([1.0, 3.0, 7.0]),
        np.array(["cat", "dog", "emu"], dtype=object),
        np.array([True, False]),
    ],
    ids=["str", "signed", "float", "object", "bool"],
)
def test_labels_of_any_type(iris, labels):
    X, y = iris
    target = labels[y % len(labels)]
    clf = ScratchMLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0)
    clf.fit(X, target)
    np.testing.assert_array_equal(clf.classes_, np.unique(target))
    predicted = clf.predict(X)
    assert set(predicted) <= set(target)
    assert clf.score(X, target) > 0.6
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-9)
    # the most probable class is the predicted one
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)


@pytest.mark.parametrize("solver", SOLVERS)
def test_multilabel(solver):
    X, Y = make_multilabel_classification(300, 8, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = ScratchMLPClassifier(
        (20,), solver=solver, learning_rate_init=0.01, max_iter=300, random_state=0
    )
    clf.fit(X, Y)
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 4
    predicted = clf.predict(X)
    assert predicted.shape == Y.shape
    assert set(np.unique(predicted)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert (predicted == Y).mean() > 0.8  # per-label accuracy


@pytest.mark.parametrize("solver", SOLVERS)
def test_multi_output_regression(solver):
    X, Y = make_regression(300, 6, n_targets=3, noise=0.1, random_state=0)
    Y = Y / Y.std(axis=0)
    params = dict(hidden_layer_sizes=(20,), solver=solver, max_iter=500, random_state=0)
    reg = ScratchMLPRegressor(**params, learning_rate_init=0.01)
    reg.fit(X, Y)
    assert reg.predict(X).shape == Y.shape
    assert reg.n_outputs_ == 3
    assert reg.score(X, Y) > 0.9
    one = ScratchMLPRegressor(**params).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,)
    column = ScratchMLPRegressor(**params)
    with pytest.warns(Warning, match="column-vector y"):
        column.fit(X, Y[:, :1])
    assert column.predict(X).shape == (300,)


def test_poisson_regression_learns_a_log_linear_rate():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 3))
    rate = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2)
    counts = rng.poisson(rate)
    reg = ScratchMLPRegressor(loss="poisson", hidden_layer_sizes=(), solver="lbfgs")
    reg.fit(X, counts)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    np.testing.assert_allclose(reg.coefs_[0].ravel(), [0.5, -0.3, 0.0], atol=0.08)
    np.testing.assert_allclose(reg.intercepts_[0], [0.2], atol=0.08)


def test_sparse_targets_for_the_regressor(iris):
    X, _ = iris
    Y = np.c_[X[:, 0], np.zeros(150)]
    dense = ScratchMLPRegressor(max_iter=5, random_state=0).fit(X, Y)
    sparse = ScratchMLPRegressor(max_iter=5, random_state=0).fit(X, sp.csr_matrix(Y))
    for a, b in zip(weights_of(dense), weights_of(sparse), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_single_row(solver):
    X = np.array([[1.0, -2.0, 3.0]])
    reg = ScratchMLPRegressor(solver=solver, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, [0.5])
    assert np.isfinite(reg.predict(X)).all()
    with pytest.raises(ValueError, match="at least 2 classes"):
        ScratchMLPClassifier(solver=solver).fit(X, [1])


def input_variants(X):
    yield "C float64", np.ascontiguousarray(X)
    yield "F float64", np.asfortranarray(X)
    yield "float32", X.astype(np.float32)
    yield "int", (X * 10).astype(np.int64)
    yield "strided view", np.repeat(X, 2, axis=0)[::2]
    yield "CSR", sp.csr_matrix(X)
    yield "CSC", sp.csc_matrix(X)
    yield "DataFrame", pd.DataFrame(X, columns=list("abcd"))
    readonly = X.copy()
    readonly.setflags(write=False)
    yield "read-only", readonly


def snapshot(value):
    if sp.issparse(value):
        return value.copy()
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=True)
    return np.array(value, copy=True)


def assert_unchanged(before, after):
    if sp.issparse(before):
        assert (before != after).nnz == 0
        assert before.format == after.format
    elif isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    else:
        np.testing.assert_array_equal(before, after)
        assert before.dtype == after.dtype


@pytest.mark.parametrize("solver", SOLVERS)
def test_inputs_are_never_modified(iris, solver):
    """Neither fit, partial_fit nor the predictions change X, y or the sample
    weights, whatever their layout and dtype."""
    X, y = iris
    for _, X_variant in input_variants(X):
        for estimator, target_values in [
            (ScratchMLPClassifier(solver=solver, max_iter=3, random_state=0), y),
            (ScratchMLPRegressor(solver=solver, max_iter=3, random_state=0), X[:, 0]),
        ]:
            for y_variant, weights_dtype in [
                (target_values, np.float64),
                (target_values.astype(np.float32), np.float32),
            ]:
                weights = np.linspace(0.5, 2.0, len(y)).astype(weights_dtype)
                kept = [snapshot(v) for v in (X_variant, y_variant, weights)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    estimator.fit(X_variant, y_variant, sample_weight=weights)
                    if solver != "lbfgs":
                        estimator.partial_fit(
                            X_variant, y_variant, sample_weight=weights
                        )
                estimator.predict(X_variant)
                if isinstance(estimator, ScratchMLPClassifier):
                    estimator.predict_proba(X_variant)
                for original, now in zip(
                    kept, (X_variant, y_variant, weights), strict=True
                ):
                    assert_unchanged(original, now)


def test_inputs_are_never_modified_by_embeddings_members_or_normalize_y(iris):
    X, y = iris
    for _, X_variant in input_variants(X):
        for estimator, target_values in [
            (
                ScratchMLPClassifier(
                    n_members=2, embedding="periodic", embedding_size=3, max_iter=3,
                    random_state=0,
                ),
                y,
            ),
            (
                ScratchMLPRegressor(
                    n_members=2, embedding="piecewise_linear", normalize_y=True,
                    max_iter=3, random_state=0,
                ),
                100 * X[:, 0] + 3,
            ),
        ]:  # fmt: skip
            weights = np.linspace(0.5, 2.0, len(y))
            kept = [snapshot(v) for v in (X_variant, target_values, weights)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(X_variant, target_values, sample_weight=weights)
                estimator.partial_fit(X_variant, target_values, sample_weight=weights)
            estimator.predict(X_variant)
            for original, now in zip(
                kept, (X_variant, target_values, weights), strict=True
            ):
                assert_unchanged(original, now)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 1, 2, 1, 3, 2, 2]),
        np.array([-1, 1, 1, -1, 1, -1, -1]),
        np.array(["b", "a", "c", "a", "b", "c", "c"]),
        np.array(["b", "a", "c", "a", "b", "c", "c"], dtype="U10"),
        np.array(["yes", "no", "no", "yes", "no", "yes", "no"], dtype=object),
        np.array([2.0, 1.0, 2.0, 1.0, 1.0, 7.0, 2.0]),
        np.array([True, False, False, True, True, False, True]),
    ],
    ids=["multiclass", "binary", "strings", "padded", "objects", "floats", "booleans"],
)
def test_labels_are_encoded_as_the_label_binarizer_encodes_them(labels):
    from sklearn.preprocessing import LabelBinarizer

    X = np.arange(2 * len(labels), dtype=float).reshape(len(labels), 2)
    clf = ScratchMLPClassifier()
    _, T, _, _ = clf._validate_input(X, labels, incremental=False, reset=True)
    fitted = LabelBinarizer().fit(labels)
    np.testing.assert_array_equal(T, fitted.transform(labels))
    # the binarizer the predictions decode with is the one fit() would make
    ours = clf._label_binarizer
    assert (ours.y_type_, ours.sparse_input_) == (fitted.y_type_, fitted.sparse_input_)
    np.testing.assert_array_equal(ours.classes_, fitted.classes_)
    assert ours.classes_.dtype == fitted.classes_.dtype
    # partial_fit's classes may name labels that this batch lacks
    classes = np.unique(np.append(labels, labels[:1]))
    clf = ScratchMLPClassifier()
    _, T, _, _ = clf._validate_input(X[:3], labels[:3], True, True, classes=classes)
    expected = LabelBinarizer().fit(classes).transform(labels[:3])
    np.testing.assert_array_equal(T, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predictions_do_not_depend_on_the_memory_layout(dtype):
    # C order, Fortran order, a strided slice and a DataFrame of the same
    # values give the same predictions, bit for bit (the compiled engine
    # copies rows of other layouts into C order, block by block)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 7)).astype(dtype)
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(15, 9), max_iter=30, random_state=0
    )
    regressor.fit(X, X[:, :2] @ [[1.0, 0.5], [-2.0, 1.0]])
    classifier = ScratchMLPClassifier((15, 9), max_iter=30, random_state=0)
    classifier.fit(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5))
    wider = np.zeros((2 * X.shape[0], 3 * X.shape[1]), dtype)
    wider[::2, ::3] = X
    layouts = {
        "Fortran": np.asfortranarray(X),
        "strided": wider[::2, ::3],
        "reversed twice": X[::-1][::-1],
        "DataFrame": pd.DataFrame(X),
    }
    for method in (regressor.predict, classifier.predict_proba):
        expected = method(X)
        for name, layout in layouts.items():
            np.testing.assert_array_equal(method(layout), expected, err_msg=name)
