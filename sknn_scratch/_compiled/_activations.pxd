# Hidden activations: z + b then f, and δ ⊙ f'.
from ._vector cimport real

cdef void bias_activate(
    real* a, real* z_kept, const real* bias, Py_ssize_t rows, Py_ssize_t cols,
    int activation,
) noexcept nogil
cdef void times_derivative(
    real* delta, const real* a, const real* z, Py_ssize_t n, int activation,
) noexcept nogil
