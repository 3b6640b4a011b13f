"""Which activation? The same network trained once per hidden activation
=====================================================================

The two-moons data (300 points, noise 0.2) are classified by a network with
16 hidden units, trained by Adam in mini-batches of 32 from the same random
seed; only the hidden activation changes, through every activation the
estimators accept (scikit-learn's four and the six others). Each network gets
the same budget of epochs, so the loss curves can be compared epoch for
epoch.

What to look for: every network first sits on a plateau (loss ≈ 0.3) before
it bends its boundary round the moons. The plateau is the best straight-line
boundary, which is all that identity units, keeping the network linear, ever
reach. The ReLU-like units (relu, leaky_relu, elu, gelu, silu, mish) and tanh
leave it first. softplus and logistic leave it last: their units start at
f(0) > 0 (log 2 and ½) and the logistic's slope is at most ¼, so their
gradients are smaller.

Run it with::

    python examples/activation_comparison.py            # print loss per activation
    python examples/activation_comparison.py --plot     # also save the loss curves
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, _activations

# make the helper modules beside this file importable, also under runpy
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import example_parser, parse_args, pyplot, save_figure

ACTIVATIONS = tuple(_activations.ACTIVATIONS)  # every one the estimators accept
TARGET_LOSS = 0.15


def train(
    activation: str, X: np.ndarray, y: np.ndarray, epochs: int
) -> ScratchMLPClassifier:
    """Train for exactly ``epochs`` epochs with the given hidden activation."""
    model = ScratchMLPClassifier(
        hidden_layer_sizes=(16,),
        activation=activation,
        solver="adam",
        learning_rate_init=0.01,
        batch_size=32,
        max_iter=epochs,
        # Never stop early: a fair comparison gives every activation the same
        # number of epochs (the stopping rule would otherwise take the logistic
        # network's plateau for convergence).
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    # Running out of epochs is the plan here, not a sign of trouble, so the
    # "maximum iterations reached" ConvergenceWarning is silenced on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def plot(models: dict[str, ScratchMLPClassifier], path: str) -> None:
    """Save every loss curve on one figure: scikit-learn's activations solid,
    the others dashed."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, model in models.items():
        style = "-" if _activations.ACTIVATIONS[name].in_sklearn else "--"
        epochs = np.arange(1, model.n_iter_ + 1)
        ax.plot(epochs, model.loss_curve_, style, lw=1.2, label=name)
    ax.axhline(TARGET_LOSS, color="grey", lw=0.5, ls=":")
    ax.set(
        xlabel="epoch",
        ylabel="training log-loss",
        yscale="log",
        title="Two moons, 16 hidden units, Adam",
    )
    ax.legend(title="hidden activation", ncols=2, fontsize=8, title_fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = example_parser(
        "Compare hidden activations.",
        quick_help="fewer epochs",
        plot_help="save a PNG of the loss curves",
    )
    args = parse_args(parser)  # exits at once if --plot lacks matplotlib

    X, y = make_moons(300, noise=0.2, random_state=0)
    epochs = 300 if args.quick else 800
    models = {name: train(name, X, y, epochs) for name in ACTIVATIONS}

    print(f"two moons, {len(X)} points; 16 hidden units, Adam, {epochs} epochs each")
    print(f"activation  iterations  final loss  epochs to loss<{TARGET_LOSS}  accuracy")
    for name, model in models.items():
        below = np.flatnonzero(np.array(model.loss_curve_) < TARGET_LOSS)
        reached = str(below[0] + 1) if below.size else "never"
        print(
            f"{name:10}  {model.n_iter_:10d}  {model.loss_:10.4f}  "
            f"{reached:>19}  {model.score(X, y):8.3f}"
        )

    if args.plot:
        plot(models, args.plot)


if __name__ == "__main__":
    main()
