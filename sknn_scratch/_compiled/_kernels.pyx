# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, cpow=True
"""The compiled engine: whole epochs of mini-batch training, fused, in C.

This module computes what the NumPy reference computes (``_network``,
``_activations``, ``_losses``, ``_optimizers``, ``_training``; read those for
the mathematics), in the same order of floating-point operations wherever it
can, so that both engines agree to rounding. What it changes is how the work
is laid out:

- a whole epoch runs here without the GIL: the gather of the shuffled rows,
  forward, loss, backward and the optimizer step, batch after batch, with no
  Python between them (dropout's masks alone are drawn by NumPy's generator,
  as in the reference);
- matrix products go straight to BLAS through ``scipy.linalg.cython_blas``
  (row-major arrays seen as their column-major transposes);
- each element-wise stage is one pass over memory that is still in cache: the
  bias and the activation; the dropout mask, the derivative and the incoming
  delta; the output activation with the loss and the output delta; the L2
  penalty with the optimizer update. exp, tanh and their kin come from
  NumPy's own vectorised loops (see "transcendental functions" below);
- a large batch is cut into parts by rows, and a long parameter pass into
  blocks, computed at the same time by native helper threads (see "helper
  threads" below; ``_threads`` holds the policy).

Each activation, loss, output activation and optimizer has a code below;
``ACTIVATION_KERNELS``, ``LOSS_KERNELS``, ``OUTPUT_KERNELS`` and
``OPTIMIZER_KERNELS`` map the names of the engine's tables to them, and the
tables' ``compiled`` flags say which entries have one (a test holds the two
in step). ``activate``, ``derivative``, ``loss_and_delta`` and
``optimizer_step`` run single stages, for the tests and benchmarks.
"""

from libc.math cimport (
    erfc,
    erfcf,
    exp,
    expf,
    expm1,
    expm1f,
    fabs,
    fabsf,
    log,
    log1p,
    log1pf,
    logf,
    sqrt,
    sqrtf,
    tanh,
    tanhf,
)
from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_start_new_thread,
    PyThread_type_lock,
)
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport ddot, dgemm, sdot, sgemm

import os

import numpy as np
import scipy.special as scipy_special

cimport numpy as cnp

cnp.import_array()
cnp.import_ufunc()

ctypedef fused real:
    float
    double


# -- codes of the fused kernels ---------------------------------------------------
cdef enum:
    IDENTITY = 0
    LOGISTIC = 1
    TANH = 2
    RELU = 3
    LEAKY_RELU = 4
    ELU = 5
    GELU = 6
    SILU = 7
    SOFTPLUS = 8
    MISH = 9

cdef enum:
    SQUARED_ERROR = 0
    BINARY_LOG_LOSS = 1
    LOG_LOSS = 2
    POISSON = 3
    ABSOLUTE_ERROR = 4
    HUBER = 5
    QUANTILE = 6

cdef enum:
    OPTIMIZER_SGD = 0
    OPTIMIZER_ADAM = 1

cdef enum:
    OUTPUT_IDENTITY = 0
    OUTPUT_LOGISTIC = 1
    OUTPUT_SOFTMAX = 2
    OUTPUT_EXP = 3

ACTIVATION_KERNELS = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SILU,
    "softplus": SOFTPLUS,
    "mish": MISH,
}
LOSS_KERNELS = {
    "squared_error": SQUARED_ERROR,
    "binary_log_loss": BINARY_LOG_LOSS,
    "log_loss": LOG_LOSS,
    "poisson": POISSON,
    "absolute_error": ABSOLUTE_ERROR,
    "huber": HUBER,
    "quantile": QUANTILE,
}
OPTIMIZER_KERNELS = {"sgd": OPTIMIZER_SGD, "adam": OPTIMIZER_ADAM}
OUTPUT_KERNELS = {
    "identity": OUTPUT_IDENTITY,
    "logistic": OUTPUT_LOGISTIC,
    "softmax": OUTPUT_SOFTMAX,
    "exp": OUTPUT_EXP,
}


# Constants of the activations, as in _activations.
cdef double LEAKY_SLOPE = 0.01
cdef double SQRT_HALF = sqrt(0.5)
cdef double INV_SQRT_2PI = 1.0 / sqrt(2.0 * 3.141592653589793)
cdef double GAUSSIAN_TAIL = 40.0


# -- scalar functions in the precision of the arrays ------------------------------
cdef inline real _exp(real x) noexcept nogil:
    if real is float:
        return expf(x)
    else:
        return exp(x)


cdef inline real _log(real x) noexcept nogil:
    if real is float:
        return logf(x)
    else:
        return log(x)


cdef inline real _log1p(real x) noexcept nogil:
    if real is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline real _abs(real x) noexcept nogil:
    if real is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline real _tanh(real x) noexcept nogil:
    if real is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline real _expm1(real x) noexcept nogil:
    if real is float:
        return expm1f(x)
    else:
        return expm1(x)


cdef inline real _erfc(real x) noexcept nogil:
    if real is float:
        return erfcf(x)
    else:
        return erfc(x)


cdef inline real sign(real x) noexcept nogil:
    """-1, 0 or 1 as the sign of x; NaN for NaN, as np.sign."""
    if x > 0:
        return 1
    if x < 0:
        return -1
    return x  # 0 (of its sign) or NaN


cdef inline real _sqrt(real x) noexcept nogil:
    if real is float:
        return sqrtf(x)
    else:
        return sqrt(x)


# -- transcendental functions over blocks of an array ---------------------------------
# The reference engine computes exp, tanh and log1p with NumPy's ufuncs, whose
# loops use the CPU's vector instructions (5-10x faster than the C library's
# scalar functions here). The kernels call those very loops, found once in
# the ufuncs' tables of C functions, so both engines compute the same values;
# where a loop cannot be found or does not reproduce its ufunc, the C
# library's functions stand in. Element-wise stages work on stack blocks of
# VECTOR_BLOCK elements, so that each block stays in the fastest cache.
ctypedef void (*UfuncLoop)(char**, cnp.npy_intp*, cnp.npy_intp*, void*) noexcept nogil

cdef struct VectorFunction:
    UfuncLoop loops[2]  # float32, float64; NULL: the C library's
    void* data[2]

cdef enum:
    VECTOR_BLOCK = 256
    FUNCTION_EXP = 0
    FUNCTION_TANH = 1
    FUNCTION_LOG1P = 2
    FUNCTION_LOG = 3
    FUNCTION_EXPM1 = 4
    FUNCTION_ERFC = 5
    N_FUNCTIONS = 6

cdef VectorFunction vector_functions[N_FUNCTIONS]


cdef void find_loops(function, VectorFunction* found) except *:
    """The ufunc's own float32 → float32 and float64 → float64 loops, each kept
    only if it reproduces the ufunc on a sample of values. (SciPy's array-API
    mode wraps its ufuncs in functions; the ufunc is then ``__wrapped__``.)"""
    cdef cnp.ufunc ufunc
    cdef int index, which
    found.loops[0] = found.loops[1] = NULL
    function = getattr(function, "__wrapped__", function)
    if not isinstance(function, np.ufunc) or function.nin != 1 or function.nout != 1:
        return
    ufunc = function
    cdef UfuncLoop loop
    cdef char* args[2]
    cdef cnp.npy_intp size[1]
    cdef cnp.npy_intp steps[2]
    for which, dtype in enumerate((np.float32, np.float64)):
        found.loops[which] = NULL
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


find_loops(np.exp, &vector_functions[FUNCTION_EXP])
find_loops(np.tanh, &vector_functions[FUNCTION_TANH])
find_loops(np.log1p, &vector_functions[FUNCTION_LOG1P])
find_loops(np.log, &vector_functions[FUNCTION_LOG])
find_loops(np.expm1, &vector_functions[FUNCTION_EXPM1])
find_loops(scipy_special.erfc, &vector_functions[FUNCTION_ERFC])


def vector_loops():
    """Which functions run NumPy's (and SciPy's) own loops (True) or the C
    library's."""
    names = ("exp", "tanh", "log1p", "log", "expm1", "erfc")
    return {
        f"{name} {dtype}": vector_functions[index].loops[which] != NULL
        for index, name in enumerate(names)
        for which, dtype in enumerate(("float32", "float64"))
    }


cdef void apply(int function, real* x, Py_ssize_t n) noexcept nogil:
    """x ← function(x) in place, on n contiguous elements."""
    cdef int which = 0 if real is float else 1
    cdef const VectorFunction* vector = &vector_functions[function]
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
    elif function == FUNCTION_EXP:
        for i in range(n):
            x[i] = _exp(x[i])
    elif function == FUNCTION_TANH:
        for i in range(n):
            x[i] = _tanh(x[i])
    elif function == FUNCTION_LOG1P:
        for i in range(n):
            x[i] = _log1p(x[i])
    elif function == FUNCTION_LOG:
        for i in range(n):
            x[i] = _log(x[i])
    elif function == FUNCTION_EXPM1:
        for i in range(n):
            x[i] = _expm1(x[i])
    else:
        for i in range(n):
            x[i] = _erfc(x[i])


cdef void expit_in_place(real* z, Py_ssize_t n) noexcept nogil:
    """z ← 1 / (1 + e^-z), from e = e^-|z| (never overflows): 1 / (1 + e)
    where z ≥ 0, e / (1 + e) elsewhere, exact in both tails."""
    cdef real e[VECTOR_BLOCK]
    cdef Py_ssize_t block, start, i, size
    for block in range((n + VECTOR_BLOCK - 1) // VECTOR_BLOCK):
        start = block * VECTOR_BLOCK
        size = min(<Py_ssize_t> VECTOR_BLOCK, n - start)
        for i in range(size):
            e[i] = -_abs(z[start + i])
        apply(FUNCTION_EXP, e, size)
        for i in range(size):
            if z[start + i] >= 0:
                z[start + i] = 1 / (1 + e[i])
            else:
                z[start + i] = e[i] / (1 + e[i])


# -- matrix products ----------------------------------------------------------------
cdef inline void gemm(
    bint trans_a, bint trans_b, int m, int n, int k,
    const real* a, int lda, const real* b, int ldb,
    real beta, real* c, int ldc,
) noexcept nogil:
    """Row-major C (m × n) = op(A) op(B) + beta C, op(A) m × k, op(B) k × n.

    BLAS is column-major, and a row-major array is its column-major
    transpose, so this asks BLAS for Cᵀ = op(B)ᵀ op(A)ᵀ.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef real one = 1
    if m == 0 or n == 0:
        return
    if real is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


# -- hidden activations: z + b, then f; and δ ⊙ f' ------------------------------------
cdef void bias_activate(
    real* a, real* z_kept, const real* bias, Py_ssize_t rows, Py_ssize_t cols,
    int activation,
) noexcept nogil:
    """a ← f(a + b) row by row; z_kept (if not NULL) receives z = a + b.

    Each formula is the reference's (``_activations``), operation for
    operation; those with exp, expm1, log1p, tanh or erfc run block by block
    (``activate_block``)."""
    cdef Py_ssize_t i, j, block, start, n = rows * cols
    cdef real* row
    cdef real v
    for i in range(rows):
        row = a + i * cols
        if activation == RELU:
            for j in range(cols):
                v = row[j] + bias[j]
                # not (v <= 0) keeps NaN, as np.maximum does
                row[j] = v if not (v <= 0) else 0
        elif activation == LEAKY_RELU:
            for j in range(cols):
                v = row[j] + bias[j]
                row[j] = v * <real> LEAKY_SLOPE if v < 0 else v
        else:
            for j in range(cols):
                row[j] = row[j] + bias[j]
    if z_kept != NULL:
        memcpy(z_kept, a, n * sizeof(real))
    if activation == TANH:
        apply(FUNCTION_TANH, a, n)
    elif activation == LOGISTIC:
        expit_in_place(a, n)
    elif activation >= ELU:
        for block in range((n + VECTOR_BLOCK - 1) // VECTOR_BLOCK):
            start = block * VECTOR_BLOCK
            activate_block(a + start, min(<Py_ssize_t> VECTOR_BLOCK, n - start),
                           activation)


cdef void softplus_block(const real* z, real* out, Py_ssize_t n) noexcept nogil:
    """out ← log(1 + e^z) as max(z, 0) + log(1 + e^-|z|), n ≤ VECTOR_BLOCK."""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = -_abs(z[i])
    apply(FUNCTION_EXP, out, n)
    apply(FUNCTION_LOG1P, out, n)
    for i in range(n):
        out[i] = out[i] + (z[i] if z[i] > 0 else 0)


cdef void activate_block(real* a, Py_ssize_t n, int activation) noexcept nogil:
    """a ← f(a) on one block of at most VECTOR_BLOCK elements (a holds z)."""
    cdef real work[VECTOR_BLOCK]
    cdef Py_ssize_t i
    if activation == ELU:
        # max(z, e^min(z, 0) - 1): the exponent never sees a positive z
        for i in range(n):
            work[i] = a[i] if a[i] < 0 else 0
        apply(FUNCTION_EXPM1, work, n)
        for i in range(n):
            a[i] = a[i] if not (a[i] <= work[i]) else work[i]
    elif activation == GELU:
        # z Φ(z), Φ(z) = ½ erfc(-z / √2)
        for i in range(n):
            work[i] = a[i] * <real> -SQRT_HALF
        apply(FUNCTION_ERFC, work, n)
        for i in range(n):
            a[i] = a[i] * (work[i] * <real> 0.5)
    elif activation == SILU:
        # z σ(z)
        for i in range(n):
            work[i] = a[i]
        expit_in_place(work, n)
        for i in range(n):
            a[i] = a[i] * work[i]
    elif activation == SOFTPLUS:
        softplus_block(a, work, n)
        memcpy(a, work, n * sizeof(real))
    elif activation == MISH:
        # z tanh(softplus(z))
        softplus_block(a, work, n)
        apply(FUNCTION_TANH, work, n)
        for i in range(n):
            a[i] = a[i] * work[i]


cdef void times_derivative(
    real* delta, const real* a, const real* z, Py_ssize_t n, int activation,
) noexcept nogil:
    """delta ← delta ⊙ f'(z), with f' written in terms of a (and z), as in the
    reference."""
    cdef Py_ssize_t i, block, start
    if activation == RELU:
        for i in range(n):
            delta[i] = delta[i] * (1 if a[i] > 0 else 0)
    elif activation == TANH:
        for i in range(n):
            delta[i] = delta[i] * (1 - a[i] * a[i])
    elif activation == LOGISTIC:
        for i in range(n):
            delta[i] = delta[i] * ((1 - a[i]) * a[i])
    elif activation == LEAKY_RELU:
        # at z = 0 the slope of the left side, as relu's
        for i in range(n):
            if a[i] <= 0:
                delta[i] = delta[i] * <real> LEAKY_SLOPE
    elif activation == ELU:
        # e^z where z < 0 is a + 1 (to within one rounding), 1 elsewhere
        for i in range(n):
            delta[i] = delta[i] * min(a[i] + 1, <real> 1)
    elif activation != IDENTITY:
        for block in range((n + VECTOR_BLOCK - 1) // VECTOR_BLOCK):
            start = block * VECTOR_BLOCK
            derivative_block(delta + start, a + start,
                             NULL if z == NULL else z + start,
                             min(<Py_ssize_t> VECTOR_BLOCK, n - start), activation)


cdef void derivative_block(
    real* delta, const real* a, const real* z, Py_ssize_t n, int activation,
) noexcept nogil:
    """delta ← delta ⊙ f'(z) on one block of at most VECTOR_BLOCK elements."""
    cdef real work[VECTOR_BLOCK]
    cdef real other[VECTOR_BLOCK]
    cdef real clipped
    cdef Py_ssize_t i
    if activation == SOFTPLUS:
        # σ(z) = 1 - e^-a, as -expm1(-a): exact for small σ
        for i in range(n):
            work[i] = -a[i]
        apply(FUNCTION_EXPM1, work, n)
        for i in range(n):
            delta[i] = delta[i] * -work[i]
    elif activation == GELU:
        # Φ(z) + z φ(z), with z clipped at ±40 where φ is 0 and Φ 0 or 1
        for i in range(n):
            clipped = min(max(z[i], <real> -GAUSSIAN_TAIL), <real> GAUSSIAN_TAIL)
            other[i] = clipped
            work[i] = clipped * clipped * <real> -0.5
        apply(FUNCTION_EXP, work, n)
        for i in range(n):
            work[i] = work[i] * other[i] * <real> INV_SQRT_2PI  # z φ(z)
            other[i] = other[i] * <real> -SQRT_HALF
        apply(FUNCTION_ERFC, other, n)
        for i in range(n):
            delta[i] = delta[i] * (work[i] + other[i] * <real> 0.5)
    elif activation == SILU:
        # σ(z) (1 + z σ(-z))
        for i in range(n):
            work[i] = -z[i]
            other[i] = z[i]
        expit_in_place(work, n)
        expit_in_place(other, n)
        for i in range(n):
            delta[i] = delta[i] * ((work[i] * z[i] + 1) * other[i])
    elif activation == MISH:
        # tanh(s) + z σ(z) (1 - tanh²(s)), s = softplus(z), σ(z) = 1 - e^-s
        softplus_block(z, work, n)
        for i in range(n):
            other[i] = -work[i]
        apply(FUNCTION_EXPM1, other, n)
        apply(FUNCTION_TANH, work, n)
        for i in range(n):
            delta[i] = delta[i] * (
                -other[i] * z[i] * (1 - work[i] * work[i]) + work[i]
            )





cdef void add_bias(real* z, const real* bias, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef real* row
    for i in range(rows):
        row = z + i * cols
        for j in range(cols):
            row[j] = row[j] + bias[j]


# -- output activation, loss and output delta ----------------------------------------------
cdef double output_loss(
    real* z, const real* t, real* delta, const real* weight,
    Py_ssize_t rows, Py_ssize_t cols, int loss, double parameter, real scale,
) noexcept nogil:
    """a ← g(z) in place, delta ← (∂ℓ/∂z) s_i S⁻¹, and return Σ_i s_i ℓ_i.

    ``weight`` is NULL for unit weights; ``scale`` is 1/S; ``parameter`` is
    the loss's setting (huber_delta, quantile), as in ``_losses``. Losses are summed
    in double precision; exp, log and log1p run over many rows at once (the
    delta array holds intermediate values until the deltas replace them).
    """
    cdef Py_ssize_t i, j, n = rows * cols
    cdef real *zr
    cdef const real *tr
    cdef real *dr
    cdef real largest, total_exp, v, size, clipped
    cdef real setting = <real> parameter
    cdef double row_loss, total = 0, w = 1
    cdef real normalisers[VECTOR_BLOCK]  # rows' Σ e^v, then their logs
    cdef Py_ssize_t first, chunk
    if loss == LOG_LOSS:
        # softmax of each row shifted by its own maximum: no overflow, and no
        # row's result depends on another row. ℓ = log Σ e^v - Σ t v, v = z - max.
        for i in range(rows):
            zr, tr = z + i * cols, t + i * cols
            largest = zr[0]
            for j in range(1, cols):
                if zr[j] > largest:
                    largest = zr[j]
            row_loss = 0
            for j in range(cols):
                zr[j] = zr[j] - largest
                row_loss -= tr[j] * zr[j]
            total += row_loss if weight == NULL else weight[i] * row_loss
        apply(FUNCTION_EXP, z, n)
        first = 0
        while first < rows:
            chunk = min(<Py_ssize_t> VECTOR_BLOCK, rows - first)
            for i in range(first, first + chunk):
                zr, tr, dr = z + i * cols, t + i * cols, delta + i * cols
                total_exp = 0
                for j in range(cols):
                    total_exp = total_exp + zr[j]
                normalisers[i - first] = total_exp
                if weight != NULL:
                    w = weight[i]
                for j in range(cols):
                    zr[j] = zr[j] / total_exp
                    dr[j] = (zr[j] - tr[j]) * (<real> w * scale)
            # the rows' log Σ e^v, by one call of the log loop, not one per row
            apply(FUNCTION_LOG, normalisers, chunk)
            for i in range(chunk):
                if weight != NULL:
                    w = weight[first + i]
                total += w * normalisers[i]
            first += chunk
        return total
    if loss == BINARY_LOG_LOSS:
        # ℓ = log(1 + e^z) - t z = max(z, 0) - t z + log(1 + e^-|z|)
        for i in range(n):
            delta[i] = -_abs(z[i])
        apply(FUNCTION_EXP, delta, n)  # e = e^-|z|
        for i in range(rows):
            zr, tr, dr = z + i * cols, t + i * cols, delta + i * cols
            row_loss = 0
            for j in range(cols):
                v = zr[j]
                row_loss += (v if v > 0 else 0) - tr[j] * v
                # the logistic function from e, exact in both tails
                zr[j] = 1 / (1 + dr[j]) if v >= 0 else dr[j] / (1 + dr[j])
            total += row_loss if weight == NULL else weight[i] * row_loss
        apply(FUNCTION_LOG1P, delta, n)
    elif loss == POISSON:
        # ℓ = e^z - t z + t log t - t (half the Poisson deviance)
        for i in range(rows):
            zr, tr = z + i * cols, t + i * cols
            row_loss = 0
            for j in range(cols):
                row_loss += -tr[j] * zr[j] - tr[j]
                if tr[j] > 0:
                    row_loss += tr[j] * _log(tr[j])
            total += row_loss if weight == NULL else weight[i] * row_loss
        apply(FUNCTION_EXP, z, n)
    for i in range(rows):
        zr, tr, dr = z + i * cols, t + i * cols, delta + i * cols
        row_loss = 0
        if loss == SQUARED_ERROR:
            for j in range(cols):
                v = zr[j] - tr[j]
                dr[j] = v
                row_loss += v * v
            row_loss *= 0.5
        elif loss == BINARY_LOG_LOSS:
            for j in range(cols):
                row_loss += dr[j]  # log(1 + e^-|z|)
                dr[j] = zr[j] - tr[j]
        elif loss == POISSON:
            for j in range(cols):
                row_loss += zr[j]  # e^z
                dr[j] = zr[j] - tr[j]
        elif loss == ABSOLUTE_ERROR:
            # ℓ = |r|, δ = sign(r), r = z - t
            for j in range(cols):
                v = zr[j] - tr[j]
                row_loss += _abs(v)
                dr[j] = sign(v)
        elif loss == HUBER:
            # ℓ = c (|r| - ½ c), c = min(|r|, d); δ = clip(r, -d, d)
            for j in range(cols):
                v = zr[j] - tr[j]
                size = _abs(v)
                clipped = min(size, setting) * <real> 0.5
                row_loss += (size - clipped) * (clipped * 2)
                dr[j] = min(max(v, -setting), setting)
        elif loss == QUANTILE:
            # ℓ = ½ |r| + (½ - q) r; δ = ½ sign(r) + (½ - q) |sign(r)|
            for j in range(cols):
                v = zr[j] - tr[j]
                row_loss += 0.5 * _abs(v) + (0.5 - parameter) * v
                dr[j] = sign(v) * <real> 0.5 + _abs(sign(v)) * <real> (0.5 - parameter)
        if weight != NULL:
            w = weight[i]
        total += w * row_loss
        for j in range(cols):
            dr[j] = dr[j] * (<real> w * scale)
    return total


cdef void output_activation(
    real* z, Py_ssize_t rows, Py_ssize_t cols, int output,
) noexcept nogil:
    """z ← g(z) in place, g an output activation (``OUTPUT_KERNELS``)."""
    cdef Py_ssize_t i, j, n = rows * cols
    cdef real* row
    cdef real largest, total
    if output == OUTPUT_SOFTMAX:
        # each row shifted by its own maximum: no overflow, and no row's
        # result depends on another row
        for i in range(rows):
            row = z + i * cols
            largest = row[0]
            for j in range(1, cols):
                if row[j] > largest:
                    largest = row[j]
            for j in range(cols):
                row[j] = row[j] - largest
        apply(FUNCTION_EXP, z, n)
        for i in range(rows):
            row = z + i * cols
            total = 0
            for j in range(cols):
                total = total + row[j]
            for j in range(cols):
                row[j] = row[j] / total
    elif output == OUTPUT_LOGISTIC:
        expit_in_place(z, n)
    elif output == OUTPUT_EXP:
        apply(FUNCTION_EXP, z, n)


# -- optimizer steps, with the L2 penalty's gradient folded in -----------------------------
# Each works on the index range [start, stop) of the flat vectors, whose first
# n_weights entries are weights (penalised) and the rest biases. The gradient
# is g0 + g1 (g1 NULL: g0 alone): the data gradients of two parts of a batch.
# The range is taken in blocks of STEP_BLOCK entries, so that Σ W² (a BLAS dot
# product, as the reference's) reads a block that the update then finds in
# cache; the update loops have no branch, so that the compiler vectorises them.
cdef enum:
    STEP_BLOCK = 2048


cdef inline real dot(const real* x, Py_ssize_t n) noexcept nogil:
    """Σ x² by BLAS, as np.dot(x, x) computes it."""
    cdef int size = <int> n, one = 1
    if n <= 0:
        return 0
    if real is float:
        return sdot(&size, <float*> x, &one, <float*> x, &one)
    else:
        return ddot(&size, <double*> x, &one, <double*> x, &one)


cdef inline void adam_update(
    real* params, real* m, real* v, Py_ssize_t i, real g,
    real beta_1, real beta_2, real step_size, real epsilon,
) noexcept nogil:
    m[i] = m[i] * beta_1 + g
    v[i] = v[i] * beta_2 + g * g
    params[i] = params[i] - (m[i] / (_sqrt(v[i]) + epsilon)) * step_size


cdef void adam_range(
    real* params, const real* g0, const real* g1, real* m, real* v,
    Py_ssize_t start, Py_ssize_t stop, bint penalised, real penalty_factor,
    real beta_1, real beta_2, real step_size, real epsilon,
) noexcept nogil:
    cdef Py_ssize_t i
    if g1 == NULL and penalised:
        for i in range(start, stop):
            adam_update(params, m, v, i, g0[i] + params[i] * penalty_factor,
                        beta_1, beta_2, step_size, epsilon)
    elif g1 == NULL:
        for i in range(start, stop):
            adam_update(params, m, v, i, g0[i], beta_1, beta_2, step_size, epsilon)
    elif penalised:
        for i in range(start, stop):
            adam_update(params, m, v, i, (g0[i] + g1[i]) + params[i] * penalty_factor,
                        beta_1, beta_2, step_size, epsilon)
    else:
        for i in range(start, stop):
            adam_update(params, m, v, i, g0[i] + g1[i], beta_1, beta_2, step_size,
                        epsilon)


cdef inline void sgd_update(
    real* params, real* velocity, Py_ssize_t i, real g, real learning_rate,
    real momentum, bint nesterov,
) noexcept nogil:
    cdef real step = g * learning_rate
    velocity[i] = velocity[i] * momentum - step
    if nesterov:
        params[i] = (params[i] - step) + velocity[i] * momentum
    else:
        params[i] = params[i] + velocity[i]


cdef void sgd_range(
    real* params, const real* g0, const real* g1, real* velocity,
    Py_ssize_t start, Py_ssize_t stop, bint penalised, real penalty_factor,
    real learning_rate, real momentum, bint nesterov,
) noexcept nogil:
    cdef Py_ssize_t i
    if g1 == NULL and penalised:
        for i in range(start, stop):
            sgd_update(params, velocity, i, g0[i] + params[i] * penalty_factor,
                       learning_rate, momentum, nesterov)
    elif g1 == NULL:
        for i in range(start, stop):
            sgd_update(params, velocity, i, g0[i], learning_rate, momentum, nesterov)
    elif penalised:
        for i in range(start, stop):
            sgd_update(params, velocity, i,
                       (g0[i] + g1[i]) + params[i] * penalty_factor,
                       learning_rate, momentum, nesterov)
    else:
        for i in range(start, stop):
            sgd_update(params, velocity, i, g0[i] + g1[i], learning_rate, momentum,
                       nesterov)


cdef void gradient_range(
    const real* params, real* g0, const real* g1, Py_ssize_t start, Py_ssize_t stop,
    bint penalised, real penalty_factor,
) noexcept nogil:
    """g0 ← g0 + g1 + penalty_factor · W: the whole gradient (L-BFGS, checks)."""
    cdef Py_ssize_t i
    if g1 != NULL:
        for i in range(start, stop):
            g0[i] = g0[i] + g1[i]
    if penalised:
        for i in range(start, stop):
            g0[i] = g0[i] + params[i] * penalty_factor


# -- helper threads ----------------------------------------------------------------------
# A large batch is split into parts by rows, and a long parameter vector into
# blocks; the calling thread does part 0 and helper threads the others. The
# helpers are native threads (they never touch Python objects) that sleep on
# a lock between jobs, so they neither spin nor depend on the interpreter:
# they keep working while it shuts down. One fit or prediction at a time
# holds them (``claim_helpers``); any other runs its parts one after the
# other on its own thread, with the same arithmetic, so that results never
# depend on which fit got the helpers.
ctypedef void (*PartWork)(void* job, int part) noexcept nogil

cdef struct Helper:
    PyThread_type_lock wake   # released by the caller: a part is waiting
    PyThread_type_lock done   # released by the helper: the part is done
    PartWork work
    void* job
    int part

cdef enum:
    MAX_HELPERS = 63
cdef Helper helpers[MAX_HELPERS]
cdef int started_helpers = 0
cdef PyThread_type_lock helpers_claim = NULL
cdef long helpers_pid = -1


cdef void helper_loop(void* argument) noexcept nogil:
    cdef Helper* helper = <Helper*> argument
    while True:
        PyThread_acquire_lock(helper.wake, WAIT_LOCK)
        helper.work(helper.job, helper.part)
        PyThread_release_lock(helper.done)


cdef int claim_helpers(int wanted) except -1:
    """Up to ``wanted`` - 1 helper threads for the caller alone (started as
    first needed); returns how many threads, the caller's included, the
    caller may use: 1 when another fit or prediction holds the helpers.
    Called with the GIL; a forked child starts its own helpers."""
    global started_helpers, helpers_claim, helpers_pid
    cdef int index
    cdef unsigned long thread
    pid = os.getpid()
    if helpers_pid != pid:  # first use, or in a forked child: nothing runs
        helpers_claim = PyThread_allocate_lock()
        started_helpers = 0
        helpers_pid = pid
    wanted = min(wanted, MAX_HELPERS + 1)
    if wanted < 2 or not PyThread_acquire_lock(helpers_claim, NOWAIT_LOCK):
        return 1
    while started_helpers < wanted - 1:
        index = started_helpers
        helpers[index].wake = PyThread_allocate_lock()
        helpers[index].done = PyThread_allocate_lock()
        PyThread_acquire_lock(helpers[index].wake, WAIT_LOCK)
        PyThread_acquire_lock(helpers[index].done, WAIT_LOCK)
        thread = PyThread_start_new_thread(helper_loop, &helpers[index])
        if thread == <unsigned long> -1:  # no thread: work with what there is
            break
        started_helpers += 1
    return min(wanted, started_helpers + 1)


cdef void release_helpers(int threads) noexcept:
    if threads > 1:
        PyThread_release_lock(helpers_claim)


cdef void run_parts(PartWork work, void* job, int parts, int threads) noexcept nogil:
    """work(job, p) for p in range(parts): part 0 and any part beyond the
    threads on the caller, parts 1 .. threads - 1 on helpers at the same time.
    Returns when every part is done."""
    cdef int part, on_helpers = min(parts, threads) - 1
    for part in range(on_helpers):
        helpers[part].work, helpers[part].job = work, job
        helpers[part].part = part + 1
        PyThread_release_lock(helpers[part].wake)
    work(job, 0)
    for part in range(on_helpers + 1, parts):
        work(job, part)
    for part in range(on_helpers):
        PyThread_acquire_lock(helpers[part].done, WAIT_LOCK)


cdef inline Py_ssize_t part_start(Py_ssize_t n, int part, int parts) noexcept nogil:
    """First index of part ``part`` of range(n) cut into ``parts`` even parts."""
    return n * part // parts


# -- a network's shape, and the work arrays of one batch ----------------------------------
cdef struct Layout:
    int n_layers
    int* sizes            # n_layers + 1 widths, inputs first
    const void** weights  # W_l, fan_in × fan_out, row-major
    const void** biases   # b_l
    Py_ssize_t n_weights  # of the flat vector, when there is one
    Py_ssize_t* weight_offset
    Py_ssize_t* bias_offset
    int activation
    int loss
    double loss_parameter  # huber_delta, quantile: the loss's setting
    bint keep_z           # the activation's derivative reads z


cdef Layout* new_layout(tuple sizes, int activation, int loss, bint keep_z) except NULL:
    """A layout of these widths; its weight and bias pointers are set apart."""
    cdef int n_layers = len(sizes) - 1, layer
    cdef Py_ssize_t offset = 0
    cdef Layout* layout = <Layout*> calloc(1, sizeof(Layout))
    layout.n_layers = n_layers
    layout.sizes = <int*> malloc((n_layers + 1) * sizeof(int))
    layout.weights = <const void**> malloc(n_layers * sizeof(void*))
    layout.biases = <const void**> malloc(n_layers * sizeof(void*))
    layout.weight_offset = <Py_ssize_t*> malloc(n_layers * sizeof(Py_ssize_t))
    layout.bias_offset = <Py_ssize_t*> malloc(n_layers * sizeof(Py_ssize_t))
    for layer in range(n_layers + 1):
        layout.sizes[layer] = sizes[layer]
    for layer in range(n_layers):
        layout.weight_offset[layer] = offset
        offset += <Py_ssize_t> layout.sizes[layer] * layout.sizes[layer + 1]
    layout.n_weights = offset
    for layer in range(n_layers):
        layout.bias_offset[layer] = offset
        offset += layout.sizes[layer + 1]
    layout.activation, layout.loss, layout.keep_z = activation, loss, keep_z
    return layout


cdef void point_into(Layout* layout, size_t flat, Py_ssize_t itemsize) noexcept:
    """Weights and biases as views of one flat vector at address ``flat``."""
    cdef int layer
    for layer in range(layout.n_layers):
        layout.weights[layer] = <void*> (flat + layout.weight_offset[layer] * itemsize)
        layout.biases[layer] = <void*> (flat + layout.bias_offset[layer] * itemsize)


cdef void free_layout(Layout* layout) noexcept:
    if layout == NULL:
        return
    free(layout.sizes)
    free(layout.weights)
    free(layout.biases)
    free(layout.weight_offset)
    free(layout.bias_offset)
    free(layout)


cdef struct Batch:
    # Per layer (rows × width of the layer, for the largest batch): the
    # activations a_l (a_L: the output), the deltas δ_l, the kept
    # pre-activations z_l (NULL unless the derivative reads z) and the
    # dropout masks (NULL where a layer has none).
    void** activations
    void** pre_activations
    void** deltas
    void** masks


cdef void forward_rows(
    const Layout* layout, const real* X, Py_ssize_t rows, Py_ssize_t first,
    const Batch* batch, bint apply_dropout, const double* dropout, int output,
) noexcept nogil:
    """a_l = f(a_{l-1} W_l + b_l) for the hidden layers, z_L = a_{L-1} W_L + b_L,
    for ``rows`` rows starting at row ``first`` of the batch's arrays (X: those
    rows' inputs). Dropout multiplies a hidden layer's output by its mask,
    whose uniform draws are already in place: m = 1/(1-p) where the draw is
    at least p, 0 elsewhere. ``output`` (an ``OUTPUT_KERNELS`` code, or -1
    for none) is then applied to z_L."""
    cdef int layer, last = layout.n_layers - 1, fan_in, fan_out
    cdef const real* below = X
    cdef real* a
    cdef real* z
    cdef real* mask
    cdef real keep, rate
    cdef Py_ssize_t i, n
    for layer in range(layout.n_layers):
        fan_in, fan_out = layout.sizes[layer], layout.sizes[layer + 1]
        a = <real*> batch.activations[layer] + first * fan_out
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


cdef void backward_rows(
    const Layout* layout, real* grad, bint accumulate, const real* X,
    Py_ssize_t rows, Py_ssize_t first, const Batch* batch, bint apply_dropout,
    const double* dropout,
) noexcept nogil:
    """From δ_L (already in place) down to the first layer, for ``rows`` rows
    starting at row ``first`` of the batch's arrays:

        ∂E/∂W_l = a_{l-1}ᵀ δ_l,   ∂E/∂b_l = Σ_rows δ_l,
        δ_{l-1} = (δ_l W_lᵀ) ⊙ f'(z_{l-1})   [⊙ m_{l-1} under dropout],

    written into (or, with ``accumulate``, added to) the flat vector ``grad``.
    """
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
    for layer in range(layout.n_layers - 1, -1, -1):
        fan_in, fan_out = layout.sizes[layer], layout.sizes[layer + 1]
        delta = <real*> batch.deltas[layer] + first * fan_out
        below = X if layer == 0 else <real*> batch.activations[layer - 1] + first * fan_in
        gemm(True, False, fan_in, fan_out, rows, below, fan_in, delta, fan_out,
             1 if accumulate else 0, grad + layout.weight_offset[layer], fan_out)
        bias_grad = grad + layout.bias_offset[layer]
        if not accumulate:
            for j in range(fan_out):
                bias_grad[j] = 0
        for i in range(rows):
            for j in range(fan_out):
                bias_grad[j] = bias_grad[j] + delta[i * fan_out + j]
        if layer == 0:
            break
        delta_below = <real*> batch.deltas[layer - 1] + first * fan_in
        a_below = <real*> batch.activations[layer - 1] + first * fan_in
        gemm(False, True, rows, fan_in, fan_out, delta, fan_out,
             <const real*> layout.weights[layer], fan_out, 0, delta_below, fan_in)
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


cdef struct BatchJob:
    # A batch (or a chunk of rows) cut into ``parts`` parts by rows. Part p
    # gathers its rows (X[order[start + i]]; with no order, X[start + i] is
    # read in place), runs them forward, writes the output delta and the sum
    # of their weighted losses into losses[p], and, with ``backward``, their
    # gradient into grads[p].
    bint single               # float32 arrays, else float64
    const Layout* layout
    void** grads
    bint accumulate           # add to grads[p] instead of writing them
    const void* X
    const void* T
    Py_ssize_t n_inputs
    Py_ssize_t n_outputs
    const void* weights       # one per batch row, gathered (NULL: all ones)
    const Py_ssize_t* order   # NULL: the rows in place
    Py_ssize_t start
    Py_ssize_t rows
    void* X_rows              # gather buffers, rows × n_inputs / n_outputs
    void* T_rows
    const Batch* batch
    const double* dropout     # rate per hidden layer
    bint apply_dropout
    bint backward
    double scale              # 1 / S, S the total weight of the batch's rows
    double* losses
    int parts


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


cdef void batch_part_typed(BatchJob* job, int part, real* dtype) noexcept nogil:
    cdef Py_ssize_t first = part_start(job.rows, part, job.parts)
    cdef Py_ssize_t rows = part_start(job.rows, part + 1, job.parts) - first
    cdef Py_ssize_t i, source, n_in = job.n_inputs, n_out = job.n_outputs
    cdef const real* X_rows
    cdef const real* T_rows
    cdef const real* weights = NULL
    cdef int last = job.layout.n_layers - 1
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
    forward_rows(job.layout, X_rows, rows, first, job.batch, job.apply_dropout,
                 job.dropout, -1)
    job.losses[part] = output_loss(
        <real*> job.batch.activations[last] + first * n_out, T_rows,
        <real*> job.batch.deltas[last] + first * n_out, weights, rows, n_out,
        job.layout.loss, job.layout.loss_parameter, <real> job.scale,
    )
    if job.backward:
        backward_rows(job.layout, <real*> job.grads[part], job.accumulate, X_rows,
                      rows, first, job.batch, job.apply_dropout, job.dropout)


cdef void batch_part(void* job, int part) noexcept nogil:
    if (<BatchJob*> job).single:
        batch_part_typed(<BatchJob*> job, part, <float*> NULL)
    else:
        batch_part_typed(<BatchJob*> job, part, <double*> NULL)


cdef struct StepJob:
    # An update of the flat vectors, cut into ``parts`` blocks of indices.
    bint single
    int kind                  # OPTIMIZER_SGD, OPTIMIZER_ADAM or TOTAL_GRADIENT
    void* params
    void* g0                  # the data gradient of the batch's first part
    const void* g1            # and of its second part (NULL: one part)
    void* first_moment        # Adam's m, SGD's velocity
    void* second_moment       # Adam's v
    Py_ssize_t n
    Py_ssize_t n_weights
    double penalty_factor     # α / S
    double beta_1
    double beta_2
    double step_size
    double epsilon
    double learning_rate
    double momentum
    bint nesterov
    double* squares           # Σ W² of each block
    int parts

cdef enum:
    TOTAL_GRADIENT = 2


cdef void step_part_typed(StepJob* job, int part, real* dtype) noexcept nogil:
    cdef Py_ssize_t start = part_start(job.n, part, job.parts)
    cdef Py_ssize_t stop = part_start(job.n, part + 1, job.parts)
    cdef Py_ssize_t block, first, last, split
    cdef bint penalised = job.penalty_factor != 0  # α = 0: no penalty at all
    cdef real factor = <real> job.penalty_factor
    cdef real* params = <real*> job.params
    cdef real* g0 = <real*> job.g0
    cdef const real* g1 = <const real*> job.g1
    cdef double squares = 0
    for block in range((stop - start + STEP_BLOCK - 1) // STEP_BLOCK):
        first = start + block * STEP_BLOCK
        last = min(first + STEP_BLOCK, stop)
        split = min(max(job.n_weights, first), last)  # weights before, biases after
        if penalised:
            squares += dot(params + first, split - first)
        if job.kind == OPTIMIZER_ADAM:
            adam_range(params, g0, g1, <real*> job.first_moment,
                       <real*> job.second_moment, first, split, penalised, factor,
                       <real> job.beta_1, <real> job.beta_2, <real> job.step_size,
                       <real> job.epsilon)
            adam_range(params, g0, g1, <real*> job.first_moment,
                       <real*> job.second_moment, split, last, False, factor,
                       <real> job.beta_1, <real> job.beta_2, <real> job.step_size,
                       <real> job.epsilon)
        elif job.kind == OPTIMIZER_SGD:
            sgd_range(params, g0, g1, <real*> job.first_moment, first, split,
                      penalised, factor, <real> job.learning_rate,
                      <real> job.momentum, job.nesterov)
            sgd_range(params, g0, g1, <real*> job.first_moment, split, last, False,
                      factor, <real> job.learning_rate, <real> job.momentum,
                      job.nesterov)
        else:
            gradient_range(params, g0, g1, first, split, penalised, factor)
            gradient_range(params, g0, g1, split, last, False, factor)
    job.squares[part] = squares


cdef void step_part(void* job, int part) noexcept nogil:
    if (<StepJob*> job).single:
        step_part_typed(<StepJob*> job, part, <float*> NULL)
    else:
        step_part_typed(<StepJob*> job, part, <double*> NULL)


# How work is cut into parts. A part must be worth the hand-over to a helper
# (waking a sleeping thread costs some µs), and results must not depend on
# whether a helper was free: the cut depends only on the sizes and on
# ``max_parts``, never on which thread runs a part.
cdef enum:
    MAX_PARTS = MAX_HELPERS + 1
    # rows a prediction takes through the layers at a time, per part: its
    # hidden layers' outputs then stay in cache for the next product
    PREDICTION_CHUNK_BYTES = 262144
    MIN_PREDICTION_CHUNK = 64


cdef Py_ssize_t MIN_ROWS_PER_PART = 16  # a BLAS call on fewer rows runs slowly
cdef double MIN_MULTIPLY_ADDS_PER_PART = 8e6
cdef Py_ssize_t MIN_ELEMENTS_PER_PART = 65536  # of a parameter-vector pass


def part_sizes():
    """The smallest part worth a thread: rows and multiply-adds of a batch
    part, elements of a parameter-vector block."""
    return {
        "rows": MIN_ROWS_PER_PART,
        "multiply_adds": MIN_MULTIPLY_ADDS_PER_PART,
        "elements": MIN_ELEMENTS_PER_PART,
    }


def set_part_sizes(rows, multiply_adds, elements):
    """Change the smallest part sizes (tests cut small problems this way)."""
    global MIN_ROWS_PER_PART, MIN_MULTIPLY_ADDS_PER_PART, MIN_ELEMENTS_PER_PART
    MIN_ROWS_PER_PART, MIN_ELEMENTS_PER_PART = max(1, rows), max(1, elements)
    MIN_MULTIPLY_ADDS_PER_PART = multiply_adds


cdef int batch_parts(const Layout* layout, Py_ssize_t rows, int max_parts) noexcept nogil:
    """Parts to cut a batch of ``rows`` rows into: one per thread allowed,
    while each keeps enough rows and multiply-adds (forward and backward)."""
    cdef int layer, parts
    cdef double per_row = 0
    for layer in range(layout.n_layers):
        per_row += 3.0 * layout.sizes[layer] * layout.sizes[layer + 1]
    parts = <int> min(<double> min(max_parts, MAX_PARTS), rows / MIN_ROWS_PER_PART,
                      rows * per_row / MIN_MULTIPLY_ADDS_PER_PART)
    return max(parts, 1)


cdef int vector_parts(Py_ssize_t n, int max_parts) noexcept nogil:
    """Blocks to cut a pass over a vector of ``n`` elements into."""
    return max(1, <int> min(<Py_ssize_t> min(max_parts, MAX_PARTS),
                            n // MIN_ELEMENTS_PER_PART))


cdef struct FoldJob:
    bint single
    void** grads
    int n_grads
    Py_ssize_t n
    int parts


cdef void fold_part_typed(FoldJob* job, int part, real* dtype) noexcept nogil:
    """grads[1] += grads[2] + ... on one block (batches of more than 2 parts)."""
    cdef Py_ssize_t i, start = part_start(job.n, part, job.parts)
    cdef Py_ssize_t stop = part_start(job.n, part + 1, job.parts)
    cdef int k
    cdef real* into = <real*> job.grads[1]
    cdef const real* other
    for k in range(2, job.n_grads):
        other = <const real*> job.grads[k]
        for i in range(start, stop):
            into[i] = into[i] + other[i]


cdef void fold_part(void* job, int part) noexcept nogil:
    if (<FoldJob*> job).single:
        fold_part_typed(<FoldJob*> job, part, <float*> NULL)
    else:
        fold_part_typed(<FoldJob*> job, part, <double*> NULL)


cdef void combine_parts(
    StepJob* step, void** grads, int n_grads, int threads,
) noexcept nogil:
    """Point the step at the batch's part gradients: g0 + g1, with any
    further parts folded into g1 first."""
    cdef FoldJob fold
    step.g0 = grads[0]
    step.g1 = grads[1] if n_grads > 1 else NULL
    if n_grads > 2:
        fold.single, fold.grads, fold.n_grads = step.single, grads, n_grads
        fold.n, fold.parts = step.n, step.parts
        run_parts(fold_part, &fold, fold.parts, threads)


cdef class CompiledNetwork:
    """The compiled engine for one ``_network.Network``: its layout, the
    pointers into its parameter and gradient vectors, and work arrays sized
    for the largest batch seen.

    Parameters
    ----------
    layer_sizes : tuple of int
    activation, loss : str
        Names with a fused kernel (``ACTIVATION_KERNELS``, ``LOSS_KERNELS``).
    keep_z : bool
        Whether the activation's derivative reads the pre-activation.
    dropout : tuple of float
        One rate per hidden layer.
    params, grad : ndarray of shape (n_params,)
        The network's parameter and gradient vectors (float32 or float64),
        trained in place.
    loss_parameter : float, default=0.0
        The loss's setting (``huber_delta``, ``quantile``), if it has one.
    """

    cdef Layout* layout
    cdef double* dropout
    cdef bint any_dropout
    cdef readonly object params, grad, dtype
    cdef Batch batch
    cdef list buffers       # the arrays behind ``batch``'s pointers
    cdef list part_grads    # gradient vectors of parts 1, 2, ... of a batch
    cdef void** grads       # and their addresses, part 0 being ``grad``'s
    cdef int n_grads
    cdef Py_ssize_t capacity
    cdef public object rng  # draws the dropout masks of ``loss(training=True)``

    def __cinit__(self, tuple layer_sizes, str activation, str loss, bint keep_z,
                  tuple dropout, params, grad, double loss_parameter=0.0):
        cdef int layer, n_layers = len(layer_sizes) - 1
        self.layout = new_layout(layer_sizes, ACTIVATION_KERNELS[activation],
                                 LOSS_KERNELS[loss], keep_z)
        self.layout.loss_parameter = loss_parameter
        point_into(self.layout, <size_t> params.ctypes.data, params.itemsize)
        self.dropout = <double*> calloc(n_layers, sizeof(double))
        self.any_dropout = False
        for layer in range(min(n_layers - 1, len(dropout))):
            self.dropout[layer] = dropout[layer]
            self.any_dropout = self.any_dropout or dropout[layer] > 0
        self.params, self.grad, self.dtype = params, grad, params.dtype
        self.batch.activations = <void**> calloc(n_layers, sizeof(void*))
        self.batch.pre_activations = <void**> calloc(n_layers, sizeof(void*))
        self.batch.deltas = <void**> calloc(n_layers, sizeof(void*))
        self.batch.masks = <void**> calloc(n_layers, sizeof(void*))
        self.capacity = 0
        self.buffers = []
        self.part_grads = []
        self.grads = NULL
        self.n_grads = 0

    def __dealloc__(self):
        free_layout(self.layout)
        free(self.dropout)
        free(self.batch.activations)
        free(self.batch.pre_activations)
        free(self.batch.deltas)
        free(self.batch.masks)
        free(self.grads)

    cdef void reserve(self, Py_ssize_t rows, int parts) except *:
        """Work arrays for batches of up to ``rows`` rows cut in ``parts``."""
        cdef int layer, n_layers = self.layout.n_layers, width
        if rows > self.capacity:
            self.buffers = []
            for layer in range(n_layers):
                width = self.layout.sizes[layer + 1]
                hidden = layer < n_layers - 1
                arrays = (
                    np.empty((rows, width), self.dtype),
                    np.empty((rows, width), self.dtype),
                    np.empty((rows, width), self.dtype)
                    if hidden and self.layout.keep_z else None,
                    np.empty((rows, width), self.dtype)
                    if hidden and self.dropout[layer] > 0 else None,
                )
                self.buffers.append(arrays)
                self.batch.activations[layer] = _address(arrays[0])
                self.batch.deltas[layer] = _address(arrays[1])
                self.batch.pre_activations[layer] = _address(arrays[2])
                self.batch.masks[layer] = _address(arrays[3])
            self.capacity = rows
        if parts > self.n_grads:
            self.part_grads = [np.empty_like(self.grad) for _ in range(parts - 1)]
            free(self.grads)
            self.grads = <void**> malloc(parts * sizeof(void*))
            self.grads[0] = _address(self.grad)
            for layer in range(1, parts):
                self.grads[layer] = _address(self.part_grads[layer - 1])
            self.n_grads = parts

    cdef object mask_drawer(self, rng):
        """A callback that draws each dropout mask's uniform numbers from
        ``rng`` in the order the reference draws them; None without dropout."""
        if not self.any_dropout:
            return None
        masks = [arrays[3] for arrays in self.buffers]
        dtype = self.dtype

        def draw(rows):
            for mask in masks:
                if mask is not None:
                    rng.random(out=mask[:rows], dtype=dtype)

        return draw

    def output(self, Py_ssize_t rows):
        """The outputs a_L of the last ``rows`` rows evaluated (a view)."""
        return self.buffers[len(self.buffers) - 1][0][:rows]

    def epoch(self, X, T, sample_weight, order, Py_ssize_t batch_size, optimizer,
              double alpha, dropout_rng, int max_parts, bint helpers):
        """One pass of mini-batch training over X (see ``_training``).

        Parameters
        ----------
        X, T : ndarray
            C-contiguous data and encoded targets, in the network's dtype.
        sample_weight : ndarray or None
        order : ndarray of intp or None
            The epoch's order of the rows; None takes them as they are.
        batch_size : int
        optimizer : SGD or Adam
            Its state is updated in place, and ``optimizer.steps_taken`` is
            told how many steps the epoch made.
        alpha : float
            L2 penalty.
        dropout_rng : numpy Generator or None
            Draws the dropout masks, as the reference does.
        max_parts : int
            Most parts to cut a batch or a parameter pass into.
        helpers : bool
            Whether helper threads may compute parts (else the caller does,
            one after the other, with the same results).

        Returns
        -------
        float
            Σ_batches loss_b · rows_b / n_samples, scikit-learn's epoch loss.
        """
        rows = min(batch_size, X.shape[0])
        parts = batch_parts(self.layout, rows, max_parts)
        self.reserve(rows, parts)
        draw = self.mask_drawer(dropout_rng)
        weights = np.empty(0, self.dtype) if sample_weight is None else sample_weight
        order = np.empty(0, np.intp) if order is None else order
        threads = claim_helpers(
            max(parts, vector_parts(self.grad.shape[0], max_parts)) if helpers else 1
        )
        try:
            if self.dtype == np.float32:
                return _epoch[float](self, X, T, weights, order, batch_size,
                                     optimizer, alpha, draw, max_parts, threads)
            return _epoch[double](self, X, T, weights, order, batch_size,
                                  optimizer, alpha, draw, max_parts, threads)
        finally:
            release_helpers(threads)

    def loss(self, X, T, sample_weight, double alpha, bint gradient,
             bint training, Py_ssize_t chunk_rows, int max_parts, bint helpers,
             outputs=None):
        """The loss E over all rows of X, in chunks of ``chunk_rows`` rows,
        and with ``gradient`` its gradient into ``grad`` (see
        ``Network.loss_and_gradient``); ``training`` applies dropout (masks
        drawn as by ``epoch``, from the generator given to ``set_rng``).
        ``outputs``, if given, receives the network's outputs a_L."""
        rows = min(chunk_rows, X.shape[0])
        parts = batch_parts(self.layout, rows, max_parts)
        self.reserve(rows, parts)
        weights = np.empty(0, self.dtype) if sample_weight is None else sample_weight
        threads = claim_helpers(
            max(parts, vector_parts(self.grad.shape[0], max_parts)) if helpers else 1
        )
        try:
            if self.dtype == np.float32:
                return _loss[float](self, X, T, weights, alpha, gradient, training,
                                    chunk_rows, max_parts, threads, outputs)
            return _loss[double](self, X, T, weights, alpha, gradient, training,
                                 chunk_rows, max_parts, threads, outputs)
        finally:
            release_helpers(threads)


cdef void* _address(array) except? NULL:
    if array is None:
        return NULL
    return <void*> <size_t> array.ctypes.data


cdef double _epoch(
    CompiledNetwork net, const real[:, ::1] X, const real[:, ::1] T,
    const real[::1] sample_weight, const Py_ssize_t[::1] order,
    Py_ssize_t batch_size, optimizer, double alpha, object draw, int max_parts,
    int threads,
) except? -1:
    cdef Py_ssize_t n_samples = X.shape[0], rows = min(batch_size, n_samples)
    cdef Py_ssize_t batch_index, start, i, steps = 0
    cdef bint weighted = sample_weight.shape[0] > 0, shuffled = order.shape[0] > 0
    cdef real[:, ::1] X_rows, T_rows
    cdef real[::1] w_rows
    cdef real[::1] params = net.params
    cdef real[::1] first_moment, second_moment
    cdef double total = 0, total_weight
    cdef double losses[MAX_PARTS]
    cdef double squares[MAX_PARTS]
    cdef double learning_rate_init = optimizer.learning_rate_init
    cdef double root = 1, data_loss, penalty
    cdef long t = 0
    cdef int part
    cdef BatchJob job
    cdef StepJob step
    memset(&job, 0, sizeof(job))
    memset(&step, 0, sizeof(step))
    X_rows = np.empty((rows, X.shape[1]), net.dtype)
    T_rows = np.empty((rows, T.shape[1]), net.dtype)
    w_rows = np.empty(rows, net.dtype)
    job.single = real is float
    job.layout, job.grads, job.accumulate = net.layout, net.grads, False
    job.X, job.T = &X[0, 0], &T[0, 0]
    job.n_inputs, job.n_outputs = X.shape[1], T.shape[1]
    job.order = &order[0] if shuffled else NULL
    job.X_rows, job.T_rows = &X_rows[0, 0], &T_rows[0, 0]
    job.weights = &w_rows[0] if weighted else NULL
    job.batch, job.dropout = &net.batch, net.dropout
    job.apply_dropout, job.backward = True, True
    job.losses = losses
    step.single = real is float
    step.params = &params[0]
    step.n, step.n_weights = params.shape[0], net.layout.n_weights
    step.parts = vector_parts(step.n, max_parts)
    step.squares = squares
    step.kind = OPTIMIZER_KERNELS[optimizer.name]
    if step.kind == OPTIMIZER_ADAM:
        first_moment, second_moment = optimizer.m, optimizer.v
        step.second_moment = &second_moment[0]
        step.beta_1, step.beta_2 = optimizer.beta_1, optimizer.beta_2
        t = optimizer.t
        root = sqrt(1.0 - step.beta_2)
        step.epsilon = optimizer.epsilon / root
    else:
        first_moment = optimizer.velocity
        step.learning_rate = optimizer.learning_rate
        step.momentum, step.nesterov = optimizer.momentum, optimizer.nesterov
    step.first_moment = &first_moment[0]
    with nogil:
        for batch_index in range((n_samples + batch_size - 1) // batch_size):
            start = batch_index * batch_size
            rows = min(batch_size, n_samples - start)
            total_weight = rows
            if weighted:
                total_weight = 0
                for i in range(rows):
                    w_rows[i] = sample_weight[order[start + i] if shuffled else start + i]
                    total_weight += w_rows[i]
                if total_weight == 0:
                    continue  # a batch of zero-weight rows carries no information
            if draw is not None:
                with gil:
                    draw(rows)
            job.start, job.rows, job.scale = start, rows, 1.0 / total_weight
            job.parts = batch_parts(net.layout, rows, max_parts)
            run_parts(batch_part, &job, job.parts, threads)
            data_loss = 0
            for part in range(job.parts):
                data_loss += losses[part]
            data_loss *= job.scale
            combine_parts(&step, net.grads, job.parts, threads)
            step.penalty_factor = alpha * job.scale
            if step.kind == OPTIMIZER_ADAM:
                # η_t = η₀ √(1 - β₂ᵗ) / (1 - β₁ᵗ), on moments kept scaled as in
                # _optimizers.Adam.step
                t += 1
                step.step_size = (
                    learning_rate_init * sqrt(1.0 - step.beta_2 ** t)
                    / (1.0 - step.beta_1 ** t) * (1.0 - step.beta_1) / root
                )
            run_parts(step_part, &step, step.parts, threads)
            penalty = 0
            for part in range(step.parts):
                penalty += squares[part]
            total += (data_loss + 0.5 * alpha * penalty * job.scale) * rows
            steps += 1
    optimizer.steps_taken(steps)
    return total / n_samples


cdef double _loss(
    CompiledNetwork net, const real[:, ::1] X, const real[:, ::1] T,
    const real[::1] sample_weight, double alpha, bint gradient, bint training,
    Py_ssize_t chunk_rows, int max_parts, int threads, outputs,
) except? -1:
    cdef Py_ssize_t n_samples = X.shape[0], chunk, start, rows, i
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef double total_weight = n_samples, data_loss = 0
    cdef double losses[MAX_PARTS]
    cdef double squares[MAX_PARTS]
    cdef double penalty = 0
    cdef int part, parts_written = 1
    cdef BatchJob job
    cdef StepJob step
    cdef real[::1] params = net.params
    memset(&job, 0, sizeof(job))
    memset(&step, 0, sizeof(step))
    if weighted:
        total_weight = 0
        for i in range(n_samples):
            total_weight += sample_weight[i]
    draw = net.mask_drawer(net.rng) if training else None
    job.single = real is float
    job.layout, job.grads = net.layout, net.grads
    job.X, job.T = &X[0, 0], &T[0, 0]
    job.n_inputs, job.n_outputs = X.shape[1], T.shape[1]
    job.batch, job.dropout = &net.batch, net.dropout
    job.apply_dropout, job.backward = training, gradient
    job.losses, job.scale = losses, 1.0 / total_weight
    for chunk in range((n_samples + chunk_rows - 1) // chunk_rows):
        start = chunk * chunk_rows
        rows = min(chunk_rows, n_samples - start)
        if draw is not None:
            draw(rows)
        job.start, job.rows = start, rows
        job.weights = &sample_weight[start] if weighted else NULL
        job.parts = batch_parts(net.layout, rows, max_parts)
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
    data_loss *= job.scale
    if gradient:
        step.single = real is float
        step.kind = TOTAL_GRADIENT
        step.params = &params[0]
        step.n, step.n_weights = params.shape[0], net.layout.n_weights
        step.parts = vector_parts(step.n, max_parts)
        step.squares = squares
        step.penalty_factor = alpha * job.scale
        with nogil:
            combine_parts(&step, net.grads, parts_written, threads)
            run_parts(step_part, &step, step.parts, threads)
            for part in range(step.parts):
                penalty += squares[part]
    else:
        for i in range(net.layout.n_weights):
            penalty += params[i] * params[i]
    return data_loss + 0.5 * alpha * penalty * job.scale


# -- predictions -----------------------------------------------------------------------------
cdef struct ForwardJob:
    # Rows of X cut into ``parts`` parts; each part goes through the layers
    # a chunk of ``chunk`` rows at a time, with hidden-layer arrays of its own.
    bint single
    const Layout* layout
    const void* X
    void* out
    Py_ssize_t n_rows
    Py_ssize_t chunk
    void** hidden       # per part: n_layers - 1 arrays of chunk × width
    void** outputs      # per part: the output layer's pointer, per chunk
    int output
    int parts


cdef void forward_part_typed(ForwardJob* job, int part, real* dtype) noexcept nogil:
    cdef Py_ssize_t start = part_start(job.n_rows, part, job.parts)
    cdef Py_ssize_t stop = part_start(job.n_rows, part + 1, job.parts), rows
    cdef int last = job.layout.n_layers - 1
    cdef Py_ssize_t n_in = job.layout.sizes[0], n_out = job.layout.sizes[last + 1]
    cdef Batch batch
    batch.activations = job.hidden + part * (last + 1)
    batch.pre_activations = job.outputs + part * (last + 1)  # all NULL
    batch.deltas = NULL
    batch.masks = NULL
    while start < stop:
        rows = min(job.chunk, stop - start)
        batch.activations[last] = <real*> job.out + start * n_out
        forward_rows(job.layout, <const real*> job.X + start * n_in, rows, 0, &batch,
                     False, NULL, job.output)
        start += rows


cdef void forward_part(void* job, int part) noexcept nogil:
    if (<ForwardJob*> job).single:
        forward_part_typed(<ForwardJob*> job, part, <float*> NULL)
    else:
        forward_part_typed(<ForwardJob*> job, part, <double*> NULL)


def predict(X, list coefs, list intercepts, str activation, str output, out,
            int max_parts, bint helpers):
    """Network outputs for every row of X into ``out`` (see
    ``_network.forward``): ``output`` names the output activation applied
    ("identity" for the logits). X, the weights and ``out`` are C-contiguous
    arrays of one dtype, float32 or float64; rows are cut into up to
    ``max_parts`` parts, computed by helper threads if ``helpers``."""
    cdef int n_layers = len(coefs), layer, parts, threads, widest, part
    cdef Py_ssize_t n_rows = X.shape[0], chunk
    cdef ForwardJob job
    cdef Layout* layout
    cdef double per_row = 0
    sizes = tuple([X.shape[1]] + [W.shape[1] for W in coefs])
    layout = new_layout(sizes, ACTIVATION_KERNELS[activation], -1, False)
    try:
        for layer in range(n_layers):
            layout.weights[layer] = _address(coefs[layer])
            layout.biases[layer] = _address(intercepts[layer])
            per_row += layout.sizes[layer] * layout.sizes[layer + 1]
        widest = max(sizes[1:])
        chunk = max(MIN_PREDICTION_CHUNK,
                    PREDICTION_CHUNK_BYTES // (widest * X.itemsize))
        parts = <int> min(<double> min(max_parts, MAX_PARTS),
                          n_rows / MIN_ROWS_PER_PART,
                          n_rows * per_row / MIN_MULTIPLY_ADDS_PER_PART)
        parts = max(parts, 1)
        chunk = min(chunk, max(1, (n_rows + parts - 1) // parts))
        hidden = [
            np.empty((chunk, width), X.dtype)
            for _ in range(parts) for width in sizes[1:]
        ]
        job.hidden = <void**> calloc(parts * n_layers, sizeof(void*))
        job.outputs = <void**> calloc(parts * n_layers, sizeof(void*))
        for layer in range(parts * n_layers):
            job.hidden[layer] = _address(hidden[layer])
        job.single = X.dtype == np.float32
        job.layout = layout
        job.X, job.out = _address(X), _address(out)
        job.n_rows, job.chunk = n_rows, chunk
        job.output, job.parts = OUTPUT_KERNELS[output], parts
        threads = claim_helpers(parts if helpers else 1)
        try:
            with nogil:
                run_parts(forward_part, &job, parts, threads)
        finally:
            release_helpers(threads)
    finally:
        free(job.hidden)
        free(job.outputs)
        free_layout(layout)
    return out


# -- single stages, for tests and benchmarks ------------------------------------------------
def activate(z, bias, str activation):
    """f(z + b) by the fused kernel, for a C-ordered (rows, cols) z and a bias
    of cols entries, both of one dtype; returns a new array."""
    out = np.array(z, order="C")
    if out.dtype == np.float32:
        _activate[float](out, bias, ACTIVATION_KERNELS[activation])
    else:
        _activate[double](out, bias, ACTIVATION_KERNELS[activation])
    return out


cdef void _activate(real[:, ::1] a, const real[::1] bias, int activation):
    with nogil:
        bias_activate(&a[0, 0], <real*> NULL, &bias[0], a.shape[0], a.shape[1],
                      activation)


def derivative(delta, a, z, str activation):
    """delta ⊙ f'(z) by the fused kernel (z: the pre-activation, read by the
    activations that need it); returns a new array."""
    out = np.array(delta, order="C")
    if out.dtype == np.float32:
        _derivative[float](out, np.ascontiguousarray(a), np.ascontiguousarray(z),
                           ACTIVATION_KERNELS[activation])
    else:
        _derivative[double](out, np.ascontiguousarray(a), np.ascontiguousarray(z),
                            ACTIVATION_KERNELS[activation])
    return out


cdef void _derivative(real[:, ::1] delta, const real[:, ::1] a, const real[:, ::1] z,
                      int activation):
    with nogil:
        times_derivative(&delta[0, 0], &a[0, 0], &z[0, 0],
                         delta.shape[0] * delta.shape[1], activation)


def loss_and_delta(z, t, sample_weight, str loss, double parameter, double scale):
    """The fused output stage: returns (Σ s_i ℓ_i, a = g(z), δ s_i·scale), for
    C-ordered z and t of one dtype and sample weights (or None)."""
    a = np.array(z, order="C")
    delta = np.empty_like(a)
    weights = np.empty(0, a.dtype) if sample_weight is None else sample_weight
    if a.dtype == np.float32:
        total = _loss_and_delta[float](a, np.ascontiguousarray(t), delta,
                                       np.ascontiguousarray(weights),
                                       LOSS_KERNELS[loss], parameter, scale)
    else:
        total = _loss_and_delta[double](a, np.ascontiguousarray(t), delta,
                                        np.ascontiguousarray(weights),
                                        LOSS_KERNELS[loss], parameter, scale)
    return total, a, delta


cdef double _loss_and_delta(real[:, ::1] a, const real[:, ::1] t, real[:, ::1] delta,
                            const real[::1] weights, int loss, double parameter,
                            double scale):
    cdef double total
    with nogil:
        total = output_loss(&a[0, 0], &t[0, 0], &delta[0, 0],
                            &weights[0] if weights.shape[0] > 0 else NULL,
                            a.shape[0], a.shape[1], loss, parameter, <real> scale)
    return total


def optimizer_step(optimizer, params, grad, Py_ssize_t n_weights, double penalty_factor,
                   int parts=1):
    """One fused step of an SGD or Adam optimizer on ``params`` in place,
    with g = grad + penalty_factor · W on the first ``n_weights`` entries, cut
    into ``parts`` blocks; returns Σ W² before the step (see ``epoch``)."""
    cdef StepJob step
    cdef double squares[MAX_PARTS]
    cdef double total = 0
    cdef int part
    memset(&step, 0, sizeof(step))
    step.single = params.dtype == np.float32
    step.kind = OPTIMIZER_KERNELS[optimizer.name]
    step.params, step.g0 = _address(params), _address(grad)
    step.n, step.n_weights = params.shape[0], n_weights
    step.parts, step.squares = max(1, min(parts, MAX_PARTS)), squares
    step.penalty_factor = penalty_factor
    if step.kind == OPTIMIZER_ADAM:
        optimizer.steps_taken(1)
        root = sqrt(1.0 - optimizer.beta_2)
        step.first_moment, step.second_moment = _address(optimizer.m), _address(optimizer.v)
        step.beta_1, step.beta_2 = optimizer.beta_1, optimizer.beta_2
        step.step_size = optimizer.learning_rate * (1.0 - optimizer.beta_1) / root
        step.epsilon = optimizer.epsilon / root
    else:
        step.first_moment = _address(optimizer.velocity)
        step.learning_rate, step.momentum = optimizer.learning_rate, optimizer.momentum
        step.nesterov = optimizer.nesterov
    with nogil:
        for part in range(step.parts):
            step_part(&step, part)
    for part in range(step.parts):
        total += squares[part]
    return total
