"""Export to ONNX through skl2onnx (the ``onnx`` extra).

A fitted ``ScratchMLPClassifier`` or ``ScratchMLPRegressor`` holds the fitted
attributes of scikit-learn's ``MLPClassifier`` and ``MLPRegressor``
(``coefs_``, ``intercepts_``, ``activation``, ``out_activation_``,
``classes_``), so skl2onnx's own shape calculators and converters for those
write our networks too. ``register()`` registers them for our two classes::

    import numpy as np
    import skl2onnx
    import sknn_scratch.onnx

    sknn_scratch.onnx.register()
    onx = skl2onnx.to_onnx(clf, X[:1].astype(np.float32), options={"zipmap": False})

Our converters first refuse, with an error naming them, the settings that
cannot be exported (``_unexportable``). Then they hand the network to
skl2onnx's MLP converters, putting right three things those get wrong for
scikit-learn's MLP too (skl2onnx 1.20):

- the classifier converter ignores the option ``nocl`` (class indices as
  labels), which its shape calculator honours, so that string labels give a
  graph onnxruntime rejects: it is shown the classes the options ask for;
- the regressor converter reshapes the predictions to one column, which
  stacks the rows of several outputs into one (sklearn-onnx issue 474): they
  are reshaped back;
- for multilabel targets the classifier converter thresholds the
  probabilities with ONNX-ML's Binarizer, which onnxruntime runs on float32
  only, and takes two labels for a binary problem: the probabilities are
  written by the regressor converter (the same forward pass) and thresholded
  at 0.5 with standard operators, as ``predict`` does.

Importing this module imports nothing beyond ``sknn_scratch``; ``register()``
imports skl2onnx.
"""

import copy

import numpy as np

from ._estimators._classifier import ScratchMLPClassifier
from ._estimators._regressor import ScratchMLPRegressor
from ._reference._activations import ACTIVATIONS

__all__ = ["register"]

# The aliases under which skl2onnx knows our classes. Its own entries for
# scikit-learn's MLP, whose converters ours call, are left as they are.
CLASSIFIER_ALIAS = "SknnScratchMLPClassifier"
REGRESSOR_ALIAS = "SknnScratchMLPRegressor"
_SKLEARN_CLASSIFIER_ALIAS = "SklearnMLPClassifier"
_SKLEARN_REGRESSOR_ALIAS = "SklearnMLPRegressor"

# The output activations skl2onnx's MLP converters write (their map from
# scikit-learn's activation names to ONNX operators). Hidden layers may use
# scikit-learn's four activations: the table's ``in_sklearn``.
_CONVERTER_OUTPUTS = ("identity", "logistic", "softmax")

# skl2onnx's MLP classifier converter stores integer labels as int32.
_LABEL_RANGE = np.iinfo(np.int32)

# predict's threshold on each label's probability, for multilabel targets
_MULTILABEL_THRESHOLD = 0.5


def _unexportable(
    estimator, nocl: bool = False, zipmap: bool | str = False, double: bool = False
) -> list[str]:
    """What keeps a fitted estimator from being exported with these options.

    Parameters
    ----------
    estimator : ScratchMLPClassifier or ScratchMLPRegressor
        A fitted estimator.
    nocl : bool, default=False
        skl2onnx's classifier option: class indices instead of labels.
    zipmap : bool or "columns", default=False
        skl2onnx's classifier option: probabilities as a list of dicts (True)
        or one output per class ("columns").
    double : bool, default=False
        Whether the graph's input is double (float64).

    Returns
    -------
    list of str
        One sentence per setting that cannot be exported, naming it and
        saying why; empty when the estimator can be exported.
    """
    problems = []
    if not ACTIVATIONS[estimator.activation].in_sklearn:
        known = ", ".join(name for name, a in ACTIVATIONS.items() if a.in_sklearn)
        problems.append(
            f"activation={estimator.activation!r}: skl2onnx's MLP converters "
            f"write only scikit-learn's hidden activations ({known})"
        )
    if estimator.out_activation_ not in _CONVERTER_OUTPUTS:
        setting = (
            f"loss={estimator.loss!r}"
            if isinstance(estimator, ScratchMLPRegressor)
            else f"out_activation_={estimator.out_activation_!r}"
        )
        problems.append(
            f"{setting}: its output activation {estimator.out_activation_!r} is "
            f"not one skl2onnx's MLP converters write "
            f"({', '.join(_CONVERTER_OUTPUTS)})"
        )
    quantiles = (
        estimator._fitted_quantile_levels()
        if isinstance(estimator, ScratchMLPRegressor)
        else None
    )
    if quantiles is not None:
        problems.append(
            f"quantile={list(quantiles)} with loss='quantile': a sequence of "
            "quantiles is predicted sorted, with an axis for the quantiles, and "
            "skl2onnx's MLP converter writes the network's raw outputs (export a "
            "network fitted for one float quantile instead)"
        )
    if getattr(estimator, "embedding_", None) is not None:
        problems.append(
            f"embedding={estimator.embedding_.kind!r}: skl2onnx's MLP converters "
            "read X with the first layer directly, with no numerical embedding "
            "in front of it"
        )
    if getattr(estimator, "member_scales_", None) is not None:
        problems.append(
            f"n_members={estimator.member_scales_.shape[0]}: skl2onnx's MLP "
            "converters write one network, not packed members whose outputs "
            "are averaged"
        )
    if getattr(estimator, "y_mean_", None) is not None:
        problems.append(
            "normalize_y=True: skl2onnx's MLP converter writes the network's "
            "outputs, which are the standardised targets, not y's units"
        )
    if isinstance(estimator, ScratchMLPClassifier):
        classes = estimator.classes_
        if (
            not nocl
            and np.issubdtype(classes.dtype, np.integer)
            and (classes.min() < _LABEL_RANGE.min or classes.max() > _LABEL_RANGE.max)
        ):
            problems.append(
                "class labels beyond the int32 range: skl2onnx's MLP converter "
                "stores labels as int32 (the option nocl=True exports class "
                "indices instead)"
            )
        if double and zipmap is True:
            problems.append(
                "the option zipmap=True with a double input: ONNX's ZipMap "
                "takes float32 probabilities only (use zipmap=False)"
            )
    return problems


def _check_exportable(estimator, **options) -> None:
    problems = _unexportable(estimator, **options)
    if problems:
        raise ValueError(
            f"This {type(estimator).__name__} cannot be exported to ONNX: "
            + "; ".join(problems)
            + "."
        )


def _delegate(scope, operator, alias, raw_operator, outputs):
    """Declare an operator of skl2onnx's ``alias`` for ``raw_operator`` on
    ``operator``'s inputs, with new outputs (name, type); skl2onnx converts it
    after the calling converter returns. Returns its output variables."""
    delegate = scope.declare_local_operator(alias, raw_operator)
    delegate.inputs = operator.inputs
    for name, output_type in outputs:
        delegate.outputs.append(scope.declare_local_variable(name, output_type))
    return delegate.outputs


def _network_outputs(scope, operator, container, estimator, output) -> None:
    """Write the network's output activations, one column per output, to the
    variable ``output`` through skl2onnx's MLP regressor converter."""
    from skl2onnx.common._apply_operation import apply_reshape

    (stacked,) = _delegate(
        scope,
        operator,
        _SKLEARN_REGRESSOR_ALIAS,
        estimator,
        [("stacked_outputs", type(output.type)())],
    )
    # It reshapes the outputs to (-1, 1), row after row: (n, k) -> (n k, 1).
    apply_reshape(
        scope,
        stacked.full_name,
        output.full_name,
        container,
        desired_shape=(-1, estimator.n_outputs_),
    )


def _convert_classifier(scope, operator, container) -> None:
    from skl2onnx.common._apply_operation import (
        apply_cast,
        apply_greater,
        apply_identity,
    )
    from skl2onnx.common.data_types import DoubleTensorType, guess_proto_type
    from skl2onnx.common.utils_classifier import get_label_classes
    from skl2onnx.proto import onnx_proto

    estimator = operator.raw_operator
    options = scope.get_options(estimator, {"nocl": False, "zipmap": True})
    label, probabilities = operator.outputs
    _check_exportable(
        estimator,
        nocl=options["nocl"],
        zipmap=options["zipmap"],
        double=isinstance(probabilities.type, DoubleTensorType),
    )
    if _is_multilabel(estimator):
        _network_outputs(scope, operator, container, estimator, probabilities)
        threshold = scope.get_unique_variable_name("threshold")
        container.add_initializer(
            threshold,
            guess_proto_type(probabilities.type),
            [],
            [_MULTILABEL_THRESHOLD],
        )
        above = scope.get_unique_variable_name("above_threshold")
        apply_greater(scope, [probabilities.full_name, threshold], above, container)
        apply_cast(
            scope, above, label.full_name, container, to=onnx_proto.TensorProto.INT64
        )
        return
    # skl2onnx's MLP converter writes classes_ as the labels whatever the
    # options; show it the classes they ask for (class indices under nocl).
    view = copy.copy(estimator)
    view.classes_ = get_label_classes(scope, estimator)
    delegated = _delegate(
        scope,
        operator,
        _SKLEARN_CLASSIFIER_ALIAS,
        view,
        [("mlp_label", label.type), ("mlp_probabilities", probabilities.type)],
    )
    for theirs, ours in zip(delegated, operator.outputs, strict=True):
        apply_identity(scope, theirs.full_name, ours.full_name, container)


def _is_multilabel(classifier) -> bool:
    return classifier._label_binarizer.y_type_.startswith("multilabel")


def _classifier_output_shapes(operator) -> None:
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )

    calculate_linear_classifier_output_shapes(operator)
    # It declares one label per row unless the model has skl2onnx's marker
    # ``multilabel_``, which ours, like scikit-learn's MLP, does not have.
    classifier = operator.raw_operator
    if _is_multilabel(classifier):
        label = operator.outputs[0]
        label.set_type(
            Int64TensorType([label.get_first_dimension(), classifier.n_outputs_])
        )


def _regressor_output_shapes(operator) -> None:
    from skl2onnx.common.shape_calculator import (
        calculate_linear_regressor_output_shapes,
    )

    calculate_linear_regressor_output_shapes(operator)
    # It declares one column whatever the number of outputs.
    output = operator.outputs[0]
    output.set_type(
        type(output.type)(
            [output.get_first_dimension(), operator.raw_operator.n_outputs_]
        )
    )


def _convert_regressor(scope, operator, container) -> None:
    estimator = operator.raw_operator
    _check_exportable(estimator)
    _network_outputs(scope, operator, container, estimator, operator.outputs[0])


def register() -> None:
    """Register our estimators with skl2onnx, so that ``skl2onnx.to_onnx`` and
    ``convert_sklearn`` export them, alone or in a pipeline.

    The classifier takes skl2onnx's options ``zipmap`` (True, False or
    "columns") and ``nocl``. Settings that cannot be exported raise a
    ``ValueError`` naming them when the model is converted. Calling
    ``register`` again changes nothing, and nothing outside skl2onnx's
    registry of converters is changed.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install "sknn-scratch[onnx]"``).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> import skl2onnx
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> import sknn_scratch.onnx
    >>> from sknn_scratch import ScratchMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X).astype(np.float32)
    >>> clf = ScratchMLPClassifier(solver="lbfgs", random_state=0).fit(X, y)
    >>> sknn_scratch.onnx.register()
    >>> onx = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    >>> session = onnxruntime.InferenceSession(
    ...     onx.SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> labels, probabilities = session.run(None, {"X": X})
    >>> bool((labels == clf.predict(X)).all())
    True
    >>> float(abs(probabilities - clf.predict_proba(X)).max()) < 1e-5
    True
    """
    try:
        import skl2onnx
    except ImportError as error:
        raise ImportError(
            "sknn_scratch.onnx.register() needs skl2onnx: "
            'pip install "sknn-scratch[onnx]"'
        ) from error
    skl2onnx.update_registered_converter(
        ScratchMLPClassifier,
        CLASSIFIER_ALIAS,
        _classifier_output_shapes,
        _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    skl2onnx.update_registered_converter(
        ScratchMLPRegressor,
        REGRESSOR_ALIAS,
        _regressor_output_shapes,
        _convert_regressor,
    )
