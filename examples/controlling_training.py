"""Controlling training: a progress bar, early stopping, a cosine schedule, weight decay
=====================================================================================

Two networks learn the handwritten digits at the same high learning rate
with Adam. Both stop early on the log-loss of a validation set given to
``fit`` (``X_val``, ``y_val``, with ``scoring="loss"``), and scikit-learn's
``ProgressBar`` callback draws each fit's progress. The first keeps the rate
constant: at this rate its validation loss soon stops improving while its
training loss falls on towards zero. The second warms up
over the first tenth of its horizon of ``max_iter`` epochs, then lets the rate
fall along a cosine (``learning_rate="cosine"``, ``warmup_fraction=0.1``), and
shrinks its weights at every step (``weight_decay``, as AdamW does). The
script prints each network's epochs, best epoch, best validation log-loss
and its test log-loss and accuracy, and draws the training and validation
curves beside the learning rate of each epoch. The "Controlling training"
page of the guide gives the formulas.

Run it with::

    python examples/controlling_training.py            # train both, print, draw
    python examples/controlling_training.py --quick    # a narrower network
"""

import sys

import matplotlib.pyplot as plt
import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

# %%
# Training, validation and test images
# ------------------------------------
# The validation set is ours to choose: a stratified quarter of the images
# not kept for the test, scaled as the training images are.
X, y = load_digits(return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
X_train, X_val, y_train, y_val = train_test_split(
    X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_val, X_test = (scaler.transform(part) for part in (X_train, X_val, X_test))
print(
    f"digits: {len(y_train)} training, {len(y_val)} validation and "
    f"{len(y_test)} test images"
)

# %%
# A progress bar
# --------------
# scikit-learn's callbacks (``sklearn.callback``) arrived in scikit-learn 1.9,
# and its ``ProgressBar`` draws with rich. Without either, the script trains
# the same networks without a bar.
try:
    from sklearn.callback import ProgressBar
except ImportError:
    ProgressBar = None
    print(
        f"No progress bar: scikit-learn {sklearn.__version__} has no callbacks "
        "(sklearn.callback needs scikit-learn 1.9 or later)."
    )
callbacks = []
if ProgressBar is not None:
    try:
        callbacks = [ProgressBar()]
    except ImportError as error:  # rich is missing
        print(f"No progress bar: {error}")

# %%
# The two networks
# ----------------
# The same network, peak rate, seed and stopping rule: an epoch that lowers
# the validation log-loss by less than ``tol`` counts as no progress, and
# after more than ``n_iter_no_change`` of those in a row, training stops and
# keeps the weights of its best epoch. ``max_iter`` is the cosine's horizon:
# its rate reaches 0 at the end of epoch ``max_iter``.
MAX_ITER, WARMUP, PEAK_RATE, WEIGHT_DECAY = 60, 0.1, 0.02, 1.0
common = dict(
    hidden_layer_sizes=(128,) if QUICK else (256,),
    learning_rate_init=PEAK_RATE,
    max_iter=MAX_ITER,
    early_stopping=True,
    scoring="loss",  # the validation log-loss; validation_scores_ is its negative
    tol=1e-3,
    n_iter_no_change=10,
    random_state=0,
)
settings = {
    "constant rate": {},
    "cosine + decay": dict(
        learning_rate="cosine", warmup_fraction=WARMUP, weight_decay=WEIGHT_DECAY
    ),
}
print(
    f"Adam at a peak rate of {PEAK_RATE}, at most {MAX_ITER} epochs, early "
    "stopping on the validation log-loss; cosine + decay: a warm-up over "
    f"{WARMUP:.0%} of the horizon, weight_decay={WEIGHT_DECAY}"
)
models = {}
for name, extra in settings.items():
    model = ScratchMLPClassifier(**common, **extra)
    if callbacks:
        model.set_callbacks(*callbacks)
    models[name] = model.fit(X_train, y_train, X_val=X_val, y_val=y_val)

# %%
# What each one reached
# ---------------------
print(
    f"{'':16}{'epochs':>7}{'best epoch':>11}{'best val log-loss':>18}"
    f"{'test log-loss':>14}{'test accuracy':>14}"
)
for name, model in models.items():
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    test_loss = log_loss(y_test, model.predict_proba(X_test))
    print(
        f"{name:16}{model.n_iter_:7d}{best_epoch:11d}"
        f"{-model.best_validation_score_:18.3f}{test_loss:14.3f}"
        f"{model.score(X_test, y_test):14.3f}"
    )


# %%
# The learning rate of each epoch
# -------------------------------
# The rate of a batch is the peak rate times the schedule's multiplier at the
# progress p of the batch's middle, in epochs over the horizon: for the
# cosine, p / w during the warm-up over the first w of the horizon, then
# ½ (1 + cos π (p - w) / (1 - w)) down to 0 at p = 1.
def cosine_multiplier(progress: np.ndarray, warmup: float) -> np.ndarray:
    progress = np.minimum(progress, 1.0)
    decayed = 0.5 * (1.0 + np.cos(np.pi * (progress - warmup) / (1.0 - warmup)))
    return np.where(progress < warmup, progress / warmup, decayed)


scheduled = models["cosine + decay"]
stopped = scheduled.n_iter_ / MAX_ITER
print(
    f"cosine + decay stopped after epoch {scheduled.n_iter_} of its "
    f"{MAX_ITER}-epoch horizon, its rate then at "
    f"{cosine_multiplier(np.array(stopped), WARMUP):.2f} of the peak"
)

# %%
# The curves
# ----------
# Left, the training loss (``loss_curve_``, with the small L2 penalty
# ``alpha``; the weight decay is not a term of the loss) and the validation
# log-loss (``-validation_scores_``) of each epoch, a dot on the best epoch,
# whose weights each network keeps. The constant rate learns the training
# images by heart, its training loss near zero, its validation loss high;
# under the decay the training loss stays above zero, and the validation loss
# goes lower. Right, the learning rate each network trained at; the cosine's
# is drawn over its whole horizon, solid up to where training stopped.
colors = {"constant rate": "tab:orange", "cosine + decay": "tab:blue"}
fig, (loss_ax, rate_ax) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for name, model in models.items():
    epochs = np.arange(1, model.n_iter_ + 1)
    validation_loss = -np.asarray(model.validation_scores_)
    best = int(np.argmax(model.validation_scores_))
    loss_ax.plot(epochs, model.loss_curve_, ":", color=colors[name])
    loss_ax.plot(epochs, validation_loss, color=colors[name], label=name)
    loss_ax.plot(epochs[best], validation_loss[best], "o", color=colors[name])
loss_ax.plot([], [], ":", color="gray", label="training loss")
loss_ax.plot([], [], color="gray", label="validation log-loss")
loss_ax.set(xlabel="epoch", ylabel="log-loss", ylim=(0, 0.6))
loss_ax.legend(fontsize=8)

horizon = np.linspace(0, MAX_ITER, 400)
rate = PEAK_RATE * cosine_multiplier(horizon / MAX_ITER, WARMUP)
ran = horizon <= scheduled.n_iter_
rate_ax.plot(horizon[ran], rate[ran], color=colors["cosine + decay"])
rate_ax.plot(horizon[~ran], rate[~ran], "--", color=colors["cosine + decay"])
constant = models["constant rate"]
rate_ax.plot(
    [0, constant.n_iter_], [PEAK_RATE, PEAK_RATE], color=colors["constant rate"]
)
rate_ax.axvline(MAX_ITER * WARMUP, color="gray", lw=0.8, ls=":")
rate_ax.text(MAX_ITER * WARMUP, 0.2 * PEAK_RATE, " end of warm-up", fontsize=8)
rate_ax.set(xlabel="epoch", ylabel="learning rate", ylim=(0, 1.1 * PEAK_RATE))
plt.show()
