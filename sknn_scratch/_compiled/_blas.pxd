# The matrix products and the sum of squares, by the BLAS the engine owns.
from ._vector cimport real

cdef void gemm(
    bint trans_a, bint trans_b, int m, int n, int k,
    const real* a, int lda, const real* b, int ldb,
    real beta, real* c, int ldc,
) noexcept nogil
cdef real sum_of_squares(const real* x, Py_ssize_t n) noexcept nogil
cdef bint owns_its_blas() noexcept nogil
