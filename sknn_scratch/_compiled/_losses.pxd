# Losses (output activation, value and output delta) and output activations.
from ._vector cimport real

cdef double loss_and_delta(
    real* z, const real* t, real* delta, const real* weight,
    Py_ssize_t rows, Py_ssize_t cols, int loss, const double* settings,
    real scale,
) noexcept nogil
cdef void output_activation(
    real* z, Py_ssize_t rows, Py_ssize_t cols, int output,
) noexcept nogil
