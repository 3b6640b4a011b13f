# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""Transcendental functions over blocks of an array, as NumPy computes them.

The reference engine computes exp, tanh, log, log1p, expm1, erfc, sin and cos
with NumPy's (and SciPy's) ufuncs, whose loops use the CPU's vector instructions
(5-10x faster than the C library's scalar functions here). The kernels call
those very loops, found once in the ufuncs' tables of C functions, so that
both engines compute the same values. Where a loop cannot be found, or does
not reproduce its ufunc on a sample, the C library's function stands in.
"""

from libc.math cimport cos, cosf, erfc, erfcf, exp, expf, expm1, expm1f, fabs, log
from libc.math cimport log1p, log1pf, logf, sin, sinf, tanh, tanhf

import numpy as np
import scipy.special as scipy_special

cimport numpy as cnp

cnp.import_array()
cnp.import_ufunc()

ctypedef void (*UfuncLoop)(char**, cnp.npy_intp*, cnp.npy_intp*, void*) noexcept nogil
ctypedef float (*FloatFunction)(float) noexcept nogil
ctypedef double (*DoubleFunction)(double) noexcept nogil

cdef struct VectorFunction:
    UfuncLoop loops[2]  # float32, float64; NULL: the C library's function
    void* data[2]
    FloatFunction single  # the C library's, for float32
    DoubleFunction double_  # and for float64

cdef VectorFunction functions[<int> N_FUNCTIONS]

# The ufunc each function reproduces, and the C library's stand-ins.
UFUNCS = {
    FUNCTION_EXP: np.exp,
    FUNCTION_TANH: np.tanh,
    FUNCTION_LOG1P: np.log1p,
    FUNCTION_LOG: np.log,
    FUNCTION_EXPM1: np.expm1,
    FUNCTION_ERFC: scipy_special.erfc,
    FUNCTION_SIN: np.sin,
    FUNCTION_COS: np.cos,
}
functions[<int> FUNCTION_EXP].single, functions[<int> FUNCTION_EXP].double_ = expf, exp
functions[<int> FUNCTION_TANH].single, functions[<int> FUNCTION_TANH].double_ = tanhf, tanh
functions[<int> FUNCTION_LOG1P].single, functions[<int> FUNCTION_LOG1P].double_ = log1pf, log1p
functions[<int> FUNCTION_LOG].single, functions[<int> FUNCTION_LOG].double_ = logf, log
functions[<int> FUNCTION_EXPM1].single, functions[<int> FUNCTION_EXPM1].double_ = expm1f, expm1
functions[<int> FUNCTION_ERFC].single, functions[<int> FUNCTION_ERFC].double_ = erfcf, erfc
functions[<int> FUNCTION_SIN].single, functions[<int> FUNCTION_SIN].double_ = sinf, sin
functions[<int> FUNCTION_COS].single, functions[<int> FUNCTION_COS].double_ = cosf, cos


cdef void* _address(array) except? NULL:
    return <void*> <size_t> array.ctypes.data


cdef void find_loops(function, VectorFunction* found) except *:
    """The ufunc's own float32 -> float32 and float64 -> float64 loops, each
    kept only if it reproduces the ufunc on a sample of values. (SciPy's
    array-API mode wraps its ufuncs in functions; the ufunc is then
    ``__wrapped__``.)"""
    cdef cnp.ufunc ufunc
    cdef int index, which
    cdef UfuncLoop loop
    cdef char* args[2]
    cdef cnp.npy_intp size[1]
    cdef cnp.npy_intp steps[2]
    found.loops[0] = found.loops[1] = NULL
    function = getattr(function, "__wrapped__", function)
    if not isinstance(function, np.ufunc) or function.nin != 1 or function.nout != 1:
        return
    ufunc = function
    for which, dtype in enumerate((np.float32, np.float64)):
        number = np.dtype(dtype).num
        for index in range(ufunc.ntypes):
            if ufunc.types[2 * index] == number and ufunc.types[2 * index + 1] == number:
                break
        else:
            continue
        sample = np.linspace(-30, 30, 1001, dtype=dtype)
        result = np.empty_like(sample)
        args[0], args[1] = <char*> _address(sample), <char*> _address(result)
        size[0] = sample.shape[0]
        steps[0] = steps[1] = sample.itemsize
        loop = <UfuncLoop> <void*> ufunc.functions[index]
        with np.errstate(all="ignore"):
            loop(args, size, steps, ufunc.data[index])
            expected = ufunc(sample)
        if np.array_equal(result, expected, equal_nan=True):
            found.loops[which] = loop
            found.data[which] = ufunc.data[index]


for _code, _ufunc in UFUNCS.items():
    find_loops(_ufunc, &functions[<int> _code])


def vector_loops() -> dict:
    """Which functions run NumPy's (and SciPy's) own loops (True) or the C
    library's, by name and dtype."""
    return {
        f"{UFUNCS[code].__name__} {dtype}": functions[<int> code].loops[which] != NULL
        for code in UFUNCS
        for which, dtype in enumerate(("float32", "float64"))
    }


cdef void apply(Function function, real* x, Py_ssize_t n) noexcept nogil:
    """x <- function(x) in place, on n contiguous elements."""
    cdef int which = 0 if real is float else 1
    cdef const VectorFunction* vector = &functions[<int> function]
    cdef char* args[2]
    cdef cnp.npy_intp size[1]
    cdef cnp.npy_intp steps[2]
    cdef Py_ssize_t i
    if n <= 0:
        return
    if vector.loops[which] != NULL:
        args[0] = args[1] = <char*> x
        size[0] = n
        steps[0] = steps[1] = sizeof(real)
        vector.loops[which](args, size, steps, vector.data[which])
    elif real is float:
        for i in range(n):
            x[i] = vector.single(x[i])
    else:
        for i in range(n):
            x[i] = vector.double_(x[i])


cdef void expit_in_place(real* z, Py_ssize_t n) noexcept nogil:
    """z <- 1 / (1 + e^-z), from e = e^-|z| (which never overflows): 1 / (1 + e)
    where z >= 0, e / (1 + e) elsewhere, exact in both tails."""
    cdef real e[VECTOR_BLOCK]
    cdef Py_ssize_t start, i, size
    start = 0
    while start < n:
        size = min(<Py_ssize_t> VECTOR_BLOCK, n - start)
        for i in range(size):
            e[i] = -<real> fabs(z[start + i])
        apply(FUNCTION_EXP, e, size)
        for i in range(size):
            if z[start + i] >= 0:
                z[start + i] = 1 / (1 + e[i])
            else:
                z[start + i] = e[i] / (1 + e[i])
        start += VECTOR_BLOCK


cdef real log_of(real x) noexcept nogil:
    """log(x) for one value, by the C library in the value's precision."""
    if real is float:
        return logf(x)
    else:
        return log(x)
