# A network's layout, and its layers run over a range of rows.
from ._embeddings cimport Embedding
from ._vector cimport real

cdef struct Layout:
    int n_layers
    int* sizes            # n_layers + 1 widths, inputs first
    const void** weights  # W_l, fan_in × fan_out, row-major
    const void** biases   # b_l
    Py_ssize_t n_weights  # of the flat vector, when there is one
    Py_ssize_t n_params
    Py_ssize_t* weight_offset
    Py_ssize_t* bias_offset
    int activation        # a code of _activations.CODES
    int loss              # a code of _losses.LOSS_CODES (-1: none)
    const double* loss_settings  # huber_delta, quantile: per output column
    bint keep_z           # the activation's derivative reads z
    double multiply_adds  # per row of X, forward and backward, of all members
    int members           # packed members k (1: one network)
    int n_outputs         # outputs of each member
    Py_ssize_t member_offset    # of the members' scales r in the flat vector
    const void* member_scales   # r, k × sizes[0] (members > 1)
    Embedding embedding   # the first layer's view of X (kind -1: none)
    const void* embedding_params  # its trainable parameters

cdef struct Batch:
    # Per layer (rows × width of the layer, for the largest batch): the
    # activations a_l (a_L: the output), the deltas δ_l, the kept
    # pre-activations z_l (NULL unless the derivative reads z) and the
    # dropout masks (NULL where a layer has none).
    void** activations
    void** pre_activations
    void** deltas
    void** masks
    # The first layer's input and what comes before it, where a network has
    # them (NULL otherwise): the embedding of X's rows (rows × its width) and
    # its gradient; for k members, the work arrays of each part (the first
    # layer's weights of each member and their gradients: ``member_weights``
    # of _layers.pyx) and the targets and weights once per member copy.
    void* inputs
    void* input_delta
    void* member_work
    void* targets
    void* copy_weights

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

cdef Layout* new_layout(tuple sizes, int activation, int loss, bint keep_z) except NULL
cdef void point_into(Layout* layout, size_t flat, Py_ssize_t itemsize) noexcept
cdef void free_layout(Layout* layout) noexcept
cdef void batch_part(void* job, int part) noexcept nogil
cdef const real* first_input(
    const Layout* layout, const real* X, Py_ssize_t rows, Py_ssize_t first,
    const Batch* batch,
) noexcept nogil
cdef void forward_rows(
    const Layout* layout, const real* X, Py_ssize_t rows, Py_ssize_t first,
    const Batch* batch, bint apply_dropout, const double* dropout, int output,
    const real* member_first,
) noexcept nogil

cdef class CompiledNetwork:
    cdef Layout* layout
    cdef double* dropout
    cdef readonly bint any_dropout
    cdef readonly object params, grad, dtype
    cdef readonly object loss_settings  # behind layout.loss_settings
    cdef Batch batch
    cdef list buffers       # the arrays behind ``batch``'s pointers, per layer
    cdef list part_grads    # gradient vectors of parts 1, 2, ... of a batch
    cdef void** grads       # and their addresses, part 0 being ``grad``'s
    cdef int n_grads
    cdef Py_ssize_t capacity
    cdef readonly object X_rows, T_rows, w_rows  # gather buffers of a batch
    cdef object input_arrays      # the arrays behind batch.inputs ... copy_weights
    cdef object member_work       # the one behind batch.member_work
    cdef object embedding_arrays  # those behind layout.embedding's pointers

    cdef int reserve(self, Py_ssize_t rows, int parts, bint gather) except -1
    cdef Py_ssize_t _set_embedding(self, embedding, Py_ssize_t width) except -1
    cdef object mask_drawer(self, rng)
    cdef int check_data(self, X, T, sample_weight) except -1
