# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""The BLAS of the compiled engine: an OpenBLAS of its own, held at one thread.

The engine cuts large work into parts that its own helper threads compute at
the same time (``_threads``); the products inside a part must then run on one
thread. Setting a shared BLAS to one thread, even for a while, is not safe:
other code (a user's ``threadpool_limits``, scikit-learn's own estimators)
saves and restores the same setting at the same time, and can leave it
changed for good. So the engine calls a BLAS that nobody else calls: the
OpenBLAS of the ``scipy-openblas32`` package (the one NumPy's and SciPy's
wheels are built from; they load their own copies). It is loaded privately
(``RTLD_LOCAL``, found by path without importing that package, whose import
would put its symbols in the process's global namespace), set to one thread
once, and never touched again. No BLAS setting of the process is ever changed.

Where that library cannot be loaded, the engine calls SciPy's BLAS
(``scipy.linalg.cython_blas``) as it is configured and cuts nothing into
parts: BLAS threads its own products (``owns_its_blas`` is False).

Row-major arrays are handed to BLAS, which is column-major, as their
transposes: C = op(A) op(B) is computed as Cᵀ = op(B)ᵀ op(A)ᵀ.
"""

import ctypes
import importlib.util
import os
from pathlib import Path

from scipy.linalg.cython_blas cimport ddot, dgemm, sdot, sgemm

ctypedef void (*DgemmFunction)(
    char*, char*, int*, int*, int*, double*, double*, int*, double*, int*,
    double*, double*, int*,
) noexcept nogil
ctypedef void (*SgemmFunction)(
    char*, char*, int*, int*, int*, float*, float*, int*, float*, int*,
    float*, float*, int*,
) noexcept nogil
ctypedef double (*DdotFunction)(int*, double*, int*, double*, int*) noexcept nogil
ctypedef float (*SdotFunction)(int*, float*, int*, float*, int*) noexcept nogil

cdef DgemmFunction blas_dgemm = dgemm
cdef SgemmFunction blas_sgemm = sgemm
cdef DdotFunction blas_ddot = ddot
cdef SdotFunction blas_sdot = sdot
cdef bint private = False

# The package and the symbols of the private library (its exports carry the
# prefix that keeps them apart from any other OpenBLAS in the process).
PACKAGE = "scipy_openblas32"
PREFIX = "scipy_"
_library = None  # the loaded library, kept alive with the module
DESCRIPTION = "SciPy's BLAS as configured (no parts)"


def _library_path() -> Path | None:
    """The shared library of the scipy-openblas32 package, found without
    importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "lib"
    found = sorted(folder.glob("libscipy_openblas*.so*")) + sorted(
        folder.glob("libscipy_openblas*.dylib")
    ) + sorted(folder.glob("*.dll"))
    return found[0] if found else None


def _load_private_blas() -> str:
    """Load the private OpenBLAS, set it to one thread, and call it from now
    on; returns what was done, for show_versions."""
    global blas_dgemm, blas_sgemm, blas_ddot, blas_sdot, private, _library
    path = _library_path()
    if path is None:
        return f"SciPy's BLAS as configured, no parts: {PACKAGE} is not installed"
    mode = getattr(os, "RTLD_LOCAL", 0) | getattr(os, "RTLD_NOW", 0)
    try:
        library = ctypes.CDLL(str(path), mode=mode)
        symbols = {
            name: ctypes.cast(getattr(library, PREFIX + name), ctypes.c_void_p).value
            for name in ("dgemm_", "sgemm_", "ddot_", "sdot_")
        }
        set_threads = getattr(library, PREFIX + "openblas_set_num_threads")
        get_threads = getattr(library, PREFIX + "openblas_get_num_threads")
        config = getattr(library, PREFIX + "openblas_get_config")
    except (OSError, AttributeError) as error:
        return f"SciPy's BLAS as configured, no parts: {path} cannot be used ({error})"
    set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
    get_threads.argtypes, get_threads.restype = [], ctypes.c_int
    config.argtypes, config.restype = [], ctypes.c_char_p
    set_threads(1)
    if get_threads() != 1:
        return f"SciPy's BLAS as configured, no parts: {path} stays threaded"
    _library = library
    blas_dgemm = <DgemmFunction> <size_t> symbols["dgemm_"]
    blas_sgemm = <SgemmFunction> <size_t> symbols["sgemm_"]
    blas_ddot = <DdotFunction> <size_t> symbols["ddot_"]
    blas_sdot = <SdotFunction> <size_t> symbols["sdot_"]
    private = True
    name_and_version = " ".join(config().decode().split()[:2])
    return f"its own {name_and_version} ({PACKAGE}), one thread"


DESCRIPTION = _load_private_blas()


def description() -> str:
    """Which BLAS the compiled engine calls, in a few words."""
    return DESCRIPTION


cdef bint owns_its_blas() noexcept nogil:
    """Whether the engine calls a BLAS of its own, held at one thread: only
    then may it cut work into parts for its helper threads."""
    return private


cdef void gemm(
    bint trans_a, bint trans_b, int m, int n, int k,
    const real* a, int lda, const real* b, int ldb,
    real beta, real* c, int ldc,
) noexcept nogil:
    """Row-major C (m × n) = op(A) op(B) + beta C, op(A) m × k, op(B) k × n."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef real one = 1
    if m == 0 or n == 0:
        return
    if real is float:
        blas_sgemm(&tb, &ta, &n, &m, &k, &one, <float*> b, &ldb, <float*> a, &lda,
                   &beta, c, &ldc)
    else:
        blas_dgemm(&tb, &ta, &n, &m, &k, &one, <double*> b, &ldb, <double*> a, &lda,
                   &beta, c, &ldc)


cdef real sum_of_squares(const real* x, Py_ssize_t n) noexcept nogil:
    """Σ x², by BLAS's dot product, as ``np.dot(x, x)`` computes it (in
    pieces of at most 2³⁰ elements, whose count BLAS takes as an int)."""
    cdef int size, one = 1
    cdef Py_ssize_t start
    cdef real total = 0
    for start in range(0, n, 1 << 30):
        size = <int> min(n - start, <Py_ssize_t> 1 << 30)
        if real is float:
            total += blas_sdot(&size, <float*> x + start, &one, <float*> x + start, &one)
        else:
            total += blas_ddot(&size, <double*> x + start, &one, <double*> x + start, &one)
    return total
