# Numerical embeddings: the first layer's view of some columns of X.
from ._vector cimport real

cdef struct Embedding:
    int kind                      # a code of _embeddings.CODES (-1: none)
    Py_ssize_t n_features         # columns of X
    Py_ssize_t n_embedded         # embedded columns
    const Py_ssize_t* columns     # which, in increasing order
    Py_ssize_t n_passthrough      # the others, read as they are after them
    const Py_ssize_t* passthrough
    const Py_ssize_t* offsets     # n_embedded + 1: each column's first value
    const double* constants       # fixed constants (PLE's bin edges), one
    const Py_ssize_t* constant_offsets  # run per column (n_embedded + 1)
    Py_ssize_t size               # trainable parameters per column
    Py_ssize_t width              # the first layer's input: embedded, then the rest
    Py_ssize_t param_offset       # of the trainable ones in the flat vector

cdef void embed(
    const Embedding* embedding, const real* X, Py_ssize_t rows, const real* params,
    real* out,
) noexcept nogil
cdef void embedding_backward(
    const Embedding* embedding, const real* X, Py_ssize_t rows, const real* params,
    const real* out, const real* delta, real* grad, bint accumulate,
) noexcept nogil
