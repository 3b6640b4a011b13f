# Helper threads, how work is cut into parts, and watching for Ctrl-C.

ctypedef void (*PartWork)(void* job, int part) noexcept nogil

cdef enum:
    MAX_HELPERS = 63
    MAX_PARTS = MAX_HELPERS + 1

cdef struct Interrupts:
    bint watch          # the call runs on the main thread, the one SIGINT reaches
    double work         # multiply-adds since the last look

cdef int claim_helpers(int wanted, bint spin) except -1
cdef void release_helpers(int threads) noexcept
cdef void run_parts(PartWork work, void* job, int parts, int threads) noexcept nogil
cdef Py_ssize_t part_start(Py_ssize_t n, int part, int parts) noexcept nogil
cdef int max_parts() noexcept nogil
cdef int row_parts(Py_ssize_t rows, double multiply_adds_per_row, int most) noexcept nogil
cdef int vector_parts(Py_ssize_t n, int most, int spread) noexcept nogil
cdef Interrupts watch_interrupts() except *
cdef int look_for_interrupt(Interrupts* interrupts, double work) except -1 nogil
