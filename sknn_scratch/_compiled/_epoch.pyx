# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""The epoch driver: one pass of mini-batch training, whole, without the GIL.

Batch after batch, with no Python between them: the gather of the shuffled
rows, forward, loss and backward on the batch's row parts (``_layers``, at
the same time on the helper threads), then the optimizer's pass over the
parameter vector with the L2 penalty's gradient folded in (``_optimizers``).
Only dropout's masks are drawn by NumPy's generator, as in the reference, and
a call on the main thread looks for Ctrl-C between batches (``_threads``).

It computes what ``_reference._training.MiniBatchTrainer.epoch`` computes.
"""

import numpy as np

from libc.string cimport memset

from ._layers cimport BatchJob, CompiledNetwork, batch_part
from ._optimizers cimport StepJob, combine_parts, set_optimizer, step_part
from ._threads cimport (
    MAX_PARTS,
    Interrupts,
    claim_helpers,
    look_for_interrupt,
    max_parts,
    release_helpers,
    row_parts,
    run_parts,
    vector_parts,
    watch_interrupts,
)
from ._vector cimport real


def epoch(
    CompiledNetwork net, const real[:, ::1] X, const real[:, ::1] T, sample_weight,
    order, Py_ssize_t batch_size, optimizer, scalars_of_steps, decays_of_steps,
    double alpha, dropout_rng,
):
    """One pass of mini-batch training over X (see ``_training``).

    Parameters
    ----------
    net : CompiledNetwork
    X, T : ndarray
        C-ordered data and encoded targets, in the network's dtype.
    sample_weight : ndarray or None
    order : ndarray of intp or None
        The epoch's order of the rows, a permutation of range(n); None takes
        them as they are.
    batch_size : int
        Rows per batch, in [1, n] (the last batch takes what is left).
    optimizer : SGD or Adam
        Its state is updated in place, and it is told how many steps the
        epoch took (``steps_taken``), also when a Ctrl-C ends the epoch.
    scalars_of_steps, decays_of_steps : sequence of float
        The scalar and the weight decay of each step the epoch takes, in
        order (``optimizer.epoch_scalars``): a batch of zero-weight rows takes
        none.
    alpha : float
        L2 penalty.
    dropout_rng : numpy Generator or None
        Draws the dropout masks, as the reference does.

    Returns
    -------
    float
        Σ_batches loss_b · rows_b / n_samples, scikit-learn's epoch loss.
    """
    cdef Py_ssize_t n_samples = X.shape[0], n_params = net.layout.n_params
    cdef Py_ssize_t rows, batch_index, start, i, steps = 0, n_batches
    cdef double total = 0, total_weight, data_loss, penalty
    cdef double losses[MAX_PARTS]
    cdef double squares[MAX_PARTS]
    cdef double per_row = net.layout.multiply_adds
    cdef int part, most = max_parts(), threads, k = net.layout.members
    cdef BatchJob job
    cdef StepJob step
    cdef Interrupts interrupts = watch_interrupts()
    cdef const real[::1] weights
    cdef const Py_ssize_t[::1] rows_order
    cdef real[::1] w_rows
    cdef const double[::1] scalars, decays
    cdef bint weighted = sample_weight is not None, shuffled = order is not None
    X_array, T_array = np.asarray(X), np.asarray(T)
    net.check_data(X_array, T_array, sample_weight)
    if not 1 <= batch_size <= n_samples:
        raise ValueError(f"batch_size must be in [1, {n_samples}]; got {batch_size}")
    if batch_size >= 2**31:
        raise ValueError(f"batch_size {batch_size} is beyond what BLAS can take")
    if shuffled and not (
        isinstance(order, np.ndarray) and order.dtype == np.intp
        and order.shape == (n_samples,) and order.flags.c_contiguous
        and (n_samples == 0 or (order.min() >= 0 and order.max() < n_samples))
    ):
        raise ValueError(f"order must be a C-ordered intp permutation of range({n_samples})")
    n_batches = (n_samples + batch_size - 1) // batch_size
    rows = batch_size
    memset(&job, 0, sizeof(job))
    job.parts = row_parts(rows, per_row, most)
    net.reserve(rows, job.parts, True)
    draw = net.mask_drawer(dropout_rng)
    weights = sample_weight if weighted else np.empty(0, net.dtype)
    rows_order = order if shuffled else np.empty(0, np.intp)
    w_rows = net.w_rows
    arrays = [net.params]
    memset(&step, 0, sizeof(step))
    step.single = real is float
    set_optimizer(&step, optimizer, arrays)
    scalars = np.ascontiguousarray(scalars_of_steps, dtype=np.float64)
    decays = np.ascontiguousarray(decays_of_steps, dtype=np.float64)
    if not (scalars.shape[0] == decays.shape[0] and scalars.shape[0] <= n_batches):
        raise ValueError("one scalar and one decay per step of the epoch are needed")
    step.params = <void*> <size_t> net.params.ctypes.data
    step.n, step.n_weights = n_params, net.layout.n_weights
    step.parts = vector_parts(n_params, most, job.parts)
    step.squares = squares
    job.single = real is float
    job.layout, job.grads, job.accumulate = net.layout, net.grads, False
    job.X, job.T = &X[0, 0], &T[0, 0]
    job.n_inputs, job.n_outputs = X.shape[1], T.shape[1]
    job.order = &rows_order[0] if shuffled else NULL
    job.X_rows = <void*> <size_t> net.X_rows.ctypes.data
    job.T_rows = <void*> <size_t> net.T_rows.ctypes.data
    job.weights = &w_rows[0] if weighted else NULL
    job.batch, job.dropout = &net.batch, net.dropout
    job.apply_dropout, job.backward = True, True
    job.losses = losses
    threads = claim_helpers(max(job.parts, step.parts), True)
    try:
        with nogil:
            for batch_index in range(n_batches):
                start = batch_index * batch_size
                rows = min(batch_size, n_samples - start)
                total_weight = rows
                if weighted:
                    total_weight = 0
                    for i in range(rows):
                        w_rows[i] = weights[rows_order[start + i] if shuffled else start + i]
                        total_weight += w_rows[i]
                    if total_weight == 0:
                        continue  # a batch of zero-weight rows carries no information
                if draw is not None:
                    with gil:
                        draw(rows)
                # the data loss is the k members' mean; the penalty's scale is
                # the rows' own
                job.start, job.rows = start, rows
                job.scale = 1.0 / total_weight if k == 1 else 1.0 / total_weight / k
                job.parts = row_parts(rows, per_row, most)
                step.parts = vector_parts(n_params, most, job.parts)
                run_parts(batch_part, &job, job.parts, threads)
                data_loss = 0
                for part in range(job.parts):
                    data_loss += losses[part]
                data_loss *= job.scale
                combine_parts(&step, net.grads, job.parts, threads)
                step.penalty_factor = alpha * (1.0 / total_weight)
                if steps == scalars.shape[0]:
                    with gil:
                        raise ValueError("the epoch takes more steps than it has scalars")
                step.scalar, step.decay = scalars[steps], decays[steps]
                run_parts(step_part, &step, step.parts, threads)
                penalty = 0
                for part in range(step.parts):
                    penalty += squares[part]
                total += (data_loss + 0.5 * alpha * penalty * (1.0 / total_weight)) * rows
                steps += 1
                # the batch is done: a Ctrl-C ends the epoch here
                look_for_interrupt(&interrupts, rows * per_row + n_params)
    finally:
        release_helpers(threads)
        optimizer.steps_taken(steps)
    return total / n_samples
