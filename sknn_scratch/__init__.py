"""sknn_scratch: scikit-learn multi-layer perceptrons on a hand-written engine.

``ScratchMLPClassifier`` and ``ScratchMLPRegressor`` take the parameters of
scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` and can replace them in
any pipeline or search; the forward pass, backpropagation and optimisers are
this package's own code. ``check_gradients`` compares an estimator's
backpropagated gradient with finite differences, and ``LossCurveDisplay`` draws
its training and validation curves. ``SmoothClipScaler`` scales numeric
columns robustly and clips them smoothly, as tabular MLPs want their inputs, and
``make_tabular_pipeline`` makes the pipeline of the tabular recipe.
``show_versions`` prints the versions
and which engine runs: the compiled kernels, or the NumPy reference.
"""

from ._compat import register_old_paths
from ._estimators._classifier import ScratchMLPClassifier
from ._estimators._display import LossCurveDisplay
from ._estimators._gradient_check import check_gradients
from ._estimators._regressor import ScratchMLPRegressor
from ._estimators._show_versions import show_versions
from ._estimators._smooth_clip import SmoothClipScaler
from ._estimators._tabular import make_tabular_pipeline

__version__ = "0.1.0"

register_old_paths(__name__)

__all__ = [
    "LossCurveDisplay",
    "ScratchMLPClassifier",
    "ScratchMLPRegressor",
    "SmoothClipScaler",
    "__version__",
    "check_gradients",
    "make_tabular_pipeline",
    "show_versions",
]
