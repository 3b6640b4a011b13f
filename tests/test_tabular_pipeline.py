"""make_tabular_pipeline: the recipe's pipeline reads real tables as they come.

A table of every column kind, missing values of every kind, rare and unseen
categories, an all-numeric array and an all-categorical table; the input never
modified; overrides by the steps' names; scikit-learn's tools (clone,
get_params, a grid search); saving and loading; and a validation set and
weights that reach the network under metadata routing.
"""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sknn_scratch import (
    ScratchMLPClassifier,
    ScratchMLPRegressor,
    make_tabular_pipeline,
)
from sknn_scratch._estimators import _tabular

pd = pytest.importorskip("pandas")
try:
    import skops.io as skops_io
except ImportError:  # the test extra brings it; the rest runs without
    skops_io = None

# Small settings for the tests that are not about the recipe's values.
SMALL = {
    "mlp__hidden_layer_sizes": (8,),
    "mlp__max_iter": 4,
    "mlp__n_members": 2,
    "mlp__embedding_size": 4,
}
N_ROWS = 120


def mixed_table(n_rows: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """A column of each kind the recipe reads, each with missing values."""
    rng = np.random.default_rng(seed)
    size = rng.normal(size=n_rows)
    size[::7] = np.nan
    count = pd.array(rng.integers(0, 5, n_rows), dtype="Int64")
    count[::11] = pd.NA
    colour = rng.choice(["red", "green", "blue"], n_rows).astype(object)
    colour[::5] = None
    shape = pd.Categorical(rng.choice(["round", "square"], n_rows))
    shape[::9] = np.nan
    label = pd.array(rng.choice(["a", "b"], n_rows), dtype="string")
    label[::13] = pd.NA
    return pd.DataFrame(
        {
            "size": size,
            "count": count,
            "flag": rng.random(n_rows) < 0.5,
            "colour": colour,
            "shape": shape,
            "label": label,
        }
    )


def labels_of(table: pd.DataFrame) -> np.ndarray:
    return np.where(table["size"].fillna(0) + table["flag"] > 0.5, "yes", "no")


def fitted(task: str = "classification", table=None, target=None, **overrides):
    table = mixed_table() if table is None else table
    if target is None:
        target = (
            labels_of(table) if task == "classification" else table["size"].fillna(0)
        )
    pipeline = make_tabular_pipeline(task, random_state=0, **{**SMALL, **overrides})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipeline.fit(table, target)


# -- what it is ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "task, network",
    [("classification", ScratchMLPClassifier), ("regression", ScratchMLPRegressor)],
)
def test_an_unfitted_pipeline_of_the_documented_steps(task, network):
    pipeline = make_tabular_pipeline(task)
    assert isinstance(pipeline, Pipeline)
    assert [name for name, _ in pipeline.steps] == ["columns", "float32", "mlp"]
    assert type(pipeline["mlp"]) is network
    assert not hasattr(pipeline["mlp"], "coefs_")
    columns = pipeline["columns"]
    assert [name for name, *_ in columns.transformers] == [
        "numeric",
        "missing",
        "categorical",
    ]
    params = pipeline.get_params()
    for name, value in {**_tabular.RECIPE, **_tabular.RECIPE_BY_TASK[task]}.items():
        assert params[f"mlp__{name}"] == value
    # the recipe lives in the pipeline only: the estimators keep their defaults
    assert network().get_params() != pipeline["mlp"].get_params()
    assert network().n_members == 1 and network().embedding is None


def test_an_unknown_task_or_override_is_refused_by_name():
    with pytest.raises(ValueError, match=r"task must be one of.*'ranking'"):
        make_tabular_pipeline("ranking")
    with pytest.raises(ValueError, match="n_member"):
        make_tabular_pipeline("regression", mlp__n_member=2)
    with pytest.raises(ValueError, match="nonsense"):
        make_tabular_pipeline("regression", nonsense__max_iter=2)


def test_overrides_and_random_state_reach_their_steps():
    pipeline = make_tabular_pipeline(
        "classification",
        random_state=7,
        mlp__n_members=3,
        columns__numeric__scale__max_abs=5.0,
        columns__categorical__encode__min_frequency=2,
    )
    assert pipeline["mlp"].random_state == 7
    assert pipeline["mlp"].n_members == 3
    numeric = pipeline["columns"].transformers[0][1]
    assert numeric["scale"].max_abs == 5.0
    categorical = pipeline["columns"].transformers[2][1]
    assert categorical["encode"].min_frequency == 2


# -- the tables it reads --------------------------------------------------------------
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_column_kind_with_missing_values_and_the_table_untouched(task):
    table = mixed_table()
    before = table.copy(deep=True)
    pipeline = fitted(task, table)
    pd.testing.assert_frame_equal(table, before)
    predictions = pipeline.predict(table)
    assert predictions.shape == (N_ROWS,)
    if task == "regression":
        assert np.isfinite(predictions).all()
    encoded = pipeline[:-1].transform(table)
    assert (encoded.dtypes == np.float32).all()
    assert not encoded.isna().any().any()
    names = list(encoded.columns)
    # numbers (nullable ones too) are numeric; bool, object, category and
    # string columns are categories, each missing value a category of its own
    assert [n for n in names if n.startswith("numeric__")] == [
        "numeric__size",
        "numeric__count",
    ]
    assert {"missing__missingindicator_size", "missing__missingindicator_count"} <= set(
        names
    )
    for column in ("flag", "colour", "shape", "label"):
        assert any(n.startswith(f"categorical__{column}_") for n in names), column
    for column in ("colour", "shape", "label"):
        assert f"categorical__{column}_nan" in names, column
    # the embedding reads the numeric branch, whose columns its pattern names
    network = pipeline["mlp"]
    assert list(network.embedding_.columns) == [
        names.index("numeric__size"),
        names.index("numeric__count"),
    ]


def test_rare_and_unseen_categories_are_encoded_alike():
    table = mixed_table()
    rare = table.copy()
    rare.loc[:1, "colour"] = "purple"  # seen twice: below MIN_CATEGORY_COUNT
    assert 2 < _tabular.MIN_CATEGORY_COUNT
    pipeline = fitted(table=rare)
    probe = rare.iloc[:3].copy()
    probe.loc[2, "colour"] = "never seen"
    encoded = pipeline[:-1].transform(probe)
    colour = [
        name for name in encoded.columns if name.startswith("categorical__colour")
    ]
    assert "categorical__colour_purple" not in colour
    np.testing.assert_array_equal(
        encoded.loc[0, colour].to_numpy(), encoded.loc[2, colour].to_numpy()
    )
    assert encoded.loc[2, colour].sum() == 1  # the infrequent category
    assert np.isfinite(pipeline.predict_proba(probe)).all()


def test_an_all_numeric_array_is_all_embedded():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N_ROWS, 3))
    X[::10, 1] = np.nan
    pipeline = fitted("regression", X, X[:, 0] * 2.0)
    network = pipeline["mlp"]
    encoded = pipeline[:-1].transform(X)
    assert list(encoded.columns[:3]) == [f"numeric__x{j}" for j in range(3)]
    np.testing.assert_array_equal(network.embedding_.columns, [0, 1, 2])
    assert np.isfinite(pipeline.predict(X)).all()


def test_an_all_categorical_table_trains_without_an_embedding():
    table = mixed_table()[["colour", "shape", "flag"]]
    pipeline = fitted(table=table, target=labels_of(mixed_table()))
    assert not hasattr(pipeline["mlp"], "embedding_")
    assert pipeline.predict(table).shape == (N_ROWS,)


# -- scikit-learn's tools ---------------------------------------------------------
def test_clone_keeps_every_parameter():
    pipeline = make_tabular_pipeline("regression", random_state=3, mlp__n_members=2)
    copy = clone(pipeline)
    original, cloned = pipeline.get_params(), copy.get_params()
    assert original.keys() == cloned.keys()
    for name, value in original.items():
        if not hasattr(value, "get_params"):  # steps compare by their params
            assert repr(cloned[name]) == repr(value), name


@pytest.mark.slow
def test_a_grid_search_over_overrides():
    table = mixed_table(160)
    search = GridSearchCV(
        make_tabular_pipeline("classification", random_state=0, **SMALL),
        {"mlp__n_members": [1, 2], "columns__numeric__scale__max_abs": [3.0, None]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(table, labels_of(table))
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert best["mlp"].n_members == search.best_params_["mlp__n_members"]
    assert search.predict(table).shape == (160,)


@pytest.mark.parametrize("file_format", ["pickle", "skops"])
def test_a_fitted_pipeline_saves_and_loads(file_format):
    table = mixed_table()
    pipeline = fitted(table=table)
    if file_format == "pickle":
        restored = pickle.loads(pickle.dumps(pipeline))
    else:
        if skops_io is None:
            pytest.skip("skops is not installed")
        data = skops_io.dumps(pipeline)
        untrusted = skops_io.get_untrusted_types(data=data)
        # scikit-learn's steps are trusted; ours, the recipe's functions and
        # a NumPy dtype (the encoder's) are all that needs trusting
        ours = [name for name in untrusted if name.startswith("sknn_scratch.")]
        assert set(untrusted) - set(ours) <= {"numpy.dtype"}, untrusted
        restored = skops_io.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(
        restored.predict_proba(table), pipeline.predict_proba(table)
    )


# -- metadata routing -----------------------------------------------------------------
def test_a_validation_set_reaches_the_network_transformed():
    table, held_out = mixed_table(), mixed_table(60, seed=1)
    with sklearn.config_context(enable_metadata_routing=True):
        pipeline = make_tabular_pipeline(
            "classification", random_state=0, **{**SMALL, "mlp__max_iter": 6}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(
                table, labels_of(table), X_val=held_out, y_val=labels_of(held_out)
            )
    network = pipeline["mlp"]
    # all rows trained (none split off), and the best epoch, whose weights
    # are kept, scored the validation set as the pipeline transforms it
    assert network.n_iter_ == 6
    assert len(network.validation_scores_) == 6
    encoded = pipeline[:-1].transform(held_out)
    assert network.best_validation_score_ == pytest.approx(
        network.score(encoded, labels_of(held_out)), abs=1e-12
    )


def test_weights_reach_the_network_under_routing():
    table = mixed_table()
    y = labels_of(table)
    with sklearn.config_context(enable_metadata_routing=True):
        plain = make_tabular_pipeline("classification", random_state=0, **SMALL)
        weighted, ones = clone(plain), clone(plain)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            plain.fit(table, y)
            ones.fit(table, y, sample_weight=np.ones(N_ROWS))
            weighted.fit(table, y, sample_weight=np.arange(N_ROWS) % 3)
    np.testing.assert_array_equal(ones.predict_proba(table), plain.predict_proba(table))
    assert not np.array_equal(weighted.predict_proba(table), plain.predict_proba(table))


def test_without_routing_the_pipeline_is_a_plain_one():
    pipeline = make_tabular_pipeline("classification")
    assert pipeline.transform_input is None
    table = mixed_table()
    with pytest.raises((TypeError, ValueError), match="X_val"):
        pipeline.fit(table, labels_of(table), X_val=table, y_val=labels_of(table))


# -- the recipe itself ------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_recipe_as_it_ships_trains_and_keeps_its_best_epoch(task):
    table = mixed_table(300)
    target = labels_of(table) if task == "classification" else table["size"].fillna(0)
    pipeline = make_tabular_pipeline(task, random_state=0)
    pipeline.fit(table, target)
    network = pipeline["mlp"]
    # a fixed budget: every epoch runs, the best one's weights are kept
    assert network.n_iter_ == _tabular.RECIPE["max_iter"]
    assert network.best_validation_score_ == max(network.validation_scores_)
    # packed members have a scale each; a single network has none
    scales = getattr(network, "member_scales_", None)
    members = 1 if scales is None else scales.shape[0]
    assert members == _tabular.RECIPE["n_members"]
    assert pipeline.score(table, target) > 0.5


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_ablation_ingredients_cover_the_recipe_once(task):
    settings = _tabular.recipe_settings(task)
    grouped = [name for group in _tabular.INGREDIENTS.values() for name in group]
    assert len(grouped) == len(set(grouped))
    assert set(settings) <= set(grouped)
    # all ingredients: the recipe; none: the estimator's defaults
    assert _tabular.ablation_overrides(task, len(_tabular.INGREDIENTS)) == {}
    bare = make_tabular_pipeline(task, **_tabular.ablation_overrides(task, 0))
    network = _tabular.NETWORKS[task]
    assert bare["mlp"].get_params() == network().get_params()
