# The transcendental functions of the kernels, over blocks of an array.
cimport numpy as cnp

ctypedef fused real:
    float
    double

cdef enum:
    # Element-wise stages work on blocks of this many elements (stack arrays
    # of the kernels), so that each block stays in the fastest cache.
    VECTOR_BLOCK = 256

cdef enum Function:
    FUNCTION_EXP
    FUNCTION_TANH
    FUNCTION_LOG1P
    FUNCTION_LOG
    FUNCTION_EXPM1
    FUNCTION_ERFC
    FUNCTION_SIN
    FUNCTION_COS
    N_FUNCTIONS

cdef void apply(Function function, real* x, Py_ssize_t n) noexcept nogil
cdef void expit_in_place(real* z, Py_ssize_t n) noexcept nogil
cdef real log_of(real x) noexcept nogil

from libc.math cimport sqrt, sqrtf


cdef inline real square_root(real x) noexcept nogil:
    """√x in the value's precision (sqrtf for float32, which vectorises)."""
    if real is float:
        return sqrtf(x)
    else:
        return sqrt(x)
