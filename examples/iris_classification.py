"""Iris: three species from four flower measurements
=================================================

The classic data set: 150 irises of three species (setosa, versicolor,
virginica), each described by the length and width of its sepals and petals.
A ``Pipeline`` scales the measurements and trains ``ScratchMLPClassifier``
(one hidden layer of 8 units, softmax output over the three species) on two
thirds of the flowers; the rest are held out. The script prints the class
probabilities the network gives a few held-out flowers and the confusion
matrix of the held-out predictions: setosa is easy, and the few mistakes are
between versicolor and virginica, whose measurements overlap.

Run it with::

    python examples/iris_classification.py            # train, print, draw the matrix
    python examples/iris_classification.py --quick    # a looser tolerance
"""

import sys

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

iris = load_iris()
names = list(iris.target_names)
X_train, X_test, y_train, y_test = train_test_split(
    iris.data, iris.target, test_size=1 / 3, stratify=iris.target, random_state=0
)

# %%
# Train
# -----
# L-BFGS suits 100 samples and converges well within ``max_iter`` (no
# ConvergenceWarning); ``--quick`` loosens ``tol``. With so few flowers a firm
# L2 penalty (``alpha=1``) keeps the boundaries smooth and the probabilities
# from saturating at 0 and 1.
model = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "mlp",
            ScratchMLPClassifier(
                hidden_layer_sizes=(8,),
                solver="lbfgs",
                alpha=1.0,
                tol=1e-3 if QUICK else 1e-4,
                max_iter=1000,
                random_state=0,
            ),
        ),
    ]
).fit(X_train, y_train)
print(f"iris: {len(X_train)} training and {len(X_test)} held-out flowers")

# %%
# Probabilities
# -------------
# The first held-out flower of each species, then the two the network is
# least sure of.
probabilities = model.predict_proba(X_test)
predicted = model.predict(X_test)
print(
    f"  {'true species':12}  {'predicted':10}  " + "  ".join(f"{n:>10}" for n in names)
)
first_of_each = [int(np.flatnonzero(y_test == k)[0]) for k in range(3)]
least_sure = [int(i) for i in np.argsort(probabilities.max(axis=1))[:2]]
for i in first_of_each + least_sure:
    row = "  ".join(f"{p:10.3f}" for p in probabilities[i])
    print(f"  {names[y_test[i]]:12}  {names[predicted[i]]:10}  {row}")

# %%
# The confusion matrix
# --------------------
print(f"held-out accuracy: {accuracy_score(y_test, predicted):.3f}")
matrix = confusion_matrix(y_test, predicted)
print("confusion matrix (rows: true species, columns: predicted):")
print(f"  {'':10}  " + "  ".join(f"{n:>10}" for n in names))
for name, counts in zip(names, matrix, strict=True):
    print(f"  {name:10}  " + "  ".join(f"{c:10d}" for c in counts))

fig, ax = plt.subplots(figsize=(4.5, 3.8), layout="constrained")
ConfusionMatrixDisplay(matrix, display_labels=names).plot(
    ax=ax, cmap="Blues", colorbar=False
)
ax.set_title("Iris: held-out confusion matrix")
plt.show()
