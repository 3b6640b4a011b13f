"""Dropout on digits, with the validation curves drawn by LossCurveDisplay
=======================================================================

A wide network (two hidden layers of 256 units) trained on 300 handwritten
digits overfits: the training loss keeps falling while the loss
on held-out data turns back up. Dropout, which silences each hidden unit at
random during training (here with probability 0.4), is a classic remedy; it
is not available in scikit-learn's ``MLPClassifier``. Both networks train
with ``early_stopping=True``, which records the validation loss
(``validation_loss_curve_``) and accuracy each epoch and keeps the best
weights. The script prints, with and without dropout, the iterations run,
the lowest validation loss and the accuracy on a separate test set, and
draws both networks' curves with ``LossCurveDisplay``.

Run it with::

    python examples/dropout_digits.py            # train both, print, draw the curves
    python examples/dropout_digits.py --quick    # stop sooner
"""

import sys

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sknn_scratch import LossCurveDisplay, ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

# %%
# A small training set
# --------------------
# 300 images make the wide network overfit quickly.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=300, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
print(f"digits: {len(y_train)} training images, {len(y_test)} test images")

# %%
# Without and with dropout
# ------------------------
print(f"{'':14}{'epochs':>8}{'best val loss':>15}{'val accuracy':>14}{'test':>8}")
models = {}
for name, dropout in [("no dropout", 0.0), ("dropout 0.4", 0.4)]:
    model = ScratchMLPClassifier(
        hidden_layer_sizes=(256, 256),
        dropout=dropout,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=10 if QUICK else 25,
        learning_rate_init=0.001,
        max_iter=500,
        random_state=0,
    ).fit(X_train, y_train)
    models[name] = model
    print(
        f"{name:14}{model.n_iter_:8d}{min(model.validation_loss_curve_):15.3f}"
        f"{model.best_validation_score_:14.3f}{model.score(X_test, y_test):8.3f}"
    )

print("validation loss: lowest, and at the last epoch (early stopping keeps")
print("the weights of the best epoch)")
for name, model in models.items():
    curve = model.validation_loss_curve_
    print(f"  {name:12} lowest {min(curve):.3f}, last {curve[-1]:.3f}")

# %%
# The curves
# ----------
# Both networks side by side, on the same loss scale.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True, layout="constrained")
for ax, (name, model) in zip(axes, models.items(), strict=True):
    display = LossCurveDisplay.from_estimator(model, ax=ax, name=name)
    for text in display.ax_.get_legend().get_texts():
        text.set_fontsize(7)
    display.score_ax_.set_ylim(0.8, 1.0)
axes[0].set_ylim(0, 1.0)
plt.show()
