"""Quick start: ScratchMLPClassifier in a Pipeline, tuned by GridSearchCV
======================================================================

Digits (8×8 images of handwritten digits, shipped with scikit-learn) are scaled
and classified; a grid search picks the hidden layer size and the initial
learning rate by 3-fold cross-validation, then the best pipeline is scored on
a held-out quarter of the data.

    python examples/quickstart.py
"""

import time

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
pipeline = Pipeline(
    [
        ("scale", StandardScaler()),
        ("mlp", ScratchMLPClassifier(max_iter=300, random_state=0)),
    ]
)
grid = {
    "mlp__hidden_layer_sizes": [(32,), (64,)],
    "mlp__learning_rate_init": [1e-3, 1e-2],
}
search = GridSearchCV(pipeline, grid, cv=3, n_jobs=-1)
start = time.perf_counter()
search.fit(X_train, y_train)
elapsed = time.perf_counter() - start

print(f"digits: {X.shape[0]} samples, {X.shape[1]} features, 10 classes")
print(f"grid search over {len(search.cv_results_['params'])} settings, 3-fold CV")
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(
        f"  hidden={params['mlp__hidden_layer_sizes']!s:6} "
        f"lr={params['mlp__learning_rate_init']:<6g} cv accuracy={score:.3f}"
    )
print(f"best parameters: {search.best_params_}")
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"held-out accuracy: {search.score(X_test, y_test):.3f}")
print(f"search time: {elapsed:.1f} s")
