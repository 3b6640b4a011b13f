# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""The full-data objective: the loss E over all rows, and its gradient.

What L-BFGS minimises, and what scores a validation set: the rows are taken
in chunks (bounded memory), each chunk cut into row parts for the helper
threads; the first chunk writes each part's gradient vector and later ones add
to them, so that the order of the sums depends on the sizes alone. A call on
the main thread runs Python's pending signal handlers between chunks, so that
Ctrl-C stops it within a chunk. It computes what
``_reference._network.Network.loss_and_gradient`` (and ``loss``) compute.
"""

import numpy as np

from cpython.exc cimport PyErr_CheckSignals
from libc.string cimport memset

from ._layers cimport BatchJob, CompiledNetwork, batch_part
from ._optimizers cimport TOTAL_GRADIENT, StepJob, combine_parts, step_part
from ._threads cimport (
    MAX_PARTS,
    claim_helpers,
    max_parts,
    release_helpers,
    row_parts,
    run_parts,
    vector_parts,
)
from ._vector cimport real


def objective(
    CompiledNetwork net, const real[:, ::1] X, const real[:, ::1] T, sample_weight,
    double alpha, bint gradient, bint training, Py_ssize_t chunk_rows, dropout_rng,
    outputs=None,
):
    """The loss E over all rows of X, in chunks of ``chunk_rows`` rows, and
    with ``gradient`` its gradient into ``net.grad``; ``training`` applies
    dropout, its masks drawn from ``dropout_rng``. ``outputs``, if given,
    receives the network's outputs a_L (an array of X's rows and the
    network's outputs, in its dtype)."""
    cdef Py_ssize_t n_samples = X.shape[0], chunk, start, rows, i
    cdef bint weighted = sample_weight is not None
    cdef double total_weight = n_samples, data_loss = 0, penalty = 0
    cdef double losses[MAX_PARTS]
    cdef double squares[MAX_PARTS]
    cdef double per_row = net.layout.multiply_adds
    cdef int part, parts_written = 1, most = max_parts(), threads
    cdef int k = net.layout.members
    cdef BatchJob job
    cdef StepJob step
    cdef const real[::1] weights
    cdef real[::1] params = net.params
    X_array, T_array = np.asarray(X), np.asarray(T)
    net.check_data(X_array, T_array, sample_weight)
    if n_samples == 0:
        raise ValueError("the objective needs at least one row")
    if not 1 <= chunk_rows < 2**31:
        raise ValueError(f"chunk_rows must be a positive int below 2**31; got {chunk_rows}")
    if outputs is not None and not (
        isinstance(outputs, np.ndarray)
        and outputs.shape == T_array.shape
        and outputs.dtype == net.dtype
        and outputs.flags.writeable
    ):
        raise ValueError(f"outputs must be a writeable {net.dtype} array of {T_array.shape}")
    weights = sample_weight if weighted else np.empty(0, net.dtype)
    if weighted:
        total_weight = 0
        for i in range(n_samples):
            total_weight += weights[i]
    rows = min(chunk_rows, n_samples)
    memset(&job, 0, sizeof(job))
    job.parts = row_parts(rows, per_row, most)
    net.reserve(rows, job.parts, False)
    draw = net.mask_drawer(dropout_rng) if training else None
    job.single = real is float
    job.layout, job.grads = net.layout, net.grads
    job.X, job.T = &X[0, 0], &T[0, 0]
    job.n_inputs, job.n_outputs = X.shape[1], T.shape[1]
    job.batch, job.dropout = &net.batch, net.dropout
    job.apply_dropout, job.backward = training, gradient
    # the data loss is the k members' mean; the penalty's scale is the rows' own
    job.losses = losses
    job.scale = 1.0 / total_weight if k == 1 else 1.0 / total_weight / k
    memset(&step, 0, sizeof(step))
    step.single = real is float
    step.kind = TOTAL_GRADIENT
    step.params = &params[0]
    step.n, step.n_weights = params.shape[0], net.layout.n_weights
    step.parts = vector_parts(step.n, most, job.parts)
    step.squares = squares
    step.penalty_factor = alpha * (1.0 / total_weight)
    # Between two calls L-BFGS-B's algebra runs on SciPy's BLAS pool, whose
    # idle threads spin; ours do not (spinning made L-BFGS fits of the digits
    # 15-30% slower)
    threads = claim_helpers(max(job.parts, step.parts), False)
    try:
        for chunk in range((n_samples + chunk_rows - 1) // chunk_rows):
            start = chunk * chunk_rows
            rows = min(chunk_rows, n_samples - start)
            if draw is not None:
                draw(rows)
            job.start, job.rows = start, rows
            job.weights = &weights[start] if weighted else NULL
            job.parts = row_parts(rows, per_row, most)
            # The first chunk is the largest, so later chunks add to the part
            # gradients it wrote, and never cut into more parts.
            job.accumulate = start > 0
            parts_written = max(parts_written, job.parts)
            with nogil:
                run_parts(batch_part, &job, job.parts, threads)
                for part in range(job.parts):
                    data_loss += losses[part]
            if outputs is not None:
                outputs[start:start + rows] = net.output(rows)
            PyErr_CheckSignals()  # Ctrl-C between row chunks (main thread)
        data_loss *= job.scale
        if gradient:
            with nogil:
                combine_parts(&step, net.grads, parts_written, threads)
                run_parts(step_part, &step, step.parts, threads)
                for part in range(step.parts):
                    penalty += squares[part]
        else:
            for i in range(net.layout.n_weights):
                penalty += params[i] * params[i]
    finally:
        release_helpers(threads)
    return data_loss + 0.5 * alpha * penalty * (1.0 / total_weight)
