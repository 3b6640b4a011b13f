"""SmoothClipScaler: robust scaling with a smooth clip, on its own.

What it computes (the median, the spread and its fallbacks, the clip), checked
on columns whose statistics are known by construction; what it does with
missing values, extreme values, float32 and sparse input; that
``inverse_transform`` undoes it; that it refuses bad parameters and leaves a
failed call without effect; that its column names and pandas output follow
scikit-learn's; and scikit-learn's own estimator checks. (Saving and loading:
test_persistence.py.)
"""

import math
import warnings
from unittest import SkipTest

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import make_column_transformer
from sklearn.preprocessing import OneHotEncoder, RobustScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn_scratch import SmoothClipScaler

# settings that together cover each parameter away from its default
CONFIGURATIONS = [
    {},
    {"max_abs": None},
    {"max_abs": 1.0, "quantile_range": (10.0, 90.0)},
    {"quantile_range": (0.0, 100.0)},
]


@parametrize_with_checks([SmoothClipScaler(**settings) for settings in CONFIGURATIONS])
def test_sklearn_compatible_transformer(estimator, check):
    try:
        check(estimator)
    except SkipTest as skip:
        pytest.fail(f"the check was skipped: {skip}")


def smooth_clip(z, bound):
    """The clip's textbook form, z / sqrt(1 + (z / c)²)."""
    return z / np.sqrt(1 + (z / bound) ** 2)


def one_to_101() -> np.ndarray:
    """A column 0, 1, ..., 100: median 50, quartiles 25 and 75, range 100."""
    return np.arange(101.0).reshape(-1, 1)


def test_median_and_interquartile_range_of_a_known_column():
    scaler = SmoothClipScaler().fit(one_to_101())
    assert scaler.center_ == pytest.approx([50.0])
    assert scaler.scale_ == pytest.approx([50.0])


def test_quantile_range_sets_the_spread():
    scaler = SmoothClipScaler(quantile_range=(10.0, 90.0)).fit(one_to_101())
    assert scaler.scale_ == pytest.approx([80.0])
    scaler = SmoothClipScaler(quantile_range=(0.0, 100.0)).fit(one_to_101())
    assert scaler.scale_ == pytest.approx([100.0])


def test_transform_is_the_clip_of_the_scaled_values():
    scaler = SmoothClipScaler().fit(one_to_101())
    # 150 is two spreads above the median: f(2) = 2 / sqrt(1 + 4/9) = 6 / sqrt(13)
    values = np.array([[50.0], [150.0], [-50.0], [75.0]])
    expected = [0.0, 6 / math.sqrt(13), -6 / math.sqrt(13), 0.5 / math.sqrt(1 + 1 / 36)]
    np.testing.assert_allclose(scaler.transform(values).ravel(), expected, rtol=1e-14)


@pytest.mark.parametrize("max_abs", [0.5, 1.0, 3.0, 10.0])
def test_transform_matches_the_textbook_formula(max_abs):
    rng = np.random.RandomState(0)
    X = rng.standard_cauchy(size=(200, 3)) * [1.0, 10.0, 1e-3] + [0.0, 5.0, -2.0]
    scaler = SmoothClipScaler(max_abs=max_abs).fit(X)
    z = (X - np.median(X, axis=0)) / np.subtract(*np.percentile(X, [75, 25], axis=0))
    np.testing.assert_allclose(
        scaler.transform(X), smooth_clip(z, max_abs), rtol=1e-12, atol=1e-15
    )


def test_linear_near_the_median():
    scaler = SmoothClipScaler().fit(one_to_101())
    # f(z) = z - z³/(2c²) + ...: at z = 1e-4 the relative difference is 6e-10
    np.testing.assert_allclose(scaler.transform([[50.005]]), [[1e-4]], rtol=1e-8)


# bounds for which (x - m) / hypot(s, (x - m) / c), in that order, rounds above c
@pytest.mark.parametrize("max_abs", [0.7, 3.0, 10 / 3, 7.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_outputs_stay_within_the_bound_and_keep_the_order(max_abs, dtype):
    rng = np.random.RandomState(1)
    magnitude = np.finfo(dtype).max ** 0.5
    bulk = rng.normal(size=(50, 2))
    far = rng.choice([-1, 1], size=(2000, 2)) * magnitude ** rng.uniform(size=(2000, 2))
    # a tiny spread makes ordinary values extreme in spreads
    X = (np.vstack([bulk, far]) * [1.0, 1.0 / magnitude]).astype(dtype)
    scaler = SmoothClipScaler(max_abs=max_abs).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Xt = scaler.transform(X)
        scaler.inverse_transform(Xt)  # every output is a value it takes back
    assert np.all(np.isfinite(Xt))
    assert np.all(np.abs(Xt) <= dtype(max_abs))
    assert np.all(np.abs(Xt[:50]) < max_abs)
    # increasing, up to the rounding of the outputs near the bound
    rounding = np.spacing(dtype(max_abs))
    for column in range(2):
        order = np.argsort(X[:, column], kind="stable")
        assert np.all(np.diff(Xt[order, column]) >= -rounding)


def test_no_clip_is_scikit_learns_robust_scaling():
    rng = np.random.RandomState(2)
    X = rng.lognormal(size=(100, 4))
    X[rng.rand(*X.shape) < 0.1] = np.nan
    ours = SmoothClipScaler(max_abs=None).fit_transform(X)
    theirs = RobustScaler().fit_transform(X)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)


def test_zero_quantile_range_falls_back_to_half_the_range():
    # mostly 0 with a few 1s and one 4: quartiles 0 and 0, range 4
    column = np.array([0.0] * 20 + [1.0, 1.0, 4.0]).reshape(-1, 1)
    scaler = SmoothClipScaler().fit(column)
    assert scaler.center_ == pytest.approx([0.0])
    assert scaler.scale_ == pytest.approx([2.0])
    expected = smooth_clip(np.array([0.0, 0.5, 2.0]), 3.0)
    np.testing.assert_allclose(
        scaler.transform([[0.0], [1.0], [4.0]]).ravel(), expected
    )


def test_constant_column_has_spread_one():
    X = np.c_[np.full(10, 7.0), np.arange(10.0)]
    scaler = SmoothClipScaler().fit(X)
    assert scaler.center_[0] == 7.0 and scaler.scale_[0] == 1.0
    np.testing.assert_array_equal(scaler.transform(X)[:, 0], 0.0)
    np.testing.assert_allclose(
        scaler.transform([[9.0, 0.0]])[0, 0], smooth_clip(2.0, 3.0), rtol=1e-14
    )


def test_missing_values_are_ignored_in_fit():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(60, 3))
    X_missing = X.copy()
    X_missing[::4, 0] = np.nan
    X_missing[1::5, 2] = np.nan
    scaler = SmoothClipScaler().fit(X_missing)
    for column in range(3):
        present = X_missing[:, column]
        present = present[~np.isnan(present)].reshape(-1, 1)
        alone = SmoothClipScaler().fit(present)
        assert scaler.center_[column] == alone.center_[0]
        assert scaler.scale_[column] == alone.scale_[0]


def test_missing_values_pass_through_transform_and_inverse():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(40, 2))
    X[[3, 7], 0] = np.nan
    scaler = SmoothClipScaler().fit(X)
    Xt = scaler.transform(X)
    np.testing.assert_array_equal(np.isnan(Xt), np.isnan(X))
    complete = ~np.isnan(X).any(axis=1)
    np.testing.assert_array_equal(Xt[complete], scaler.transform(X[complete]))
    np.testing.assert_array_equal(np.isnan(scaler.inverse_transform(Xt)), np.isnan(X))


def test_all_missing_column_gets_center_zero_and_spread_one_without_warning():
    X = np.c_[np.full(5, np.nan), np.arange(5.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = SmoothClipScaler().fit(X)
    assert scaler.center_[0] == 0.0 and scaler.scale_[0] == 1.0
    assert np.all(np.isnan(scaler.transform(X)[:, 0]))


@pytest.mark.parametrize("settings", CONFIGURATIONS)
def test_inverse_transform_undoes_transform(settings):
    rng = np.random.RandomState(5)
    X = rng.normal(loc=3.0, scale=[1.0, 100.0, 1e-3], size=(100, 3))
    scaler = SmoothClipScaler(**settings).fit(X)
    # up to 20 spreads from the median, where the clip's slope is still 1e-3
    np.testing.assert_allclose(
        scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-9
    )


def test_inverse_of_the_bound_is_infinite_and_beyond_it_an_error():
    scaler = SmoothClipScaler(max_abs=2.0).fit(one_to_101())
    np.testing.assert_array_equal(
        scaler.inverse_transform([[2.0], [-2.0]]).ravel(), [np.inf, -np.inf]
    )
    with pytest.raises(ValueError, match=r"\[-2\.0, 2\.0\].*2\.5"):
        scaler.inverse_transform([[0.0], [2.5]])


def test_float32_stays_float32_and_other_dtypes_become_float64():
    X = np.arange(20.0).reshape(10, 2)
    scaler = SmoothClipScaler().fit(X.astype(np.float32))
    assert scaler.transform(X.astype(np.float32)).dtype == np.float32
    assert scaler.inverse_transform(X.astype(np.float32)[:, :] / 100).dtype == (
        np.float32
    )
    for dtype in (np.int64, np.float16):
        assert scaler.transform(X.astype(dtype)).dtype == np.float64
    np.testing.assert_allclose(
        scaler.transform(X.astype(np.float32)), scaler.transform(X), rtol=1e-6
    )


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
def test_sparse_input_is_refused_with_the_reason(sparse_format):
    X = sp.random(20, 3, density=0.5, format=sparse_format, random_state=0)
    kept = X.copy()
    with pytest.raises(ValueError, match=r"sparse matrix dense.*toarray"):
        SmoothClipScaler().fit(X)
    fitted = SmoothClipScaler().fit(X.toarray())
    for method in (fitted.transform, fitted.inverse_transform):
        with pytest.raises(ValueError, match="sparse matrix dense"):
            method(X)
    assert (X != kept).nnz == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("quantile_range", (75.0, 25.0)),
        ("quantile_range", (50.0, 50.0)),
        ("quantile_range", (-1.0, 50.0)),
        ("quantile_range", (0.0, 101.0)),
        ("quantile_range", (25.0,)),
        ("quantile_range", "iqr"),
        ("max_abs", 0.0),
        ("max_abs", -1.0),
        ("max_abs", float("nan")),
        ("max_abs", "3"),
    ],
)
def test_bad_parameters_are_refused_in_fit_naming_them(name, value):
    scaler = SmoothClipScaler(**{name: value})  # __init__ accepts anything
    with pytest.raises(ValueError, match=f"'{name}' parameter of SmoothClipScaler"):
        scaler.fit(one_to_101())


def test_a_failed_fit_leaves_the_fitted_scaler_as_it_was():
    scaler = SmoothClipScaler().fit(one_to_101())
    center, scale = scaler.center_.copy(), scaler.scale_.copy()
    with pytest.raises(ValueError):
        scaler.fit(sp.csr_matrix(np.ones((5, 1))))
    with pytest.raises(ValueError):
        scaler.set_params(max_abs=-1.0).fit(np.ones((5, 1)))
    np.testing.assert_array_equal(scaler.center_, center)
    np.testing.assert_array_equal(scaler.scale_, scale)


def test_input_is_not_modified():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 40.0], "b": [0, 1, 2, 3]})
    array = frame.to_numpy()
    frame_kept, array_kept = frame.copy(), array.copy()
    scaler = SmoothClipScaler().fit(frame)
    scaler.transform(frame)
    scaler.fit(array)
    scaler.inverse_transform(scaler.transform(array))
    pd.testing.assert_frame_equal(frame, frame_kept)
    np.testing.assert_array_equal(array, array_kept)


def test_feature_names_and_pandas_output():
    frame = pd.DataFrame(
        {"income": [20.0, 30.0, 40.0, 1e6], "age": [30, 40, 50, 60]},
        index=[10, 11, 12, 13],
    )
    scaler = SmoothClipScaler().set_output(transform="pandas").fit(frame)
    np.testing.assert_array_equal(scaler.get_feature_names_out(), ["income", "age"])
    out = scaler.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["income", "age"]
    assert list(out.index) == [10, 11, 12, 13]
    array_scaler = SmoothClipScaler().fit(frame.to_numpy())
    np.testing.assert_array_equal(array_scaler.get_feature_names_out(), ["x0", "x1"])


def test_numeric_step_of_a_column_transformer():
    frame = pd.DataFrame(
        {
            "income": [20.0, 30.0, np.nan, 1e6, 35.0],
            "city": ["a", "b", "a", "c", "b"],
        }
    )
    columns = make_column_transformer(
        (SmoothClipScaler(), ["income"]),
        (OneHotEncoder(sparse_output=False), ["city"]),
    ).set_output(transform="pandas")
    out = columns.fit_transform(frame)
    assert list(out.columns) == [
        "smoothclipscaler__income",
        "onehotencoder__city_a",
        "onehotencoder__city_b",
        "onehotencoder__city_c",
    ]
    income = out["smoothclipscaler__income"].to_numpy()
    assert np.isnan(income[2])
    assert np.nanmax(np.abs(income)) < 3.0
