"""Class weights on an imbalanced problem: the rare class stops being ignored
==========================================================================

Two classes, one twenty times rarer than the other (synthetic data from
``make_classification``). A network trained on the plain log-loss can do well
on accuracy by favouring the common class, and miss much of the rare one.
``class_weight="balanced"`` weighs each class by ``n_samples / (2 * count)``
in the loss, so both classes count equally; scikit-learn's ``MLPClassifier``
has no such parameter. The script trains the same network both ways and
prints accuracy, balanced accuracy and the recall of each class side by side.

Run it with::

    python examples/class_weight_imbalanced.py            # train both, print, draw
    python examples/class_weight_imbalanced.py --quick    # a smaller data set
"""

import sys

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

# %%
# The data
# --------
# ``flip_y`` puts label noise in both classes, so that the classes overlap and
# the network has to choose whom to get wrong.
X, y = make_classification(
    2000 if QUICK else 6000, n_features=8, n_informative=4, weights=[0.95],
    flip_y=0.03, class_sep=0.8, random_state=0,
)  # fmt: skip
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print(
    f"synthetic data: {len(y_train)} training samples, "
    f"{int(y_train.sum())} of them in the rare class"
)

# %%
# The same network, without and with class weights
# ------------------------------------------------
print(f"{'':22}{'accuracy':>10}{'balanced':>10}{'recall 0':>10}{'recall 1':>10}")
results = {}
for name, class_weight in [("no class_weight", None), ("balanced", "balanced")]:
    model = make_pipeline(
        StandardScaler(),
        ScratchMLPClassifier(
            hidden_layer_sizes=(32,),
            class_weight=class_weight,
            learning_rate_init=0.01,
            max_iter=300,
            random_state=0,
        ),
    ).fit(X_train, y_train)
    predicted = model.predict(X_test)
    scores = {
        "accuracy": accuracy_score(y_test, predicted),
        "balanced accuracy": balanced_accuracy_score(y_test, predicted),
        "recall, common class": recall_score(y_test, predicted, pos_label=0),
        "recall, rare class": recall_score(y_test, predicted, pos_label=1),
    }
    results[name] = scores
    print(
        f"{name:22}{scores['accuracy']:10.3f}{scores['balanced accuracy']:10.3f}"
        f"{scores['recall, common class']:10.3f}{scores['recall, rare class']:10.3f}"
    )
gain = (
    results["balanced"]["balanced accuracy"]
    - results["no class_weight"]["balanced accuracy"]
)
print(f"balanced accuracy gained by class_weight='balanced': {gain:+.3f}")

# %%
# Each class's recall
# -------------------
metrics = ["recall, common class", "recall, rare class", "balanced accuracy"]
positions = np.arange(len(metrics))
fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
for offset, (name, scores) in zip((-0.2, 0.2), results.items(), strict=True):
    bars = ax.bar(
        positions + offset, [scores[m] for m in metrics], width=0.4, label=name
    )
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
ax.set_xticks(positions, metrics, fontsize=8)
ax.set_ylim(0, 1.1)
ax.set_title("Imbalanced classes (1 in 20 is rare)")
ax.legend(fontsize=8, loc="lower left")
plt.show()
