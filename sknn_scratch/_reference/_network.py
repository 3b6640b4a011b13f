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
from typing import NamedTuple

import numpy as np

from .._engine import compile_network, compiled, compiled_predictor
from ._activations import ACTIVATIONS, OUTPUT_ACTIVATIONS, ones
from ._losses import LOSSES

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


def _contiguous(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else np.ascontiguousarray(array)


def forward(
    X: np.ndarray,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activation: str,
    output_activation: str,
    embedding=None,
    embedding_params: np.ndarray | None = None,
    member_scales: np.ndarray | None = None,
) -> np.ndarray:
    """Output of the network for every row of X, computed in chunks of rows.

    The temporary memory is bounded by ``CHUNK_BYTES`` whatever the number of
    rows; only the output (n_samples × n_outputs) grows with X. Dense data of
    the weights' dtype with a compiled activation go through the compiled
    engine (``_compiled.predict``), in any memory layout.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    coefs, intercepts : lists of ndarray
        Weights and biases of each layer.
    activation : str
        Hidden activation name.
    output_activation : str
        Output activation name; "identity" returns the logits.
    embedding : NumericalEmbedding, default=None
        The first layer's view of some columns (``_embeddings``), with its
        trainable parameters ``embedding_params``.
    member_scales : ndarray of shape (k, n_inputs), default=None
        The input scales of k packed members (see ``Network``), whose heads
        sit side by side in the last layer: the output is the mean of the
        members' outputs (after the output activation).

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
    """
    n_rows = X.shape[0]
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    members = 1 if member_scales is None else member_scales.shape[0]
    widths = [c.shape[1] for c in coefs]
    n_outputs = widths[-1] // members
    out = np.empty((n_rows, n_outputs), dtype=dtype)
    if n_rows == 0:
        return out
    predict = None
    if embedding is None and members == 1:  # (none compiled yet)
        predict = compiled_predictor(X, coefs, intercepts, activation)
    if predict is not None:
        return predict(X, coefs, intercepts, activation, output_activation, out)
    hidden = ACTIVATIONS[activation].forward
    output = OUTPUT_ACTIVATIONS[output_activation]
    chunk = _chunk_rows(n_rows, max(widths) * members, dtype.itemsize)
    # Two ping-pong buffers for the hidden layers of one chunk (every
    # member's rows, one member after the other).
    hidden_widest = max(widths[:-1], default=0)
    buffers = [np.empty(members * chunk * hidden_widest, dtype) for _ in range(2)]
    inputs = None if embedding is None else np.empty((chunk, embedding.width), dtype)
    if members > 1:
        scaled = np.empty((members * chunk, coefs[0].shape[0]), dtype)
        outputs = np.empty((members * chunk, n_outputs), dtype)
    last = len(coefs) - 1
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        rows = stop - start
        a = X[start:stop]
        if embedding is not None:
            embedding.forward(a, embedding_params, inputs[:rows])
            a = inputs[:rows]
        if members > 1:  # each row's member copies, side by side
            dense = a if isinstance(a, np.ndarray) else a.toarray()
            np.multiply(
                dense[:, None, :],
                member_scales,
                out=scaled[: members * rows].reshape(rows, members, -1),
            )
            a = scaled[: members * rows]
        for layer, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
            if layer == last and members > 1:  # each member through its head
                z = outputs[: members * rows]
                _heads(a, W, b, members, z)
                output(z)
                np.mean(
                    z.reshape(rows, members, n_outputs), axis=1, out=out[start:stop]
                )
                break
            if layer == last:
                z = out[start:stop]
            else:
                z = buffers[layer % 2][: members * rows * W.shape[1]]
                z = z.reshape(members * rows, W.shape[1])
            if isinstance(a, np.ndarray):
                np.matmul(a, W, out=z)
            else:  # sparse
                z[...] = a @ W
            z += b
            if layer != last:
                hidden(z, z)
            a = z
        else:
            output(a)  # while the outputs are still in cache
    return out


def _heads(below, W, b, members: int, out) -> None:
    """z = a W_m + b_m of each member's rows through its own head: a member's
    rows are every members-th row (each row's copies sit side by side), and
    its head the m-th block of columns of the last layer."""
    width = out.shape[1]
    rows = below.shape[0] // members
    below = below.reshape(rows, members, -1)
    z = out.reshape(rows, members, width)
    for m in range(members):
        head = slice(m * width, (m + 1) * width)
        np.matmul(below[:, m], W[:, head], out=z[:, m])
        z[:, m] += b[head]


class BatchBuffers(NamedTuple):
    """The work arrays of one batch (row views, made once per batch size)."""

    activations: list[np.ndarray]  # a_l per layer (a_L: the output)
    deltas: list[np.ndarray]  # δ_l per layer
    scratch: list[np.ndarray]  # free arrays of each layer's shape
    masks: list[np.ndarray | None]  # dropout masks (None: no dropout there)
    row_scale: np.ndarray  # s_i / S per row
    ones: np.ndarray  # n ones (row sums as a product)
    zs: list[np.ndarray | None]  # pre-activations, where the derivative reads z
    inputs: np.ndarray | None  # the first layer's input, where X is embedded
    input_delta: np.ndarray | None  # its gradient, where the embedding trains
    member_inputs: np.ndarray | None  # each member's scaled inputs (members > 1)
    member_delta: np.ndarray | None  # their gradient
    targets: np.ndarray | None  # the targets, once per member
    member_weights: np.ndarray | None  # the sample weights, once per member


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
        Values of the parameters the loss reads (``Loss.settings``): each one
        value for every output, or a vector of one value per output column
        (the quantile of each output, for several quantiles in one network).
    embedding : NumericalEmbedding, default=None
        The first layer's view of X (``_embeddings``); ``layer_sizes[0]`` is
        then its width. Its trainable parameters come last.
    members : int, default=1
        Packed members k (TabM-mini): each member reads the first layer's
        input scaled by its own vector r_m, shares the hidden layers, and has
        its own output layer ("head"); ``layer_sizes[-1]`` is then k times the
        outputs, the heads side by side. A batch of B rows runs as k B rows,
        each row's k copies side by side (row i's copy for member m is row
        i k + m), so that any range of rows holds whole copies. The loss is
        the mean of the members' losses, and the prediction the mean of their
        outputs. The scales r follow the biases.

    Attributes
    ----------
    params, grad : ndarray of shape (n_params,)
        All weights, then all biases, then the embedding's parameters; the
        gradient in the same layout.
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
        embedding=None,
        members=1,
    ) -> None:
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self.embedding = embedding
        self.members = int(members)
        if self.members < 1 or self.layer_sizes[-1] % self.members:
            raise ValueError(
                f"{self.layer_sizes[-1]} outputs cannot be {self.members} members'"
            )
        self.n_outputs = self.layer_sizes[-1] // self.members
        if embedding is not None and embedding.width != self.layer_sizes[0]:
            raise ValueError(
                f"the embedding gives {embedding.width} inputs to a first layer of "
                f"{self.layer_sizes[0]}"
            )
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.output_activation = LOSSES[loss].output_activation
        self._hidden = ACTIVATIONS[activation]
        self._keeps_z = "z" in self._hidden.derivative_reads
        self.loss_name = loss
        self._loss = LOSSES[loss].forward
        self.loss_settings = dict(loss_settings or {})
        n_outputs = self.layer_sizes[-1]
        for name, value in self.loss_settings.items():
            if np.ndim(value) != 0 and np.shape(value) != (n_outputs,):
                raise ValueError(
                    f"the loss setting {name} must be one value, or one per output "
                    f"({n_outputs}); got an array of shape {np.shape(value)}"
                )
        n_hidden = len(self.layer_sizes) - 2
        self.dropout = (0.0,) * n_hidden if dropout is None else tuple(dropout)
        if len(self.dropout) != n_hidden:
            raise ValueError("one dropout rate per hidden layer is needed")
        self.dropout_rng = np.random.default_rng(0)
        self.n_weights, n_layer_params = n_parameters(self.layer_sizes)
        self.n_member_scales = (
            0 if self.members == 1 else self.members * (self.layer_sizes[0])
        )
        n_params = n_layer_params + self.n_member_scales
        n_params += 0 if embedding is None else embedding.n_params
        if params is None:
            params = np.zeros(n_params, dtype=self.dtype)
        elif not (
            isinstance(params, np.ndarray)
            and params.shape == (n_params,)
            and params.dtype == self.dtype
            and params.flags.c_contiguous
            and params.flags.writeable
        ):
            raise ValueError(
                f"params must be a writeable C-ordered vector of the network's "
                f"{n_params} {self.dtype} parameters; got "
                f"{getattr(params, 'shape', None)} of "
                f"{getattr(params, 'dtype', type(params).__name__)}"
            )
        self.params = params
        self.grad = np.zeros(n_params, dtype=self.dtype)
        self.coefs, self.intercepts = layer_views(self.params, self.layer_sizes)
        self.coef_grads, self.intercept_grads = layer_views(self.grad, self.layer_sizes)
        self.embedding_params = self._embedding_view(self.params)
        self.embedding_grad = self._embedding_view(self.grad)
        self.member_scales = self._member_view(self.params)
        self.member_scales_grad = self._member_view(self.grad)
        self._work = None
        self._capacity = 0
        self._views: dict[int, BatchBuffers] = {}
        # The compiled engine for this network, or None (see _engine).
        self.compiled = compile_network(self)

    def _embedding_view(self, flat: np.ndarray) -> np.ndarray | None:
        """The embedding's trainable parameters in a flat vector (after the
        layers' weights and biases), one row per embedded column."""
        if self.embedding is None or not self.embedding.n_params:
            return None
        start = n_parameters(self.layer_sizes)[1] + self.n_member_scales
        return flat[start:].reshape(self.embedding.columns.size, self.embedding.size)

    def _member_view(self, flat: np.ndarray) -> np.ndarray | None:
        """The members' input scales r in a flat vector (after the weights and
        biases), one row per member; None for a single network."""
        if self.members == 1:
            return None
        start = n_parameters(self.layer_sizes)[1]
        stop = start + self.n_member_scales
        return flat[start:stop].reshape(self.members, self.layer_sizes[0])

    @property
    def hidden_activation(self):
        """The table entry of the hidden activation."""
        return self._hidden

    @property
    def loss_entry(self):
        """The table entry of the loss."""
        return LOSSES[self.loss_name]

    def column_settings(self) -> np.ndarray:
        """The loss's setting for each output column, as float64 (zeros for a
        loss without one): a loss reads at most one setting."""
        if len(self.loss_settings) > 1:
            raise ValueError(
                f"a loss reads at most one setting; got {sorted(self.loss_settings)}"
            )
        value = next(iter(self.loss_settings.values()), 0.0)
        columns = np.empty(self.n_outputs, dtype=np.float64)  # (of each member)
        columns[...] = value  # one value for all, or one per column
        return columns

    def set_dropout_rng(self, generator: np.random.Generator) -> None:
        """Random generator that draws the dropout masks during training."""
        self.dropout_rng = generator

    # -- buffers -----------------------------------------------------------
    def _buffers(self, rows: int) -> "BatchBuffers":
        """The work arrays of a batch of ``rows`` rows (views of arrays made
        for the largest batch seen)."""
        views = self._views.get(rows)
        if views is not None:
            return views
        batch_rows, k = rows, self.members
        rows = k * batch_rows  # each member's rows, one member after the other
        widths = (*self.layer_sizes[1:-1], self.n_outputs)
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
            embedded = self.embedding is not None
            trains = embedded and self.embedding.trainable
            n_inputs, packed = self.layer_sizes[0], k > 1
            self._input_store = (
                np.empty((rows, n_inputs), self.dtype) if embedded else None
            )
            self._input_delta_store = (
                np.empty((rows, n_inputs), self.dtype) if trains else None
            )
            self._member_stores = (
                [
                    np.empty((rows, n_inputs), self.dtype),  # inputs
                    np.empty((rows, n_inputs), self.dtype),  # their delta
                    np.empty((rows, self.n_outputs), self.dtype),  # targets
                    np.empty(rows, self.dtype),  # weights
                ]
                if packed
                else [None] * 4
            )
            self._views.clear()
        if len(self._views) >= 4:  # a full batch, a last batch, and chunks
            self._views.clear()
        activations = [buf[:rows] for buf in self._activation_store]
        deltas = [buf[:rows] for buf in self._delta_store]
        scratch = [self._scratch_store[: rows * w].reshape(rows, w) for w in widths]
        masks = [None if buf is None else buf[:rows] for buf in self._mask_store]
        zs = [None if buf is None else buf[:rows] for buf in self._z_store]
        views = BatchBuffers(
            activations,
            deltas,
            scratch,
            masks,
            self._weight_store[:rows],
            ones(rows, self.dtype),
            zs,
            None if self._input_store is None else self._input_store[:batch_rows],
            None
            if self._input_delta_store is None
            else self._input_delta_store[:batch_rows],
            *(None if store is None else store[:rows] for store in self._member_stores),
        )
        self._views[batch_rows] = views
        return views

    # -- packed members -----------------------------------------------------------
    def _member_inputs(self, inputs, out: np.ndarray) -> np.ndarray:
        """Each member's input: each row of ``inputs`` scaled by r_m, the
        members' copies of a row side by side (row i's copy for member m is
        row i k + m)."""
        rows = inputs.shape[0]
        dense = inputs if isinstance(inputs, np.ndarray) else inputs.toarray()
        np.multiply(
            dense[:, None, :],
            self.member_scales,
            out=out.reshape(rows, self.members, -1),
        )
        return out

    def _member_heads_backward(
        self, below, delta, coef_grad, intercept_grad, delta_below
    ) -> None:
        """Each head's gradient from its member's rows, and δ below it."""
        k, width = self.members, self.n_outputs
        rows = below.shape[0] // k
        W = self.coefs[-1]
        below = below.reshape(rows, k, -1)
        delta = delta.reshape(rows, k, width)
        if delta_below is not None:
            delta_below = delta_below.reshape(rows, k, -1)
        for m in range(k):
            head = slice(m * width, (m + 1) * width)
            coef_grad[:, head] = below[:, m].T @ delta[:, m]
            intercept_grad[head] = delta[:, m].sum(axis=0)
            if delta_below is not None:
                np.matmul(delta[:, m], W[:, head].T, out=delta_below[:, m])

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
        activations, masks, zs = buffers.activations, buffers.masks, buffers.zs
        coefs, intercepts = self.coefs, self.intercepts
        forward = self._hidden.forward
        inputs = X
        if self.embedding is not None:  # the first layer reads the embedding
            self.embedding.forward(X, self.embedding_params, buffers.inputs)
            inputs = buffers.inputs
        if self.members > 1:  # each member reads the inputs scaled by its r
            inputs = self._member_inputs(inputs, buffers.member_inputs)
        last = len(coefs) - 1
        for layer in range(last + 1):
            z, bias = activations[layer], intercepts[layer]
            below = inputs if layer == 0 else activations[layer - 1]
            if layer == last and self.members > 1:
                _heads(below, coefs[layer], bias, self.members, z)
                break
            self._product(below, coefs[layer], z)
            z += bias
            if layer == last:
                break
            if zs[layer] is not None:  # the derivative reads z: keep it
                np.copyto(zs[layer], z)
            forward(z, z)
            rate = self.dropout[layer]
            if training and rate:
                mask = masks[layer]
                self.dropout_rng.random(out=mask, dtype=self.dtype)
                np.greater_equal(mask, rate, out=mask)
                mask *= 1.0 / (1.0 - rate)
                z *= mask
        return buffers

    @staticmethod
    def _product(a, W: np.ndarray, out: np.ndarray) -> None:
        """out = a W, for dense or sparse a."""
        if isinstance(a, np.ndarray):
            np.matmul(a, W, out=out)
        else:  # sparse
            out[...] = a @ W

    def _backward(
        self,
        X,
        buffers,
        coef_grads,
        intercept_grads,
        embedding_grad=None,
        member_grad=None,
    ) -> None:
        """Gradients from δ_L (already in the buffers) down to the first layer,
        written into the given per-layer views (of ``grad`` or of a work vector),
        and on into the members' scales (``member_grad``) and the embedding's
        trainable parameters (``embedding_grad``).
        """
        activations, deltas, scratch = (
            buffers.activations,
            buffers.deltas,
            buffers.scratch,
        )
        masks, ones, zs = buffers.masks, buffers.ones, buffers.zs
        coefs, derivative = self.coefs, self._hidden.derivative
        # a_0: X, or its embedding; each member's scaled copy of it
        inputs = X if buffers.inputs is None else buffers.inputs
        first = inputs if self.members == 1 else buffers.member_inputs
        last = len(coefs) - 1
        for layer in range(last, -1, -1):
            delta = deltas[layer]
            below = first if layer == 0 else activations[layer - 1]
            if layer == last and self.members > 1:  # each member's own head
                delta_below = deltas[layer - 1] if layer else None
                self._member_heads_backward(
                    below, delta, coef_grads[layer], intercept_grads[layer], delta_below
                )
            else:
                # ∂E/∂W_l = a_{l-1}ᵀ δ_l
                self._product(below.T, delta, coef_grads[layer])
                # ∂E/∂b_l = Σ_rows δ_l, as a product with a vector of ones
                # (BLAS sums the columns faster than a reduction does)
                np.matmul(ones, delta, out=intercept_grads[layer])
            if layer == 0:
                self._input_backward(
                    X, buffers, inputs, delta, embedding_grad, member_grad
                )
                break
            # δ_{l-1} = (δ_l W_lᵀ) ⊙ f'(z_{l-1})  [⊙ m_{l-1} under dropout]
            delta_below, a_below = deltas[layer - 1], activations[layer - 1]
            mask, work = masks[layer - 1], scratch[layer - 1]
            rate, z_below = self.dropout[layer - 1], zs[layer - 1]
            if not (layer == last and self.members > 1):  # (the heads did it)
                self._product(delta, coefs[layer].T, delta_below)
            if rate and mask is not None:
                delta_below *= mask
                # undo the 1/(1-p) scaling so f' sees the unit's own output
                a_below *= 1.0 - rate
            derivative(delta_below, a_below, z_below, work)

    def _input_backward(
        self, X, buffers, inputs, delta, embedding_grad, member_grad
    ) -> None:
        """Below the first layer: the members' scales r (∂E/∂r_m = Σ_rows a_0 ⊙
        (δ_1 W_1ᵀ) over member m's rows) and the embedding's trainable
        parameters, from the first layer's input gradient δ_1 W_1ᵀ."""
        trains = buffers.input_delta is not None
        if self.members == 1:
            if trains:
                np.matmul(delta, self.coefs[0].T, out=buffers.input_delta)
        else:
            rows = inputs.shape[0]
            dense = inputs if isinstance(inputs, np.ndarray) else inputs.toarray()
            member_delta = buffers.member_delta
            np.matmul(delta, self.coefs[0].T, out=member_delta)
            input_delta = buffers.input_delta
            if trains:
                input_delta[...] = 0.0
            per_member = member_delta.reshape(rows, self.members, -1)
            for m, scale in enumerate(self.member_scales):
                own = per_member[:, m]
                member_grad[m] = np.einsum("ij,ij->j", dense, own)
                if trains:  # the input's own gradient: Σ_m r_m ⊙ δ_m
                    input_delta += own * scale
        if trains:
            self.embedding.backward(
                X, self.embedding_params, inputs, buffers.input_delta, embedding_grad
            )

    def _data_loss(self, buffers, T, sample_weight, scale: float) -> float:
        """Output activation, Σ_i s_i ℓ_i, and δ_L = (a_L - t) ⊙ s / S (over
        every member's rows: each member is scored against the targets)."""
        activations, deltas = buffers.activations, buffers.deltas
        row_scale = buffers.row_scale
        if self.members > 1:  # each row's targets and weight, once per copy
            rows, k = T.shape[0], self.members
            buffers.targets.reshape(rows, k, -1)[...] = T[:, None, :]
            if sample_weight is not None:
                buffers.member_weights.reshape(rows, k)[...] = sample_weight[:, None]
            T = buffers.targets
            sample_weight = None if sample_weight is None else buffers.member_weights
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
        if gradient:
            work = self._work_vector()[: self.n_weights]
            np.multiply(weights, alpha * scale, out=work)
            grad += work
        return 0.5 * alpha * float(np.dot(weights, weights)) * scale

    def chunk_rows(self, n_rows: int) -> int:
        """Rows per chunk when n_rows are evaluated at once (L-BFGS, scoring)."""
        widest = max(self.layer_sizes[1:]) * self.members
        return _chunk_rows(n_rows, widest, self.dtype.itemsize)

    def _scales(self, n_rows: int, sample_weight) -> tuple[float, float]:
        """1 / S, S the total weight of the rows (the L2 penalty's), and the
        data loss's 1 / (k S): the mean of the k members' losses."""
        total_weight = n_rows if sample_weight is None else sample_weight.sum()
        scale = 1.0 / float(total_weight)
        return scale, (scale if self.members == 1 else scale / self.members)

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
        if self.runs_compiled(X):
            rows = self.chunk_rows(n_rows) if max_rows is None else max_rows
            return self._compiled_objective(
                X, T, sample_weight, alpha, True, True, rows
            )
        scale, data_scale = self._scales(n_rows, sample_weight)
        grads = (
            self.coef_grads,
            self.intercept_grads,
            self.embedding_grad,
            self.member_scales_grad,
        )
        if max_rows is not None and max_rows >= n_rows:  # a mini-batch: one chunk
            buffers = self._forward(X, training=True)
            data_loss = self._data_loss(buffers, T, sample_weight, data_scale)
            self._backward(X, buffers, *grads)
            return data_loss * data_scale + self._penalty(alpha, scale, gradient=True)
        data_loss = 0.0
        for rows in self._chunks(n_rows, max_rows):
            X_rows = X[rows]
            buffers = self._forward(X_rows, training=True)
            weights = None if sample_weight is None else sample_weight[rows]
            data_loss += self._data_loss(buffers, T[rows], weights, data_scale)
            if rows.start == 0:
                self._backward(X_rows, buffers, *grads)
            else:  # later chunks: into a work vector, then summed
                work = self._work_vector()
                self._backward(
                    X_rows,
                    buffers,
                    *layer_views(work, self.layer_sizes),
                    self._embedding_view(work),
                    self._member_view(work),
                )
                self.grad += work
        return data_loss * data_scale + self._penalty(alpha, scale, gradient=True)

    def _compiled_objective(
        self, X, T, sample_weight, alpha, gradient, training, chunk_rows, outputs=None
    ) -> float:
        """The compiled engine's ``loss_and_gradient`` (gradient=True) or
        ``loss``, with this network's dropout draws."""
        return compiled.objective(
            self.compiled,
            X,
            np.ascontiguousarray(T),
            _contiguous(sample_weight),
            float(alpha),
            gradient,
            training,
            chunk_rows,
            self.dropout_rng,
            outputs,
        )

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
        if self.runs_compiled(X):
            rows = self.chunk_rows(X.shape[0])
            return self._compiled_objective(
                X, T, sample_weight, alpha, False, training, rows, outputs
            )
        scale, data_scale = self._scales(X.shape[0], sample_weight)
        data_loss = 0.0
        for rows in self._chunks(X.shape[0], None):
            buffers = self._forward(X[rows], training=training)
            weights = None if sample_weight is None else sample_weight[rows]
            data_loss += self._data_loss(buffers, T[rows], weights, data_scale)
            if outputs is not None:  # the members' mean output
                members = buffers.activations[-1].reshape(
                    -1, self.members, self.n_outputs
                )
                np.mean(members, axis=1, out=outputs[rows])
        return data_loss * data_scale + self._penalty(alpha, scale, gradient=False)

    def predict(self, X) -> np.ndarray:
        """Network output for X with the current parameters (see ``forward``)."""
        return forward(
            X,
            self.coefs,
            self.intercepts,
            self.activation,
            self.output_activation,
            self.embedding,
            self.embedding_params,
            self.member_scales,
        )

    def runs_compiled(self, X) -> bool:
        """Whether the compiled engine computes on X (dense, C-ordered, of the
        network's dtype); the reference computes on anything else."""
        return (
            self.compiled is not None
            and isinstance(X, np.ndarray)
            and X.dtype == self.dtype
            and X.flags.c_contiguous
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
            if layer == last:  # (each member's head: its own outputs)
                fan_out = self.n_outputs
            bound = (rule.output if layer == last else rule.hidden)(fan_in, fan_out)
            fan_out = W.shape[1]
            W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
            b[...] = random_state.uniform(-bound, bound, fan_out)
        if self.member_scales is not None:  # random signs, as TabM's
            signs = random_state.randint(0, 2, self.member_scales.shape)
            self.member_scales[...] = 2.0 * signs - 1.0
        if self.embedding_params is not None:  # after the layers' draws
            self.embedding.initialize(self.embedding_params, random_state)
