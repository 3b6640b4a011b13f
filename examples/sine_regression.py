"""Curve fitting: a 1-6-1 tanh network regresses a wavy line
=========================================================

The target is f(x) = x + 0.3·sin(2πx) on [0, 1]; the 100 training points are
f(x) plus noise drawn uniformly from [-0.1, 0.1]. ``ScratchMLPRegressor`` with
six tanh hidden units and a linear output fits it with L-BFGS, the solver of
choice for a small data set and a smooth loss: it needs no learning rate and
reaches a tight minimum in about a hundred iterations.

Two R² scores are printed: against the noise-free curve (how well the network
found f) and against the noisy training data (how much of the variance it
explains; the noise caps this below 1).

Run it with::

    python examples/sine_regression.py            # fit and print R²
    python examples/sine_regression.py --plot     # also save sine_regression.png
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import r2_score

from sknn_scratch import ScratchMLPRegressor

# make the helper modules beside this file importable, also under runpy
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import example_parser, parse_args, pyplot, save_figure


def curve(x: np.ndarray) -> np.ndarray:
    """The noise-free target f(x) = x + 0.3·sin(2πx)."""
    return x + 0.3 * np.sin(2 * np.pi * x)


def make_data(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points x uniform on [0, 1] and f(x) + uniform noise in [-0.1, 0.1]."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, n_samples))
    return x.reshape(-1, 1), curve(x) + rng.uniform(-0.1, 0.1, n_samples)


def plot(model: ScratchMLPRegressor, X: np.ndarray, t: np.ndarray, path: str) -> None:
    """Save the data, the true curve and the network's fit."""
    plt = pyplot()

    x = np.linspace(0, 1, 200)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(X[:, 0], t, s=10, c="grey", label="data")
    ax.plot(x, curve(x), "k--", lw=1, label="$x + 0.3\\sin 2\\pi x$")
    ax.plot(x, model.predict(x.reshape(-1, 1)), c="C3", lw=2, label="network")
    ax.set(xlabel="x", ylabel="y", title="1-6-1 tanh network, L-BFGS")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = example_parser(
        "Fit x + 0.3 sin(2πx) with an MLP.",
        quick_help="fewer iterations",
        plot_help="save a PNG of the fit",
    )
    args = parse_args(parser)  # exits at once if --plot lacks matplotlib

    X, t = make_data(100)
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(6,),
        activation="tanh",
        solver="lbfgs",
        # A looser tolerance stops earlier; both settings converge well within
        # max_iter, so neither warns.
        tol=1e-4 if args.quick else 1e-6,
        max_iter=5000,
        random_state=0,
    ).fit(X, t)

    x = np.linspace(0, 1, 200)
    r2_curve = r2_score(curve(x), model.predict(x.reshape(-1, 1)))
    print(f"{len(t)} noisy points of x + 0.3 sin(2 pi x), noise uniform in ±0.1")
    print(f"lbfgs: {model.n_iter_} iterations, final loss {model.loss_:.5f}")
    print(f"R² against the noise-free curve: {r2_curve:.4f}")
    print(f"R² against the training data:    {model.score(X, t):.4f}")

    if args.plot:
        plot(model, X, t, args.plot)


if __name__ == "__main__":
    main()
