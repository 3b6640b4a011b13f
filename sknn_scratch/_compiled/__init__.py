"""The compiled engine: the NumPy engine's computation in Cython kernels.

Built by ``pip install .`` (``setup.py``); where it is not built, the package
runs on the NumPy reference engine (``sknn_scratch._engine`` decides). One
module per concern, each with its ``.pxd`` header:

- element-wise kernels, one module per kind of the reference's tables, whose
  codes and dispatch are generated from those tables (``_generate.py``):
  ``_activations`` (forward beside derivative), ``_losses`` (value beside
  delta, and the output activations), ``_optimizers`` (each update);
  ``_vector`` runs NumPy's own loops for exp, tanh, log and their kin;
- ``_blas``: the matrix products, on an OpenBLAS of the engine's own;
- ``_layers``: a network's layout and work arrays, its layers run forward and
  backward over a range of rows (a batch's row parts);
- ``_threads``: the helper threads, how work is cut into parts, Ctrl-C;
- ``_epoch``: the epoch driver of ``sgd`` and ``adam``;
- ``_objective``: the full-data loss and gradient (L-BFGS, validation);
- ``_predict``: predictions.
"""

from ._activations import CODES as ACTIVATION_CODES
from ._activations import activate, derivative
from ._blas import description as blas_description
from ._epoch import epoch
from ._layers import CompiledNetwork
from ._losses import LOSS_CODES, OUTPUT_CODES, loss_stage
from ._objective import objective
from ._optimizers import CODES as OPTIMIZER_CODES
from ._optimizers import optimizer_step
from ._predict import check_layers, predict
from ._threads import part_policy, parts_on_helpers, set_part_policy
from ._vector import vector_loops

__all__ = [
    "ACTIVATION_CODES",
    "LOSS_CODES",
    "OPTIMIZER_CODES",
    "OUTPUT_CODES",
    "CompiledNetwork",
    "activate",
    "blas_description",
    "check_layers",
    "derivative",
    "epoch",
    "loss_stage",
    "objective",
    "optimizer_step",
    "part_policy",
    "parts_on_helpers",
    "predict",
    "set_part_policy",
    "vector_loops",
]
