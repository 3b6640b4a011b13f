# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""The layers of a network run over a range of rows: products and row parts.

For layer l with weights W_l, bias b_l and activation f:

    forward:   z_l = a_{l-1} W_l + b_l,  a_l = f(z_l)   (z_L, the output, as is);
    backward:  ∂E/∂W_l = a_{l-1}ᵀ δ_l,  ∂E/∂b_l = Σ_rows δ_l,
               δ_{l-1} = (δ_l W_lᵀ) ⊙ f'(z_{l-1})   [⊙ m_{l-1} under dropout].

A network may read its input through a numerical embedding (``_embeddings``)
and may be k packed members: each row then runs as k copies, side by side
(row i's copy for member m is row i k + m), each scaled by its member's r,
through the shared hidden layers and its member's own head (the m-th block
of the last layer's columns); the loss is the members' mean. The scaled
copies are never made: member m's first layer is (x ⊙ r_m) W_1 = x (diag(r_m)
W_1), so the k first layers are one product of X with the members' weights
side by side (``member_weights``).

``batch_part`` is one part of a batch: it gathers its rows, runs them forward,
applies the loss (``_losses``) and runs them backward into its own gradient
vector. A batch's parts run at the same time on the helper threads
(``_threads``); their gradients are summed by the optimizer's pass.
"""

from libc.stdlib cimport calloc, free, malloc

from ._activations cimport bias_activate, times_derivative
from ._blas cimport gemm
from ._embeddings cimport embed, embedding_backward
from ._losses cimport loss_and_delta, output_activation
from ._threads cimport part_start
from ._vector cimport real


# -- a network's shape -------------------------------------------------------------
cdef Layout* new_layout(tuple sizes, int activation, int loss, bint keep_z) except NULL:
    """A layout of these widths (their weight and bias pointers are set
    apart: ``point_into``, or one by one)."""
    cdef int n_layers = len(sizes) - 1, layer
    cdef Py_ssize_t offset = 0
    cdef Layout* layout = <Layout*> calloc(1, sizeof(Layout))
    if layout == NULL:
        raise MemoryError()
    layout.n_layers = n_layers
    layout.sizes = <int*> malloc((n_layers + 1) * sizeof(int))
    layout.weights = <const void**> calloc(n_layers, sizeof(void*))
    layout.biases = <const void**> calloc(n_layers, sizeof(void*))
    layout.weight_offset = <Py_ssize_t*> malloc(n_layers * sizeof(Py_ssize_t))
    layout.bias_offset = <Py_ssize_t*> malloc(n_layers * sizeof(Py_ssize_t))
    if (layout.sizes == NULL or layout.weights == NULL or layout.biases == NULL
            or layout.weight_offset == NULL or layout.bias_offset == NULL):
        free_layout(layout)
        raise MemoryError()
    for layer in range(n_layers + 1):
        layout.sizes[layer] = sizes[layer]
    for layer in range(n_layers):
        layout.weight_offset[layer] = offset
        offset += <Py_ssize_t> layout.sizes[layer] * layout.sizes[layer + 1]
        layout.multiply_adds += 3.0 * layout.sizes[layer] * layout.sizes[layer + 1]
    layout.n_weights = offset
    for layer in range(n_layers):
        layout.bias_offset[layer] = offset
        offset += layout.sizes[layer + 1]
    layout.n_params = offset
    layout.activation, layout.loss, layout.keep_z = activation, loss, keep_z
    layout.members, layout.n_outputs = 1, layout.sizes[n_layers]
    layout.member_offset = offset
    layout.embedding.kind = -1
    layout.embedding.param_offset = offset
    return layout


cdef void point_into(Layout* layout, size_t flat, Py_ssize_t itemsize) noexcept:
    """Weights and biases as views of one flat vector at address ``flat``."""
    cdef int layer
    for layer in range(layout.n_layers):
        layout.weights[layer] = <void*> (flat + layout.weight_offset[layer] * itemsize)
        layout.biases[layer] = <void*> (flat + layout.bias_offset[layer] * itemsize)
    layout.member_scales = <void*> (flat + layout.member_offset * itemsize)
    layout.embedding_params = <void*> (
        flat + layout.embedding.param_offset * itemsize
    )


cdef void free_layout(Layout* layout) noexcept:
    if layout == NULL:
        return
    free(layout.sizes)
    free(layout.weights)
    free(layout.biases)
    free(layout.weight_offset)
    free(layout.bias_offset)
    free(layout)


# -- forward and backward over rows -------------------------------------------------
cdef void forward_rows(
    const Layout* layout, const real* X, Py_ssize_t rows, Py_ssize_t first,
    const Batch* batch, bint apply_dropout, const double* dropout, int output,
    const real* member_first,
) noexcept nogil:
    """a_l = f(a_{l-1} W_l + b_l) for the hidden layers, z_L = a_{L-1} W_L + b_L,
    for ``rows`` rows starting at row ``first`` of the batch's arrays (X: those
    rows' inputs). Dropout multiplies a hidden layer's output by its mask,
    whose uniform draws are already in place: m = 1/(1-p) where the draw is
    at least p, 0 elsewhere. ``output`` (an output activation's code, or -1
    for none) is then applied to z_L. With k members, ``rows`` counts the
    copies (X has rows / k rows) and ``member_first`` holds the members'
    first-layer weights (``member_weights``)."""
    cdef int layer, last = layout.n_layers - 1, fan_in, fan_out
    cdef const real* below = X
    cdef real* a
    cdef real* z
    cdef real* mask
    cdef real keep, rate
    cdef Py_ssize_t i, n
    for layer in range(layout.n_layers):
        fan_in, fan_out = layout.sizes[layer], layout.sizes[layer + 1]
        if layer == last and layout.members > 1:
            a = <real*> batch.activations[layer] + first * layout.n_outputs
            heads(layout, below, rows, a)
            if output >= 0:
                output_activation(a, rows, layout.n_outputs, output)
            break
        a = <real*> batch.activations[layer] + first * fan_out
        if layer == 0 and layout.members > 1:  # each row's k copies side by side
            gemm(False, False, rows // layout.members, layout.members * fan_out,
                 fan_in, below, fan_in, member_first, layout.members * fan_out, 0, a,
                 layout.members * fan_out)
        else:
            gemm(False, False, rows, fan_out, fan_in, below, fan_in,
                 <const real*> layout.weights[layer], fan_out, 0, a, fan_out)
        if layer == last:
            add_bias(a, <const real*> layout.biases[layer], rows, fan_out)
            if output >= 0:
                output_activation(a, rows, fan_out, output)
            break
        z = NULL
        if batch.pre_activations[layer] != NULL:
            z = <real*> batch.pre_activations[layer] + first * fan_out
        bias_activate(a, z, <const real*> layout.biases[layer], rows, fan_out,
                      layout.activation)
        if apply_dropout and dropout[layer] > 0:
            mask = <real*> batch.masks[layer] + first * fan_out
            # in the dtype, as NumPy compares and scales with Python floats
            rate = <real> dropout[layer]
            keep = <real> (1.0 / (1.0 - dropout[layer]))
            n = rows * fan_out
            for i in range(n):
                mask[i] = keep if mask[i] >= rate else 0
                a[i] = a[i] * mask[i]
        below = a


cdef void heads(
    const Layout* layout, const real* below, Py_ssize_t rows, real* out,
) noexcept nogil:
    """z = a W_m + b_m of each member's rows (every k-th row from row m)
    through its head (the m-th block of the last layer's columns), into out
    (rows × the outputs of a member)."""
    cdef int m, k = layout.members, last = layout.n_layers - 1
    cdef int fan_in = layout.sizes[last], width = layout.n_outputs
    cdef Py_ssize_t i, j
    cdef const real* W = <const real*> layout.weights[last]
    cdef const real* b = <const real*> layout.biases[last]
    for m in range(k):
        gemm(False, False, rows // k, width, fan_in, below + m * fan_in, k * fan_in,
             W + m * width, k * width, 0, out + m * width, k * width)
    for i in range(rows):
        m = i % k
        for j in range(width):
            out[i * width + j] = out[i * width + j] + b[m * width + j]


cdef void heads_backward(
    const Layout* layout, real* grad, bint accumulate, const real* below,
    Py_ssize_t rows, const real* delta, real* delta_below,
) noexcept nogil:
    """Each head's gradient from its member's rows (into the m-th block of the
    last layer's columns), and δ below the heads."""
    cdef int m, k = layout.members, last = layout.n_layers - 1
    cdef int fan_in = layout.sizes[last], width = layout.n_outputs
    cdef Py_ssize_t i, j
    cdef const real* W = <const real*> layout.weights[last]
    cdef real* W_grad = grad + layout.weight_offset[last]
    cdef real* b_grad = grad + layout.bias_offset[last]
    for m in range(k):
        gemm(True, False, fan_in, width, rows // k, below + m * fan_in, k * fan_in,
             delta + m * width, k * width, 1 if accumulate else 0,
             W_grad + m * width, k * width)
        if delta_below != NULL:
            gemm(False, True, rows // k, fan_in, width, delta + m * width, k * width,
                 W + m * width, k * width, 0, delta_below + m * fan_in, k * fan_in)
    if not accumulate:
        for j in range(k * width):
            b_grad[j] = 0
    for i in range(rows):
        m = i % k
        for j in range(width):
            b_grad[m * width + j] = b_grad[m * width + j] + delta[i * width + j]


cdef void add_bias(real* z, const real* bias, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef real* row
    for i in range(rows):
        row = z + i * cols
        for j in range(cols):
            row[j] = row[j] + bias[j]


cdef void backward_rows(
    const Layout* layout, real* grad, bint accumulate, const real* X,
    Py_ssize_t rows, Py_ssize_t first, const Batch* batch, bint apply_dropout,
    const double* dropout, real* member_first,
) noexcept nogil:
    """From δ_L (already in place) down to the first layer, for ``rows`` rows
    starting at row ``first`` of the batch's arrays, written into (or, with
    ``accumulate``, added to) the flat gradient vector ``grad``. With k
    members, as in ``forward_rows``; the members' scales get their gradient
    too."""
    cdef int layer, fan_in, fan_out
    cdef const real* below
    cdef real* delta
    cdef real* delta_below
    cdef real* a_below
    cdef real* z_below
    cdef real* mask
    cdef real* bias_grad
    cdef real unscale
    cdef Py_ssize_t i, j, n
    cdef int last = layout.n_layers - 1
    for layer in range(last, -1, -1):
        fan_in, fan_out = layout.sizes[layer], layout.sizes[layer + 1]
        below = X if layer == 0 else <real*> batch.activations[layer - 1] + first * fan_in
        delta_below = NULL
        if layer > 0:
            delta_below = <real*> batch.deltas[layer - 1] + first * fan_in
        if layer == last and layout.members > 1:
            delta = <real*> batch.deltas[layer] + first * layout.n_outputs
            heads_backward(layout, grad, accumulate, below, rows, delta, delta_below)
        else:
            delta = <real*> batch.deltas[layer] + first * fan_out
            if layer == 0 and layout.members > 1:
                members_first_backward(layout, grad, accumulate, below,
                                       rows // layout.members, delta, member_first)
            else:
                gemm(True, False, fan_in, fan_out, rows, below, fan_in, delta, fan_out,
                     1 if accumulate else 0, grad + layout.weight_offset[layer],
                     fan_out)
            bias_grad = grad + layout.bias_offset[layer]
            if not accumulate:
                for j in range(fan_out):
                    bias_grad[j] = 0
            for i in range(rows):
                for j in range(fan_out):
                    bias_grad[j] = bias_grad[j] + delta[i * fan_out + j]
            if layer > 0:
                gemm(False, True, rows, fan_in, fan_out, delta, fan_out,
                     <const real*> layout.weights[layer], fan_out, 0, delta_below,
                     fan_in)
        if layer == 0:
            break
        a_below = <real*> batch.activations[layer - 1] + first * fan_in
        n = rows * fan_in
        if apply_dropout and dropout[layer - 1] > 0:
            mask = <real*> batch.masks[layer - 1] + first * fan_in
            # undo the 1/(1-p) scaling so that f' sees the unit's own output
            unscale = <real> (1.0 - dropout[layer - 1])
            for i in range(n):
                delta_below[i] = delta_below[i] * mask[i]
                a_below[i] = a_below[i] * unscale
        z_below = NULL
        if batch.pre_activations[layer - 1] != NULL:
            z_below = <real*> batch.pre_activations[layer - 1] + first * fan_in
        times_derivative(delta_below, a_below, z_below, n, layout.activation)


# -- one part of a batch -------------------------------------------------------------
cdef extern from *:
    """
    /* A hint that memory will soon be read; nothing where unsupported. */
    #if defined(__GNUC__) || defined(__clang__)
    #define SKNN_PREFETCH(address) __builtin_prefetch(address)
    #else
    #define SKNN_PREFETCH(address) ((void) (address))
    #endif
    """
    void prefetch "SKNN_PREFETCH"(const void* address) noexcept nogil


cdef enum:
    PREFETCH_ROWS = 8  # how far ahead a gather asks for the rows it will copy


cdef inline void prefetch_row(const real* row, Py_ssize_t n) noexcept nogil:
    """Ask for every cache line (64 bytes) of a row of n elements."""
    cdef Py_ssize_t offset
    for offset in range(0, n * <Py_ssize_t> sizeof(real), 64):
        prefetch(<const char*> row + offset)


cdef inline void copy(real* to, const real* source, Py_ssize_t n) noexcept nogil:
    # a loop the compiler unrolls, rather than memcpy: rows are short, and a
    # call per row cost 8% of a small network's batch
    cdef Py_ssize_t i
    for i in range(n):
        to[i] = source[i]


cdef void batch_part_typed(BatchJob* job, int part, real* tag) noexcept nogil:
    cdef Py_ssize_t first = part_start(job.rows, part, job.parts)
    cdef Py_ssize_t rows = part_start(job.rows, part + 1, job.parts) - first
    cdef Py_ssize_t i, source, n_in = job.n_inputs, n_out = job.n_outputs
    cdef const real* X_rows
    cdef const real* T_rows
    cdef const real* weights = NULL
    cdef const real* inputs
    cdef real* member_first = NULL
    cdef int last = job.layout.n_layers - 1, k
    if rows == 0:
        job.losses[part] = 0
        return
    if job.order != NULL:
        for i in range(first, first + rows):
            if i + PREFETCH_ROWS < first + rows:  # rows in random order: ask early
                source = job.order[job.start + i + PREFETCH_ROWS]
                prefetch_row(<const real*> job.X + source * n_in, n_in)
                prefetch_row(<const real*> job.T + source * n_out, n_out)
            source = job.order[job.start + i]
            copy(<real*> job.X_rows + i * n_in, <const real*> job.X + source * n_in,
                 n_in)
            copy(<real*> job.T_rows + i * n_out, <const real*> job.T + source * n_out,
                 n_out)
        X_rows = <const real*> job.X_rows + first * n_in
        T_rows = <const real*> job.T_rows + first * n_out
    else:
        X_rows = <const real*> job.X + (job.start + first) * n_in
        T_rows = <const real*> job.T + (job.start + first) * n_out
    if job.weights != NULL:
        weights = <const real*> job.weights + first
    # k packed members: each row runs as k copies, side by side
    k = job.layout.members
    inputs = first_input(job.layout, X_rows, rows, first, job.batch)
    if k > 1:
        once_per_copy(k, &T_rows, &weights, rows, first, n_out, job.batch)
        member_first = member_weights(job.layout, job.batch, part, member_first)
    forward_rows(job.layout, inputs, k * rows, k * first, job.batch,
                 job.apply_dropout, job.dropout, -1, member_first)
    job.losses[part] = loss_and_delta(
        <real*> job.batch.activations[last] + k * first * n_out, T_rows,
        <real*> job.batch.deltas[last] + k * first * n_out, weights, k * rows,
        n_out, job.layout.loss, job.layout.loss_settings, <real> job.scale,
    )
    if job.backward:
        backward_rows(job.layout, <real*> job.grads[part], job.accumulate, inputs,
                      k * rows, k * first, job.batch, job.apply_dropout,
                      job.dropout, member_first)
        input_backward(job.layout, <real*> job.grads[part], job.accumulate, X_rows,
                       rows, first, job.batch, member_first)


cdef const real* first_input(
    const Layout* layout, const real* X, Py_ssize_t rows, Py_ssize_t first,
    const Batch* batch,
) noexcept nogil:
    """What the first layer reads for ``rows`` rows of X (row ``first`` of
    the batch on): X, or its embedding (into batch.inputs)."""
    cdef Py_ssize_t width = layout.sizes[0]
    cdef real* out
    if layout.embedding.kind < 0:
        return X
    out = <real*> batch.inputs + first * width
    embed(&layout.embedding, X, rows, <const real*> layout.embedding_params, out)
    return out


# -- packed members' first layer ---------------------------------------------------
# Member m reads x ⊙ r_m, so its first layer is (x ⊙ r_m) W_1 = x V_m with
# V_m = diag(r_m) W_1. Side by side, the k matrices V_m (sizes[0] × k sizes[1])
# make the k first layers one product, whose output rows are each row's k
# copies side by side, as the layers above read them. Backward, one product
# G = Xᵀ δ_1 (again k blocks G_m side by side) gives both gradients:
#     ∂E/∂W_1 = Σ_m diag(r_m) G_m,    ∂E/∂r_m[j] = Σ_c W_1[j, c] G_m[j, c],
# and the input's gradient (for a trained embedding) is δ_1 [V_1 … V_k]ᵀ.
# Each part keeps its V_m and G in its own work array, 2 × sizes[0] × k sizes[1].

cdef real* member_weights(
    const Layout* layout, const Batch* batch, int part, real* tag,
) noexcept nogil:
    """Part ``part``'s work array, its first half now [V_1 … V_k]."""
    cdef int m, k = layout.members, width = layout.sizes[0], hidden = layout.sizes[1]
    cdef Py_ssize_t j, c, size = <Py_ssize_t> width * k * hidden
    cdef real* weights = <real*> batch.member_work + 2 * size * part
    cdef const real* W = <const real*> layout.weights[0]
    cdef const real* r = <const real*> layout.member_scales
    cdef real* row
    cdef real scale
    for j in range(width):
        for m in range(k):
            scale = r[m * width + j]
            row = weights + (j * k + m) * hidden
            for c in range(hidden):
                row[c] = scale * W[j * hidden + c]
    return weights


cdef void members_first_backward(
    const Layout* layout, real* grad, bint accumulate, const real* X,
    Py_ssize_t rows, const real* delta, real* member_first,
) noexcept nogil:
    """∂E/∂W_1 and ∂E/∂r_m of ``rows`` rows of X (not copies) from δ_1, each
    row's k copies side by side, written into (or added to) grad."""
    cdef int m, k = layout.members, width = layout.sizes[0], hidden = layout.sizes[1]
    cdef Py_ssize_t j, c
    cdef real* G = member_first + <Py_ssize_t> width * k * hidden
    cdef const real* W = <const real*> layout.weights[0]
    cdef const real* r = <const real*> layout.member_scales
    cdef real* W_grad = grad + layout.weight_offset[0]
    cdef real* r_grad = grad + layout.member_offset
    cdef const real* G_m
    cdef real* W_grad_row
    cdef real scale, total
    gemm(True, False, width, k * hidden, rows, X, width, delta, k * hidden, 0, G,
         k * hidden)
    for j in range(width):
        W_grad_row = W_grad + j * hidden
        for m in range(k):
            G_m = G + (j * k + m) * hidden
            total = 0
            for c in range(hidden):
                total = total + W[j * hidden + c] * G_m[c]
            r_grad[m * width + j] = (r_grad[m * width + j] + total) if accumulate else total
            scale = r[m * width + j]
            if m == 0 and not accumulate:
                for c in range(hidden):
                    W_grad_row[c] = scale * G_m[c]
            else:
                for c in range(hidden):
                    W_grad_row[c] = W_grad_row[c] + scale * G_m[c]


cdef void once_per_copy(
    int k, const real** T, const real** weights, Py_ssize_t rows, Py_ssize_t first,
    Py_ssize_t n_out, const Batch* batch,
) noexcept nogil:
    """Each row's targets (and weight) once per copy, into batch.targets (and
    batch.copy_weights), where *T and *weights then point: the k members
    are scored against the same rows."""
    cdef Py_ssize_t i, j
    cdef int m
    cdef real* targets = <real*> batch.targets + k * first * n_out
    cdef real* copied
    for i in range(rows):
        for m in range(k):
            for j in range(n_out):
                targets[(i * k + m) * n_out + j] = T[0][i * n_out + j]
    T[0] = targets
    if weights[0] != NULL:
        copied = <real*> batch.copy_weights + k * first
        for i in range(rows):
            for m in range(k):
                copied[i * k + m] = weights[0][i]
        weights[0] = copied


cdef void input_backward(
    const Layout* layout, real* grad, bint accumulate, const real* X,
    Py_ssize_t rows, Py_ssize_t first, const Batch* batch, const real* member_first,
) noexcept nogil:
    """Below the first layer: the gradient of its input, δ_1 W_1ᵀ (for k
    members, δ_1 [V_1 … V_k]ᵀ: each row's copies summed), and from it the
    gradient of the embedding's trainable parameters, written into (or, with
    ``accumulate``, added to) grad. Nothing without a trained embedding."""
    cdef int k = layout.members
    cdef Py_ssize_t width = layout.sizes[0], hidden = layout.sizes[1]
    cdef real* input_delta
    cdef const real* W = <const real*> layout.weights[0]
    if not (layout.embedding.kind >= 0 and layout.embedding.size > 0):
        return
    if k > 1:
        W = member_first
    input_delta = <real*> batch.input_delta + first * width
    gemm(False, True, rows, width, k * hidden,
         <const real*> batch.deltas[0] + k * first * hidden, k * hidden,
         W, k * hidden, 0, input_delta, width)
    embedding_backward(&layout.embedding, X, rows,
                       <const real*> layout.embedding_params,
                       <const real*> batch.inputs + first * width, input_delta,
                       grad + layout.embedding.param_offset, accumulate)


cdef void batch_part(void* job, int part) noexcept nogil:
    """Part ``part`` of a batch (``run_parts``' work, for either dtype)."""
    if (<BatchJob*> job).single:
        batch_part_typed(<BatchJob*> job, part, <float*> NULL)
    else:
        batch_part_typed(<BatchJob*> job, part, <double*> NULL)


# -- a network on its flat vectors, with its work arrays ------------------------------
import numpy as np

from ._activations import CODES as ACTIVATION_CODES
from ._embeddings import CODES as EMBEDDING_CODES
from ._losses import LOSS_CODES


cdef void* _address(array) except? NULL:
    if array is None:
        return NULL
    return <void*> <size_t> array.ctypes.data


def _check_vector(name, array, n, dtype=None):
    """A writeable C-ordered float vector of n entries (of ``dtype``)."""
    if not (
        isinstance(array, np.ndarray)
        and array.ndim == 1
        and array.shape[0] == n
        and array.dtype in (np.float32, np.float64)
        and (dtype is None or array.dtype == dtype)
        and array.flags.c_contiguous
        and array.flags.writeable
    ):
        raise ValueError(
            f"{name} must be a writeable C-ordered vector of {n} float32 or float64 "
            f"values{'' if dtype is None else f' ({dtype})'}; got "
            f"{getattr(array, 'shape', None)} of "
            f"{getattr(array, 'dtype', type(array).__name__)}"
        )


cdef class CompiledNetwork:
    """The compiled engine for one ``_reference._network.Network``: its
    layout, the pointers into its parameter and gradient vectors, and work
    arrays sized for the largest batch seen. Everything it is given is
    checked here: the C code trusts only what this class has checked.

    Parameters
    ----------
    layer_sizes : tuple of int
    activation, loss : str
        Names with a compiled kernel (``_activations.CODES``,
        ``_losses.LOSS_CODES``).
    keep_z : bool
        Whether the activation's derivative reads the pre-activation.
    dropout : tuple of float
        One rate in [0, 1) per hidden layer.
    params, grad : ndarray of shape (n_params,)
        The network's parameter and gradient vectors (float32 or float64,
        C-ordered, writeable), trained in place.
    loss_settings : ndarray of shape (n_outputs,), default=None
        The loss's setting (``huber_delta``, ``quantile``) for each output
        column, if it has one: finite float64 values (kept, and read by the
        loss kernel). None: zeros, for a loss without a setting.
    """

    def __cinit__(self, tuple layer_sizes, str activation, str loss, bint keep_z,
                  tuple dropout, params, grad, loss_settings=None, int members=1,
                  embedding=None):
        cdef int layer, n_layers = len(layer_sizes) - 1
        if n_layers < 1 or not all(
            isinstance(size, int) and 0 < size < 2**31 for size in layer_sizes
        ):
            raise ValueError(f"layer sizes must be positive ints; got {layer_sizes}")
        if activation not in ACTIVATION_CODES or loss not in LOSS_CODES:
            raise ValueError(f"no compiled kernel for {activation!r} or {loss!r}")
        if len(dropout) != n_layers - 1 or not all(0 <= r < 1 for r in dropout):
            raise ValueError(f"one dropout rate in [0, 1) per hidden layer; got {dropout}")
        if members < 1 or layer_sizes[n_layers] % members or (
            members > 1 and n_layers < 2
        ):
            raise ValueError(
                f"{members} members need a hidden layer and a multiple of "
                f"{members} outputs; got {layer_sizes}"
            )
        self.layout = new_layout(layer_sizes, ACTIVATION_CODES[activation],
                                 LOSS_CODES[loss], keep_z)
        self.layout.members = members
        self.layout.n_outputs = layer_sizes[n_layers] // members
        # every layer below the heads runs once per member; the heads (the
        # last layer's k blocks) once in all
        self.layout.multiply_adds += (members - 1) * (
            self.layout.multiply_adds
            - 3.0 * layer_sizes[n_layers - 1] * layer_sizes[n_layers]
        )
        if members > 1:  # the members' scales r follow the biases
            self.layout.n_params += members * layer_sizes[0]
        self.layout.embedding.param_offset = self.layout.n_params
        if embedding is not None:
            self.layout.n_params += self._set_embedding(embedding, layer_sizes[0])
        _check_vector("params", params, self.layout.n_params)
        _check_vector("grad", grad, self.layout.n_params, params.dtype)
        n_outputs = self.layout.n_outputs
        if loss_settings is None:
            loss_settings = np.zeros(n_outputs)
        if not (
            isinstance(loss_settings, np.ndarray)
            and loss_settings.shape == (n_outputs,)
            and loss_settings.dtype == np.float64
            and loss_settings.flags.c_contiguous
            and np.isfinite(loss_settings).all()
        ):
            raise ValueError(
                f"loss_settings must be a C-ordered float64 vector of {n_outputs} "
                f"finite values, one per output; got "
                f"{getattr(loss_settings, 'shape', None)} of "
                f"{getattr(loss_settings, 'dtype', type(loss_settings).__name__)}"
            )
        # a copy of its own, which nothing outside can change under the kernels
        self.loss_settings = loss_settings.copy()
        self.loss_settings.flags.writeable = False
        self.layout.loss_settings = <const double*> <size_t> (
            self.loss_settings.ctypes.data
        )
        point_into(self.layout, <size_t> params.ctypes.data, params.itemsize)
        self.dropout = <double*> calloc(n_layers, sizeof(double))
        self.any_dropout = False
        for layer in range(n_layers - 1):
            self.dropout[layer] = dropout[layer]
            self.any_dropout = self.any_dropout or dropout[layer] > 0
        self.params, self.grad, self.dtype = params, grad, params.dtype
        self.batch.activations = <void**> calloc(n_layers, sizeof(void*))
        self.batch.pre_activations = <void**> calloc(n_layers, sizeof(void*))
        self.batch.deltas = <void**> calloc(n_layers, sizeof(void*))
        self.batch.masks = <void**> calloc(n_layers, sizeof(void*))
        if (self.dropout == NULL or self.batch.activations == NULL
                or self.batch.pre_activations == NULL or self.batch.deltas == NULL
                or self.batch.masks == NULL):
            raise MemoryError()
        self.capacity = 0
        self.buffers = []
        self.part_grads = []
        self.grads = NULL
        self.n_grads = 0

    cdef Py_ssize_t _set_embedding(self, embedding, Py_ssize_t width) except -1:
        """Point the layout's embedding at arrays of its own, checked, made
        from a ``_reference._embeddings.NumericalEmbedding``; returns its
        number of trainable parameters."""
        cdef Embedding* e = &self.layout.embedding
        if embedding.kind not in EMBEDDING_CODES:
            raise ValueError(f"no compiled embedding {embedding.kind!r}")
        columns = np.array(embedding.columns, dtype=np.intp)
        passthrough = np.array(embedding.passthrough, dtype=np.intp)
        n_features = int(embedding.n_features)
        widths = np.array(
            embedding.entry.widths(embedding.constants, embedding.size), dtype=np.intp
        )
        if not (
            columns.ndim == passthrough.ndim == 1
            and columns.size + passthrough.size == n_features
            and np.array_equal(
                np.sort(np.concatenate([columns, passthrough])), np.arange(n_features)
            )
            and widths.shape == columns.shape
            and np.all(widths >= 1)
            and int(widths.sum()) + passthrough.size == width
        ):
            raise ValueError(
                f"the embedding does not give the first layer's {width} inputs"
            )
        offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
        trains = embedding.entry.backward is not None
        if trains:
            constants = np.zeros(1)
            constant_offsets = np.zeros(columns.size + 1, np.intp)
        else:  # fixed encodings: each column's run of constants (PLE's edges)
            runs = [np.asarray(c, dtype=np.float64).ravel() for c in embedding.constants]
            if len(runs) != columns.size or not all(
                run.size == w + 1 and np.all(np.isfinite(run)) and np.all(np.diff(run) > 0)
                for run, w in zip(runs, widths)
            ):
                raise ValueError("the embedding's constants do not fit its columns")
            constants = np.concatenate(runs)
            constant_offsets = np.concatenate(
                [[0], np.cumsum([run.size for run in runs])]
            ).astype(np.intp)
        self.embedding_arrays = (
            columns, passthrough, offsets, constants, constant_offsets
        )
        e.kind = EMBEDDING_CODES[embedding.kind]
        e.n_features, e.n_embedded = n_features, columns.size
        e.n_passthrough = passthrough.size
        e.columns = <const Py_ssize_t*> <size_t> columns.ctypes.data
        e.passthrough = <const Py_ssize_t*> <size_t> passthrough.ctypes.data
        e.offsets = <const Py_ssize_t*> <size_t> offsets.ctypes.data
        e.constants = <const double*> <size_t> constants.ctypes.data
        e.constant_offsets = <const Py_ssize_t*> <size_t> constant_offsets.ctypes.data
        e.size = int(embedding.size) if trains else 0
        e.width = width
        return columns.size * e.size

    def __dealloc__(self):
        free_layout(self.layout)
        free(self.dropout)
        free(self.batch.activations)
        free(self.batch.pre_activations)
        free(self.batch.deltas)
        free(self.batch.masks)
        free(self.grads)

    @property
    def layer_sizes(self):
        return tuple(self.layout.sizes[i] for i in range(self.layout.n_layers + 1))

    cdef int check_data(self, X, T, sample_weight) except -1:
        """X and T as the network reads them: C-ordered, of its dtype, with
        its input and output widths and one row each; one weight per row."""
        cdef Embedding* e = &self.layout.embedding
        n_features = e.n_features if e.kind >= 0 else self.layout.sizes[0]
        for name, array, width in (
            ("X", X, n_features),
            ("T", T, self.layout.n_outputs),
        ):
            if not (
                isinstance(array, np.ndarray)
                and array.ndim == 2
                and array.shape[1] == width
                and array.dtype == self.dtype
                and array.flags.c_contiguous
            ):
                raise ValueError(
                    f"{name} must be a C-ordered {self.dtype} array of {width} "
                    f"columns; got {getattr(array, 'shape', None)} of "
                    f"{getattr(array, 'dtype', type(array).__name__)}"
                )
        if T.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but T has {T.shape[0]}")
        if sample_weight is not None and not (
            isinstance(sample_weight, np.ndarray)
            and sample_weight.shape == (X.shape[0],)
            and sample_weight.dtype == self.dtype
            and sample_weight.flags.c_contiguous
        ):
            raise ValueError(
                f"sample_weight must be a C-ordered {self.dtype} vector of "
                f"{X.shape[0]} weights"
            )
        return 0

    cdef int reserve(self, Py_ssize_t rows, int parts, bint gather) except -1:
        """Work arrays for batches of up to ``rows`` rows cut in ``parts``,
        with buffers to gather shuffled rows into if ``gather`` (made once
        per fit: only a larger batch makes them anew). With k members every
        layer's arrays hold k rows per row, and each part has the work array
        of the members' first layer."""
        cdef int layer, n_layers = self.layout.n_layers, width
        cdef int k = self.layout.members
        cdef Py_ssize_t copies = k * rows, n_inputs = self.layout.sizes[0]
        cdef Embedding* e = &self.layout.embedding
        if rows > self.capacity:
            self.buffers = []
            for layer in range(n_layers):
                hidden = layer < n_layers - 1
                width = self.layout.sizes[layer + 1] if hidden else self.layout.n_outputs
                arrays = (
                    np.empty((copies, width), self.dtype),
                    np.empty((copies, width), self.dtype),
                    np.empty((copies, width), self.dtype)
                    if hidden and self.layout.keep_z else None,
                    np.empty((copies, width), self.dtype)
                    if hidden and self.dropout[layer] > 0 else None,
                )
                self.buffers.append(arrays)
                self.batch.activations[layer] = _address(arrays[0])
                self.batch.deltas[layer] = _address(arrays[1])
                self.batch.pre_activations[layer] = _address(arrays[2])
                self.batch.masks[layer] = _address(arrays[3])
            embedded, trains = e.kind >= 0, e.kind >= 0 and e.size > 0
            self.input_arrays = (
                np.empty((rows, n_inputs), self.dtype) if embedded else None,
                np.empty((rows, n_inputs), self.dtype) if trains else None,
                np.empty((copies, self.layout.n_outputs), self.dtype) if k > 1 else None,
                np.empty(copies, self.dtype) if k > 1 else None,
            )
            self.batch.inputs = _address(self.input_arrays[0])
            self.batch.input_delta = _address(self.input_arrays[1])
            self.batch.targets = _address(self.input_arrays[2])
            self.batch.copy_weights = _address(self.input_arrays[3])
            self.X_rows = self.T_rows = self.w_rows = None
            self.capacity = rows
        if gather and (self.X_rows is None or self.X_rows.shape[0] < rows):
            n_features = e.n_features if e.kind >= 0 else n_inputs
            self.X_rows = np.empty((rows, n_features), self.dtype)
            self.T_rows = np.empty((rows, self.layout.n_outputs), self.dtype)
            self.w_rows = np.empty(rows, self.dtype)
        if parts > self.n_grads:
            self.part_grads = [np.empty_like(self.grad) for _ in range(parts - 1)]
            free(self.grads)
            self.grads = <void**> malloc(parts * sizeof(void*))
            if self.grads == NULL:
                self.n_grads = 0
                raise MemoryError()
            self.grads[0] = _address(self.grad)
            for layer in range(1, parts):
                self.grads[layer] = _address(self.part_grads[layer - 1])
            self.n_grads = parts
            if k > 1:  # each part's [V_1 … V_k] and G (see member_weights)
                self.member_work = np.empty(
                    parts * 2 * n_inputs * k * self.layout.sizes[1], self.dtype
                )
                self.batch.member_work = _address(self.member_work)
        return 0

    cdef object mask_drawer(self, rng):
        """A function that draws each dropout mask's uniform numbers for
        ``rows`` rows from ``rng``, in the order the reference draws them;
        None without dropout."""
        if not self.any_dropout:
            return None
        masks = [arrays[3] for arrays in self.buffers]
        dtype, k = self.dtype, self.layout.members

        def draw(rows):  # (every copy of each row: k rows per row)
            for mask in masks:
                if mask is not None:
                    rng.random(out=mask[: k * rows], dtype=dtype)

        return draw

    def output(self, Py_ssize_t rows):
        """The outputs a_L of the last ``rows`` rows evaluated: a view, or for
        k members the mean of each row's k copies, as the reference takes it."""
        cdef int k = self.layout.members
        outputs = self.buffers[len(self.buffers) - 1][0][: k * rows]
        if k == 1:
            return outputs
        return outputs.reshape(rows, k, self.layout.n_outputs).mean(axis=1)
