# Optimizer updates over the flat parameter vector, with the L2 penalty folded in.
cdef enum:
    TOTAL_GRADIENT = -1  # no update: the whole gradient into g0 (L-BFGS)

cdef struct StepJob:
    # A pass over the flat vectors, cut into ``parts`` blocks of indices.
    bint single               # float32 vectors, else float64
    int kind                  # an optimizer's code (CODES), or TOTAL_GRADIENT
    void* params
    void* g0                  # the data gradient of part 0 of the batch
    const void* g1            # that of its other parts, summed (NULL: one part)
    void* state[2]            # the optimizer's state vectors
    double constants[4]       # its constants
    double scalar             # this step's scalar (a step size, a learning rate)
    double decay              # this step's weight decay η λ (0: none)
    Py_ssize_t n
    Py_ssize_t n_weights      # the first n_weights entries are weights
    double penalty_factor     # α / S: g += penalty_factor · W (0: no penalty)
    double* squares           # Σ W² of each part's block, before the update
    int parts

cdef void step_part(void* job, int part) noexcept nogil
cdef void combine_parts(StepJob* step, void** grads, int n_grads, int threads) noexcept nogil
cdef int set_optimizer(StepJob* step, optimizer, object arrays) except -1
