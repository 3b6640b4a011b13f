"""One epoch of mini-batch training: gather, forward/backward, step.

The data of one mini-batch travels one way::

    X[batch] -> Network.loss_and_gradient (forward, loss delta, backward)
             -> optimizer.step(params, grad)

Rows of a shuffled batch are gathered into buffers made once per trainer;
without shuffling, batches are row slices (views) of the data.
"""

import numpy as np
import scipy.sparse as sp

from .._engine import compiled
from ._optimizers import SOLVERS


class MiniBatchTrainer:
    """Runs epochs of mini-batch gradient descent over fixed training data.

    Parameters
    ----------
    network : Network
    optimizer : SGD or Adam
    X : {ndarray, CSR matrix} of shape (n_samples, n_features)
        C-contiguous when dense.
    T : ndarray of shape (n_samples, n_outputs)
        Encoded targets, in the network's dtype.
    sample_weight : ndarray of shape (n_samples,) or None
    batch_size : int
        Rows per batch, in [1, n_samples] (the last batch takes the rest).
    alpha : float
        L2 penalty.
    """

    def __init__(self, network, optimizer, X, T, sample_weight, batch_size, alpha):
        self.network = network
        self.optimizer = optimizer
        self.X, self.T = X, np.ascontiguousarray(T)
        self.sample_weight = (
            None if sample_weight is None else np.ascontiguousarray(sample_weight)
        )
        self.batch_size = rows = int(batch_size)
        self.alpha = float(alpha)
        self.n_samples = X.shape[0]
        if not 1 <= rows <= self.n_samples:
            raise ValueError(f"batch_size must be in [1, {self.n_samples}]; got {rows}")
        self._sparse = sp.issparse(X)
        # the compiled epoch, where the network runs compiled on X and the
        # compiled engine has the optimizer's update; else the loop below
        self._compiled = network.runs_compiled(X) and SOLVERS[optimizer.name].compiled
        # the loop's gather buffers (the compiled epoch has its own)
        gathers = not self._compiled
        self._X_batch = (
            np.empty((rows, X.shape[1]), X.dtype)
            if gathers and not self._sparse
            else None
        )
        self._T_batch = np.empty((rows, T.shape[1]), T.dtype) if gathers else None
        self._w_batch = (
            np.empty(rows, T.dtype) if gathers and sample_weight is not None else None
        )

    def epoch(self, order: np.ndarray | None = None) -> float:
        """One pass over the data; returns the mean of the batch losses.

        Parameters
        ----------
        order : ndarray of int, default=None
            Sample order for this epoch; None takes the rows as they are.

        Returns
        -------
        float
            Σ_batches loss_b · rows_b / n_samples, scikit-learn's epoch loss.
        """
        network, optimizer = self.network, self.optimizer
        X, T, w = self.X, self.T, self.sample_weight
        # each step's scalar and weight decay, in order (a schedule sets them
        # batch by batch; a batch of zero-weight rows takes no step)
        scalars, decays = optimizer.epoch_scalars(
            self.n_batches, self._stepping_batches(order)
        )
        if self._compiled:
            return compiled.epoch(
                network.compiled,
                X,
                T,
                w,
                order,
                self.batch_size,
                optimizer,
                scalars,
                decays,
                self.alpha,
                network.dropout_rng,
            )
        steps = iter(zip(scalars, decays, strict=True))
        total = 0.0
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            rows = stop - start
            if order is None:
                X_batch, T_batch = X[start:stop], T[start:stop]
                w_batch = None if w is None else w[start:stop]
            else:
                index = order[start:stop]
                if self._sparse:
                    X_batch = X[index]
                else:
                    X_batch = np.take(X, index, axis=0, out=self._X_batch[:rows])
                T_batch = np.take(T, index, axis=0, out=self._T_batch[:rows])
                w_batch = (
                    None if w is None else np.take(w, index, out=self._w_batch[:rows])
                )
            if w_batch is not None and not w_batch.any():
                # A batch of zero-weight rows carries no information: no step.
                continue
            loss = network.loss_and_gradient(
                X_batch, T_batch, w_batch, self.alpha, max_rows=rows
            )
            total += loss * rows
            scalar, decay = next(steps)
            optimizer.apply(
                network.params, network.grad, scalar, decay, network.n_weights
            )
            optimizer.steps_taken(1)
        return total / self.n_samples

    @property
    def n_batches(self) -> int:
        return -(-self.n_samples // self.batch_size)

    def _stepping_batches(self, order: np.ndarray | None) -> np.ndarray | None:
        """Which batches take a step: those with a row of non-zero weight
        (weights are never negative); None where every batch does."""
        w = self.sample_weight
        if w is None:
            return None
        starts = np.arange(0, self.n_samples, self.batch_size)
        weights = w if order is None else w[order]
        return np.add.reduceat(weights, starts) > 0
