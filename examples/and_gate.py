"""Logical AND learned by a single logistic unit
=============================================

With ``hidden_layer_sizes=()`` the network has no hidden layer: the two inputs
feed one logistic output directly, so the model is p = σ(w1·x1 + w2·x2 + b),
a logistic regression trained by backpropagation. AND is linearly separable,
so this is enough: training drives b negative and w1, w2 positive, with
w1 + w2 + b > 0 only for the input (1, 1).

The network is trained one epoch at a time with ``partial_fit`` (full-batch
gradient descent on the four rows of the truth table), and the weights are
recorded after every epoch to show how they move.

Run it with::

    python examples/and_gate.py            # train, print the truth table and weights
    python examples/and_gate.py --plot     # also save and_gate.png
"""

import sys
from pathlib import Path

import numpy as np

from sknn_scratch import ScratchMLPClassifier

# make the helper modules beside this file importable, also under runpy
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import example_parser, parse_args, pyplot, save_figure

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 0, 0, 1])


def train(n_epochs: int) -> tuple[ScratchMLPClassifier, np.ndarray]:
    """Train for ``n_epochs`` epochs; return the model and the weight history.

    Returns
    -------
    model : ScratchMLPClassifier
    history : ndarray of shape (n_epochs, 3)
        w1, w2 and b after each epoch.
    """
    model = ScratchMLPClassifier(
        hidden_layer_sizes=(),
        solver="sgd",
        batch_size=4,  # the whole truth table in every step
        learning_rate_init=1.0,
        momentum=0.0,  # plain gradient descent: the trajectory is easy to read
        alpha=0.0,  # no weight decay: nothing holds the weights back
        random_state=0,
    )

    def weights() -> list[float]:
        # coefs_[0] is the (2, 1) input-to-output matrix, intercepts_[0] the bias
        return [*model.coefs_[0].ravel(), model.intercepts_[0][0]]

    # Each partial_fit call is one epoch (here one step). The first call draws
    # the initial weights and needs every class the data can have.
    history = []
    for _ in range(n_epochs):
        model.partial_fit(X, y, classes=[0, 1])
        history.append(weights())
    return model, np.array(history)


def plot(history: np.ndarray, path: str) -> None:
    """Save the trajectory of w1, w2 and b over the epochs."""
    plt = pyplot()

    epochs = np.arange(1, len(history) + 1)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    # w1 and w2 end up equal (AND is symmetric): draw w2 dotted to see both.
    for column, name, style in zip(
        range(3), ("$w_1$", "$w_2$", "$b$"), "-:-", strict=True
    ):
        ax.plot(epochs, history[:, column], style, label=name, lw=2)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xscale("log")  # most of the movement happens in the first epochs
    ax.set(xlabel="epoch", ylabel="value", title="AND gate: weights during training")
    ax.legend()
    save_figure(fig, path)


def main() -> None:
    parser = example_parser(
        "Learn logical AND with one unit.",
        quick_help="train fewer epochs",
        plot_help="save a PNG of the weight trajectory",
    )
    args = parse_args(parser)  # exits at once if --plot lacks matplotlib

    model, history = train(n_epochs=300 if args.quick else 1000)
    predicted = model.predict(X)
    probability = model.predict_proba(X)[:, 1]

    print(f"AND gate, no hidden layer, {len(history)} epochs of gradient descent")
    print("x1  x2  target  predicted  P(1)")
    for (x1, x2), target, pred, p in zip(X, y, predicted, probability, strict=True):
        print(f"{x1:2.0f}  {x2:2.0f}  {target:6d}  {pred:9d}  {p:.4f}")
    w1, w2, b = history[-1]
    print(f"weights: w1 = {w1:.4f}, w2 = {w2:.4f}; bias: b = {b:.4f}")
    print(f"final loss: {model.loss_:.5f}")

    if args.plot:
        plot(history, args.plot)


if __name__ == "__main__":
    main()
