# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""Predictions: the network's outputs for many rows, in bounded memory.

The rows are cut into parts, one per core (``_threads``), each taken through
every layer a chunk of rows at a time, so that the hidden layers' outputs
stay in cache for the next product. Rows of X in any memory layout (Fortran
order, strided slices, a DataFrame's columns) are first copied, a chunk at a
time, into a C-ordered buffer of the part: the products then see the same
rows in the same layout, and the results are the same, bit for bit, whatever
X's layout. A call on the main thread runs Python's pending signal handlers
between blocks of about WORK_PER_BLOCK multiply-adds, so that Ctrl-C stops
it promptly. It computes what ``_reference._network.forward`` computes.
"""

import numpy as np

from cpython.exc cimport PyErr_CheckSignals
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from ._layers cimport Batch, Layout, forward_rows, free_layout, new_layout
from ._losses import OUTPUT_CODES
from ._activations import CODES as ACTIVATION_CODES
from ._threads cimport (
    MAX_PARTS,
    claim_helpers,
    max_parts,
    part_start,
    release_helpers,
    row_parts,
    run_parts,
)
from ._vector cimport real

cdef enum:
    # rows a part takes through the layers at a time: its hidden layers'
    # outputs then stay in cache for the next product
    CHUNK_BYTES = 262144
    MIN_CHUNK = 64

# Multiply-adds of the rows handed out at once, between two looks for Ctrl-C.
cdef double WORK_PER_BLOCK = 2e8


cdef struct ForwardJob:
    # Rows [start, stop) of X cut into ``parts`` parts; each part goes through
    # the layers ``chunk`` rows at a time, with arrays of its own.
    bint single
    const Layout* layout
    const char* X             # X's first row
    Py_ssize_t row_stride     # bytes between rows of X
    Py_ssize_t column_stride  # bytes between columns of X
    bint contiguous           # X's rows are C-ordered: read them in place
    char* out
    Py_ssize_t start
    Py_ssize_t stop
    Py_ssize_t chunk
    void** arrays             # per part: n_layers arrays of chunk × width
    void** copies             # per part: chunk × n_inputs, X's rows in C order
    void** empty              # n_layers NULLs: no kept pre-activations
    int output
    int parts


cdef void forward_part_typed(ForwardJob* job, int part, real* tag) noexcept nogil:
    cdef Py_ssize_t n = job.stop - job.start
    cdef Py_ssize_t first = job.start + part_start(n, part, job.parts)
    cdef Py_ssize_t stop = job.start + part_start(n, part + 1, job.parts), rows, i, j
    cdef int n_layers = job.layout.n_layers
    cdef Py_ssize_t n_in = job.layout.sizes[0], n_out = job.layout.sizes[n_layers]
    cdef void** arrays = job.arrays + part * n_layers
    cdef real* copy = <real*> job.copies[part]
    cdef const real* rows_in
    cdef const char* row
    cdef Batch batch
    batch.activations = arrays
    batch.pre_activations = job.empty
    batch.deltas = NULL
    batch.masks = NULL
    while first < stop:
        rows = min(job.chunk, stop - first)
        if job.contiguous:
            rows_in = <const real*> (job.X + first * job.row_stride)
        else:
            for i in range(rows):
                row = job.X + (first + i) * job.row_stride
                for j in range(n_in):
                    copy[i * n_in + j] = (<const real*> (row + j * job.column_stride))[0]
            rows_in = copy
        arrays[n_layers - 1] = job.out + first * n_out * sizeof(real)
        forward_rows(job.layout, rows_in, rows, 0, &batch, False, NULL, job.output,
                     <const real*> NULL)
        first += rows


cdef void forward_part(void* job, int part) noexcept nogil:
    """Part ``part`` of a prediction (``run_parts``' work, for either dtype)."""
    if (<ForwardJob*> job).single:
        forward_part_typed(<ForwardJob*> job, part, <float*> NULL)
    else:
        forward_part_typed(<ForwardJob*> job, part, <double*> NULL)


def check_layers(list coefs, list intercepts, Py_ssize_t n_inputs, dtype):
    """Raise ValueError unless the layers chain from ``n_inputs`` inputs: as
    many biases as weight matrices, each weight matrix a 2-D C-ordered array
    of ``dtype`` whose rows are the previous layer's units, each bias a
    C-ordered vector of its layer's units. (What the C code reads of them.)"""
    if not coefs or len(coefs) != len(intercepts):
        raise ValueError(
            f"{len(coefs)} weight matrices and {len(intercepts)} bias vectors: "
            "one of each per layer is needed"
        )
    width = n_inputs
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        for name, array, ndim in (("coefs", W, 2), ("intercepts", b, 1)):
            if not (
                isinstance(array, np.ndarray)
                and array.ndim == ndim
                and array.dtype == dtype
                and array.flags.c_contiguous
            ):
                raise ValueError(
                    f"{name}[{layer}] must be a C-ordered {ndim}-D {dtype} array; got "
                    f"{getattr(array, 'shape', None)} of "
                    f"{getattr(array, 'dtype', type(array).__name__)}"
                )
        if W.shape[0] != width or W.shape[1] < 1:
            raise ValueError(
                f"coefs[{layer}] has shape {W.shape}: it needs {width} rows, one per "
                f"unit of the layer below, and at least one column"
            )
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"intercepts[{layer}] has shape {b.shape}: coefs[{layer}] has "
                f"{W.shape[1]} units"
            )
        width = W.shape[1]
    return width


def predict(const real[:, :] X, list coefs, list intercepts, str activation,
            str output, real[:, ::1] out):
    """Network outputs for every row of X into ``out`` (see
    ``_reference._network.forward``): ``output`` names the output activation
    applied ("identity" for the logits). X (any layout), the weights, the
    biases and ``out`` (C-ordered) are arrays of one dtype; everything is
    checked before it is read."""
    cdef Py_ssize_t n_rows = X.shape[0], start, block, widest
    cdef int n_layers, layer, parts, threads, part, most = max_parts()
    cdef ForwardJob job
    cdef Layout* layout = NULL
    cdef double per_row = 0
    X_array = np.asarray(X)
    dtype = np.dtype(np.float32 if real is float else np.float64)
    n_outputs = check_layers(coefs, intercepts, X.shape[1], dtype)
    if out.shape[0] != n_rows or out.shape[1] != n_outputs:
        raise ValueError(f"out must have shape ({n_rows}, {n_outputs})")
    if activation not in ACTIVATION_CODES or output not in OUTPUT_CODES:
        raise ValueError(f"no compiled kernel for {activation!r} or {output!r}")
    if n_rows == 0:
        return np.asarray(out)
    n_layers = len(coefs)
    sizes = tuple([X.shape[1]] + [W.shape[1] for W in coefs])
    if max(sizes) >= 2**31:
        raise ValueError("a layer is too wide for BLAS")
    memset(&job, 0, sizeof(job))
    job.arrays = job.copies = job.empty = NULL
    try:
        layout = new_layout(sizes, ACTIVATION_CODES[activation], -1, False)
        for layer in range(n_layers):
            layout.weights[layer] = <void*> <size_t> coefs[layer].ctypes.data
            layout.biases[layer] = <void*> <size_t> intercepts[layer].ctypes.data
            per_row += <double> sizes[layer] * sizes[layer + 1]
        widest = max(sizes[1:])
        job.chunk = max(<Py_ssize_t> MIN_CHUNK, CHUNK_BYTES // (widest * sizeof(real)))
        parts = row_parts(n_rows, per_row, most)
        parts = min(parts, MAX_PARTS)
        job.chunk = min(job.chunk, max(1, (n_rows + parts - 1) // parts))
        # the rows handed out at once: whole chunks of every part
        block = parts * job.chunk * max(1, <Py_ssize_t> (
            WORK_PER_BLOCK / (per_row * parts * job.chunk)))
        arrays = [
            np.empty((job.chunk, width), dtype)
            for _ in range(parts) for width in sizes[1:]
        ]
        contiguous = X_array.flags.c_contiguous
        copies = [
            None if contiguous else np.empty((job.chunk, X.shape[1]), dtype)
            for _ in range(parts)
        ]
        job.arrays = <void**> calloc(parts * n_layers, sizeof(void*))
        job.copies = <void**> calloc(parts, sizeof(void*))
        job.empty = <void**> calloc(n_layers, sizeof(void*))
        if job.arrays == NULL or job.copies == NULL or job.empty == NULL:
            raise MemoryError()
        for layer in range(parts * n_layers):
            job.arrays[layer] = <void*> <size_t> arrays[layer].ctypes.data
        for part in range(parts):
            if copies[part] is not None:
                job.copies[part] = <void*> <size_t> copies[part].ctypes.data
        job.single = real is float
        job.layout = layout
        job.X = <const char*> &X[0, 0]
        job.row_stride, job.column_stride = X.strides[0], X.strides[1]
        job.contiguous = contiguous
        job.out = <char*> &out[0, 0]
        job.output, job.parts = OUTPUT_CODES[output], parts
        threads = claim_helpers(parts, True)
        try:
            for start in range(0, n_rows, block):
                job.start, job.stop = start, min(start + block, n_rows)
                with nogil:
                    run_parts(forward_part, &job, parts, threads)
                PyErr_CheckSignals()  # Ctrl-C between blocks (main thread)
        finally:
            release_helpers(threads)
    finally:
        free(job.arrays)
        free(job.copies)
        free(job.empty)
        free_layout(layout)
    return np.asarray(out)

