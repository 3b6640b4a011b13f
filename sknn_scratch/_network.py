"""A feed-forward network on one flat parameter vector, and its backpropagation.

Notation: layer l = 1..L has weights W_l (fan_in × fan_out), bias b_l and
activation f_l (the hidden activation, or the output activation for l = L).

Forward pass, for a batch of rows X:

    a_0 = X,    z_l = a_{l-1} W_l + b_l,    a_l = f_l(z_l).

Loss, with sample weights s_i (all ones when none are given) and S = Σ_i s_i:

    E = Σ_i s_i ℓ(z_L,i, t_i) / S  +  ½ α Σ_l ‖W_l‖² / S.

Backward pass. The output delta of every canonical loss is a_L - t (see
``_losses``); scaling row i by s_i / S puts the 1/S of E inside the deltas, and
backpropagation is the recurrence

    δ_L = (a_L - t) ⊙ s / S,
    δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ f_l'(z_l)          for l = L-1 .. 1,
    ∂E/∂W_l = a_{l-1}ᵀ δ_l + α W_l / S,
    ∂E/∂b_l = Σ_rows δ_l.

Layout. All weights come first, then all biases, in one contiguous vector
``params``; ``coefs[l]`` and ``intercepts[l]`` are views into it, and ``grad``
has the same layout. An optimizer updates one array, L-BFGS runs on it without
packing, and the penalty ½α‖W‖² is one dot product over the leading block.

Dropout. During training a hidden layer may drop each unit with probability p
and scale the others by 1/(1 - p); the same mask multiplies δ_l on the way back.

Buffers. The arrays a_l, δ_l, dropout masks and a scratch array for the
activation derivative are allocated once for the largest batch seen and reused
through row views.
"""

from itertools import pairwise

import numpy as np

from ._activations import ACTIVATIONS, OUTPUT_ACTIVATIONS, ones
from ._losses import LOSSES
from ._parallel import MIN_BLOCK_ROWS, in_blocks, in_halves, matmul

# Bound on the temporary memory of one forward pass over many rows (predict,
# validation scores, full-batch gradients): rows are processed in chunks whose
# widest layer fits in this many bytes.
CHUNK_BYTES = 16 * 2**20


def layer_views(
    flat: np.ndarray, layer_sizes: tuple[int, ...]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Views of a flat vector as per-layer weight matrices and bias vectors.

    Parameters
    ----------
    flat : ndarray of shape (n_params,)
        Weights of every layer (row-major) followed by every layer's bias.
    layer_sizes : tuple of int
        Units per layer, input layer first.

    Returns
    -------
    coefs, intercepts : lists of ndarray
        ``coefs[l]`` has shape (layer_sizes[l], layer_sizes[l + 1]) and
        ``intercepts[l]`` shape (layer_sizes[l + 1],); both share memory with
        ``flat``.
    """
    coefs, intercepts = [], []
    start = 0
    for fan_in, fan_out in pairwise(layer_sizes):
        stop = start + fan_in * fan_out
        coefs.append(flat[start:stop].reshape(fan_in, fan_out))
        start = stop
    for fan_out in layer_sizes[1:]:
        intercepts.append(flat[start : start + fan_out])
        start += fan_out
    return coefs, intercepts


def n_parameters(layer_sizes: tuple[int, ...]) -> tuple[int, int]:
    """Number of weights and total number of parameters of a network."""
    n_weights = sum(i * o for i, o in pairwise(layer_sizes))
    return n_weights, n_weights + sum(layer_sizes[1:])


def _chunk_rows(n_rows: int, widest: int, itemsize: int) -> int:
    return max(1, min(n_rows, CHUNK_BYTES // max(1, widest * itemsize)))


def chunk_product(n_rows: int, coefs: list[np.ndarray], dtype) -> int:
    """Multiply-adds of the largest matrix product ``forward`` makes for one
    chunk of rows (how large a prediction's products are)."""
    widest = max(W.shape[1] for W in coefs)
    rows = _chunk_rows(n_rows, widest, np.dtype(dtype).itemsize)
    return max(rows * W.shape[0] * W.shape[1] for W in coefs)


def forward(
    X: np.ndarray,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activation: str,
    output_activation: str,
    parts: int = 1,
) -> np.ndarray:
    """Output of the network for every row of X, computed in chunks of rows.

    The temporary memory is bounded by ``CHUNK_BYTES`` whatever the number of
    rows; only the output (n_samples × n_outputs) grows with X.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    coefs, intercepts : lists of ndarray
        Weights and biases of each layer.
    activation : str
        Hidden activation name.
    output_activation : str
        Output activation name; "identity" returns the logits.
    parts : int, default=1
        Threads to share each chunk's rows between, each taking a block of rows
        through every layer (see ``_parallel.in_blocks``): for BLAS held at
        one thread.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
    """
    n_rows = X.shape[0]
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    widths = [c.shape[1] for c in coefs]
    out = np.empty((n_rows, widths[-1]), dtype=dtype)
    if n_rows == 0:
        return out
    hidden = ACTIVATIONS[activation].forward
    output = OUTPUT_ACTIVATIONS[output_activation]
    chunk = _chunk_rows(n_rows, max(widths), dtype.itemsize)
    # Two ping-pong buffers for the hidden layers of one chunk.
    hidden_widest = max(widths[:-1], default=0)
    buffers = [np.empty(chunk * hidden_widest, dtype=dtype) for _ in range(2)]
    last = len(coefs) - 1

    def through_layers(start: int, stop: int, block: slice) -> None:
        # rows block of the chunk X[start:stop], through every layer
        a = X[start + block.start : start + block.stop]
        for layer, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
            if layer == last:
                z = out[start + block.start : start + block.stop]
            else:
                flat = buffers[layer % 2][: (stop - start) * W.shape[1]]
                z = flat.reshape(stop - start, W.shape[1])[block]
            if isinstance(a, np.ndarray):
                np.matmul(a, W, out=z)
            else:  # sparse
                z[...] = a @ W
            z += b
            if layer != last:
                hidden(z, z)
            a = z
        output(a)  # while the outputs are still in cache

    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        blocks = min(parts, (stop - start) // MIN_BLOCK_ROWS)
        if blocks < 2:
            through_layers(start, stop, slice(0, stop - start))
        else:
            in_blocks(
                lambda block, start=start, stop=stop: through_layers(
                    start, stop, block
                ),
                stop - start,
                blocks,
            )
    return out


class Network:
    """Weights, gradient and work buffers of a multi-layer perceptron.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer: inputs, hidden layers (possibly none), outputs.
    activation : str
        Activation of every hidden layer, a key of ``_activations.ACTIVATIONS``.
    loss : str
        Loss, a key of ``_losses.LOSSES``; it fixes the output activation.
    dtype : numpy dtype
        float32 or float64; parameters, gradients and buffers all use it.
    dropout : sequence of float, default=None
        Dropout rate of each hidden layer during training (None: no dropout).
    params : ndarray of shape (n_params,), default=None
        A parameter vector to train in place (of this network's size and
        dtype); a new zero vector if None.
    loss_settings : dict, default=None
        Values of the parameters the loss reads (``Loss.settings``).

    Attributes
    ----------
    params, grad : ndarray of shape (n_params,)
        All weights, then all biases; the gradient in the same layout.
    coefs, intercepts, coef_grads, intercept_grads : lists of ndarray
        Per-layer views into ``params`` and ``grad``.
    """

    def __init__(
        self,
        layer_sizes,
        activation: str,
        loss: str,
        dtype,
        dropout=None,
        params=None,
        loss_settings=None,
    ) -> None:
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.output_activation = LOSSES[loss].output_activation
        self._hidden = ACTIVATIONS[activation]
        self._keeps_z = "z" in self._hidden.derivative_reads
        self._loss = LOSSES[loss].forward
        self.loss_settings = dict(loss_settings or {})
        n_hidden = len(self.layer_sizes) - 2
        self.dropout = (0.0,) * n_hidden if dropout is None else tuple(dropout)
        if len(self.dropout) != n_hidden:
            raise ValueError("one dropout rate per hidden layer is needed")
        self._dropout_rng = np.random.default_rng(0)
        self.n_weights, n_params = n_parameters(self.layer_sizes)
        if params is None:
            params = np.zeros(n_params, dtype=self.dtype)
        elif params.shape != (n_params,) or params.dtype != self.dtype:
            raise ValueError("params must be a flat vector of the network's size")
        self.params = params
        self.grad = np.zeros(n_params, dtype=self.dtype)
        self.coefs, self.intercepts = layer_views(self.params, self.layer_sizes)
        self.coef_grads, self.intercept_grads = layer_views(self.grad, self.layer_sizes)
        self._work = None
        self._capacity = 0
        self._views: dict[int, tuple] = {}
        # Blocks each dense product of a batch is split into, one per thread
        # (see _parallel.matmul); a fit sets it while it runs.
        self.matmul_parts = 1

    def set_dropout_rng(self, generator: np.random.Generator) -> None:
        """Random generator that draws the dropout masks during training."""
        self._dropout_rng = generator

    # -- buffers -----------------------------------------------------------
    def _buffers(self, rows: int) -> tuple:
        """Per-layer row views for a batch: activations, deltas, scratch, dropout
        masks, row scales, a ones vector, and the pre-activations z of the
        hidden layers when the derivative reads them (None otherwise)."""
        views = self._views.get(rows)
        if views is not None:
            return views
        widths = self.layer_sizes[1:]
        if rows > self._capacity:
            self._capacity = rows
            self._activation_store = [np.empty((rows, w), self.dtype) for w in widths]
            self._delta_store = [np.empty((rows, w), self.dtype) for w in widths]
            self._scratch_store = np.empty(rows * max(widths), self.dtype)
            self._mask_store = [
                np.empty((rows, w), self.dtype) if rate else None
                for w, rate in zip(widths, self.dropout, strict=False)
            ]
            self._weight_store = np.empty(rows, self.dtype)
            self._z_store = [
                np.empty((rows, w), self.dtype) if self._keeps_z else None
                for w in widths[:-1]
            ]
            self._views.clear()
        if len(self._views) >= 4:  # a full batch, a last batch, and chunks
            self._views.clear()
        activations = [buf[:rows] for buf in self._activation_store]
        deltas = [buf[:rows] for buf in self._delta_store]
        scratch = [self._scratch_store[: rows * w].reshape(rows, w) for w in widths]
        masks = [None if buf is None else buf[:rows] for buf in self._mask_store]
        zs = [None if buf is None else buf[:rows] for buf in self._z_store]
        views = (
            activations,
            deltas,
            scratch,
            masks,
            self._weight_store[:rows],
            ones(rows, self.dtype),
            zs,
        )
        self._views[rows] = views
        return views

    # -- forward and backward -------------------------------------------------
    def _forward(self, X, training: bool) -> tuple:
        """z_l = a_{l-1} W_l + b_l, a_l = f_l(z_l) for every layer but the output's
        activation, which the loss applies. Returns the batch's buffers.

        In training, a hidden layer l with dropout rate p keeps each unit with
        probability 1 - p and scales the kept ones by 1 / (1 - p) ("inverted
        dropout"): a_l ← a_l ⊙ m_l, m_l ∈ {0, 1/(1-p)}. The mask is kept for the
        backward pass.
        """
        buffers = self._buffers(X.shape[0])
        activations, masks, zs = buffers[0], buffers[3], buffers[6]
        coefs, intercepts = self.coefs, self.intercepts
        forward = self._hidden.forward
        last = len(coefs) - 1
        for layer in range(last + 1):
            z, bias = activations[layer], intercepts[layer]
            below = X if layer == 0 else activations[layer - 1]
            if layer == last:
                self._product(below, coefs[layer], z)
                z += bias
                break

            def bias_and_activate(rows: slice, a=z, z=zs[layer], bias=bias) -> None:
                part = a[rows]
                part += bias
                if z is not None:  # the derivative reads z: keep it
                    np.copyto(z[rows], part)
                forward(part, part)

            self._product(below, coefs[layer], z, then=bias_and_activate)
            rate = self.dropout[layer]
            if training and rate:
                mask = masks[layer]
                self._dropout_rng.random(out=mask, dtype=self.dtype)
                np.greater_equal(mask, rate, out=mask)
                mask *= 1.0 / (1.0 - rate)
                z *= mask
        return buffers

    def _product(self, a, W: np.ndarray, out: np.ndarray, then=None) -> None:
        """out = a W, then ``then(rows)`` on blocks of rows of ``out`` that cover it.

        A large dense product is split over threads by rows (``matmul_parts``,
        see ``_parallel.matmul``), and each thread goes on with ``then`` on its
        own rows while they are in its cache.
        """
        if not isinstance(a, np.ndarray):  # sparse
            out[...] = a @ W
        elif self.matmul_parts > 1:
            matmul(a, W, out, self.matmul_parts, then)
            return
        else:  # the common small case, with as few Python calls as can be
            np.matmul(a, W, out=out)
        if then is not None:
            in_halves(then, out.shape[0], out.shape[1])

    def _backward(self, X, buffers, coef_grads, intercept_grads) -> None:
        """Gradients from δ_L (already in the buffers) down to the first layer,
        written into the given per-layer views (of ``grad`` or of a work vector).
        """
        activations, deltas, scratch, masks, _, ones, zs = buffers
        coefs, derivative = self.coefs, self._hidden.derivative
        for layer in range(len(coefs) - 1, -1, -1):
            delta = deltas[layer]
            # ∂E/∂W_l = a_{l-1}ᵀ δ_l
            below = X if layer == 0 else activations[layer - 1]
            self._product(below.T, delta, coef_grads[layer])
            # ∂E/∂b_l = Σ_rows δ_l, as a product with a vector of ones (BLAS
            # sums the columns faster than a reduction does)
            np.matmul(ones, delta, out=intercept_grads[layer])
            if layer == 0:
                break
            # δ_{l-1} = (δ_l W_lᵀ) ⊙ f'(z_{l-1})  [⊙ m_{l-1} under dropout]
            delta_below, a_below = deltas[layer - 1], activations[layer - 1]
            mask, work = masks[layer - 1], scratch[layer - 1]
            rate, z_below = self.dropout[layer - 1], zs[layer - 1]

            def times_derivative(
                rows: slice,
                delta_below=delta_below,
                a=a_below,
                z=z_below,
                mask=mask,
                work=work,
                rate=rate,
            ) -> None:
                if rate and mask is not None:
                    delta_below[rows] *= mask[rows]
                    # undo the 1/(1-p) scaling so f' sees the unit's own output
                    a[rows] *= 1.0 - rate
                derivative(
                    delta_below[rows],
                    a[rows],
                    None if z is None else z[rows],
                    work[rows],
                )

            self._product(delta, coefs[layer].T, delta_below, then=times_derivative)

    def _data_loss(self, buffers, T, sample_weight, scale: float) -> float:
        """Output activation, Σ_i s_i ℓ_i, and δ_L = (a_L - t) ⊙ s / S."""
        activations, deltas, row_scale = buffers[0], buffers[1], buffers[4]
        total = self._loss(
            activations[-1], T, deltas[-1], sample_weight, **self.loss_settings
        )
        if sample_weight is None:
            deltas[-1] *= scale
        else:
            np.multiply(sample_weight, scale, out=row_scale)
            deltas[-1] *= row_scale[:, None]
        return total

    def _work_vector(self) -> np.ndarray:
        """A parameter-sized scratch vector (chunk gradients, the penalty)."""
        if self._work is None:
            self._work = np.empty_like(self.params)
        return self._work

    def _penalty(self, alpha: float, scale: float, gradient: bool) -> float:
        """½ α ‖W‖² / S over the leading weight block, and α W / S into grad."""
        if not alpha:
            return 0.0
        alpha = float(alpha)  # a NumPy float64 would promote float32 work
        weights, grad = self.params[: self.n_weights], self.grad[: self.n_weights]
        work = self._work_vector()[: self.n_weights]

        def penalise(part: slice) -> float:
            w = weights[part]
            if gradient:
                np.multiply(w, alpha * scale, out=work[part])
                grad[part] += work[part]
            return float(np.dot(w, w))

        return 0.5 * alpha * sum(in_halves(penalise, self.n_weights)) * scale

    def chunk_rows(self, n_rows: int) -> int:
        """Rows per chunk when n_rows are evaluated at once (L-BFGS, scoring)."""
        widest = max(self.layer_sizes[1:])
        return _chunk_rows(n_rows, widest, self.dtype.itemsize)

    def largest_product(self, rows: int) -> int:
        """Multiply-adds of the largest matrix product for a batch of rows."""
        return max(rows * i * o for i, o in pairwise(self.layer_sizes))

    def _chunks(self, n_rows: int, max_rows: int | None):
        if max_rows is None:
            max_rows = self.chunk_rows(n_rows)
        for start in range(0, n_rows, max_rows):
            yield slice(start, min(start + max_rows, n_rows))

    def loss_and_gradient(
        self,
        X,
        T: np.ndarray,
        sample_weight: np.ndarray | None = None,
        alpha: float = 0.0,
        max_rows: int | None = None,
    ) -> float:
        """Training loss E of the rows of X against targets T; fills ``self.grad``.

        Dropout, if any, is applied. Rows are processed in chunks, their
        gradients summed, so full-batch gradients need bounded memory.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        T : ndarray of shape (n_samples, n_outputs)
            Targets in the encoding of the loss (indicators for log-losses).
        sample_weight : ndarray of shape (n_samples,), default=None
        alpha : float, default=0.0
            L2 penalty on the weights (not the biases).
        max_rows : int, default=None
            Rows per chunk; by default chunks are sized so the widest layer
            fits in ``CHUNK_BYTES``.

        Returns
        -------
        float
            The loss E; ``self.grad`` holds ∂E/∂params.
        """
        n_rows = X.shape[0]
        total_weight = n_rows if sample_weight is None else sample_weight.sum()
        scale = 1.0 / float(total_weight)
        if max_rows is not None and max_rows >= n_rows:  # a mini-batch: one chunk
            buffers = self._forward(X, training=True)
            data_loss = self._data_loss(buffers, T, sample_weight, scale)
            self._backward(X, buffers, self.coef_grads, self.intercept_grads)
            return data_loss * scale + self._penalty(alpha, scale, gradient=True)
        data_loss = 0.0
        for rows in self._chunks(n_rows, max_rows):
            X_rows = X[rows]
            buffers = self._forward(X_rows, training=True)
            weights = None if sample_weight is None else sample_weight[rows]
            data_loss += self._data_loss(buffers, T[rows], weights, scale)
            if rows.start == 0:
                self._backward(X_rows, buffers, self.coef_grads, self.intercept_grads)
            else:  # later chunks: into a work vector, then summed
                work = self._work_vector()
                self._backward(X_rows, buffers, *layer_views(work, self.layer_sizes))
                self.grad += work
        return data_loss * scale + self._penalty(alpha, scale, gradient=True)

    def loss(
        self,
        X,
        T: np.ndarray,
        sample_weight: np.ndarray | None = None,
        alpha: float = 0.0,
        outputs: np.ndarray | None = None,
        training: bool = False,
    ) -> float:
        """Loss E without its gradient: a forward pass only.

        Parameters
        ----------
        X, T, sample_weight, alpha
            As for ``loss_and_gradient``.
        outputs : ndarray of shape (n_samples, n_outputs), default=None
            If given, receives the network's outputs a_L for X.
        training : bool, default=False
            Apply dropout, as training does (held-out data is scored without).

        Returns
        -------
        float
        """
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        scale = 1.0 / float(total_weight)
        data_loss = 0.0
        for rows in self._chunks(X.shape[0], None):
            buffers = self._forward(X[rows], training=training)
            weights = None if sample_weight is None else sample_weight[rows]
            data_loss += self._data_loss(buffers, T[rows], weights, scale)
            if outputs is not None:
                outputs[rows] = buffers[0][-1]
        return data_loss * scale + self._penalty(alpha, scale, gradient=False)

    def predict(self, X) -> np.ndarray:
        """Network output for X with the current parameters (see ``forward``)."""
        return forward(
            X, self.coefs, self.intercepts, self.activation, self.output_activation
        )

    def initialize(self, random_state: np.random.RandomState) -> None:
        """Draw every weight and bias by the activation's initialisation rule.

        Layer by layer, the weights and then the bias are drawn uniformly in
        ±bound, the bound given by the rule (``Activation.init``) from the
        layer's fan-in and fan-out; for scikit-learn's four activations that is
        scikit-learn's Glorot rule, so the same seed gives scikit-learn's draws.
        """
        rule = self._hidden.init
        last = len(self.coefs) - 1
        for layer, (W, b) in enumerate(zip(self.coefs, self.intercepts, strict=True)):
            fan_in, fan_out = W.shape
            bound = (rule.output if layer == last else rule.hidden)(fan_in, fan_out)
            W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
            b[...] = random_state.uniform(-bound, bound, fan_out)
