"""Fitted attributes checked before the engine reads them.

A fitted estimator's ``coefs_``, ``intercepts_`` and the rest may have been
set by hand, or loaded from a pickle, joblib or skops file that nobody
checked (skops is the format for files one does not fully trust). The engine
reads them as one network, so they must form one: every call that reads them
(prediction, warm start, ``partial_fit``) checks them first, and a mismatch is
a ``ValueError`` that names the attribute. (The compiled engine checks every
array again before C reads it; these checks say what is wrong in the
estimator's own terms.)
"""

import numpy as np

from .._reference._activations import ACTIVATIONS, OUTPUT_ACTIVATIONS
from .._reference._embeddings import EMBEDDINGS, NumericalEmbedding
from .._reference._network import n_parameters

REFIT = "Refit the estimator, or load a file saved from a fitted one."


def _fail(message: str) -> None:
    raise ValueError(f"{message} {REFIT}")


def check_fitted_network(estimator) -> None:
    """Raise ValueError unless the fitted attributes form one network.

    ``coefs_`` and ``intercepts_`` are lists of as many float arrays of one
    dtype as the network has layers (``n_layers_ - 1``); ``coefs_[0]`` has a
    row per feature (``n_features_in_``), each ``coefs_[i]`` a row per unit of
    the layer below and ``intercepts_[i]`` an entry per unit of its layer; the
    last layer has ``n_outputs_`` units, as many as the estimator's targets
    need (``_expected_outputs``); ``activation`` and ``out_activation_`` name
    entries of the engine's tables.
    """
    if estimator.activation not in ACTIVATIONS:
        _fail(f"activation={estimator.activation!r} is not one of {list(ACTIVATIONS)}.")
    out_activation = getattr(estimator, "out_activation_", None)
    if not isinstance(out_activation, str) or out_activation not in OUTPUT_ACTIVATIONS:
        _fail(
            f"out_activation_={out_activation!r} is not one of "
            f"{list(OUTPUT_ACTIVATIONS)}."
        )
    coefs = getattr(estimator, "coefs_", None)
    intercepts = getattr(estimator, "intercepts_", None)
    for name, arrays in (("coefs_", coefs), ("intercepts_", intercepts)):
        if not isinstance(arrays, (list, tuple)) or not arrays:
            _fail(f"{name} must be a non-empty list of arrays; got {type(arrays)}.")
    if len(coefs) != len(intercepts):
        _fail(
            f"coefs_ has {len(coefs)} weight matrices but intercepts_ has "
            f"{len(intercepts)} bias vectors: one of each per layer."
        )
    n_layers = getattr(estimator, "n_layers_", None)
    if n_layers != len(coefs) + 1:
        _fail(
            f"n_layers_={n_layers!r}, but coefs_ and intercepts_ hold "
            f"{len(coefs)} layers (n_layers_ counts the input layer too)."
        )
    dtype = getattr(coefs[0], "dtype", None)
    if dtype not in (np.float32, np.float64):
        _fail(f"coefs_[0] must be a float32 or float64 array; got {dtype!r}.")
    width = getattr(estimator, "n_features_in_", None)
    below = f"n_features_in_={width}"
    embedding = getattr(estimator, "embedding_", None)
    if embedding is not None:
        width = check_fitted_embedding(estimator, embedding, width, dtype)
        below = f"embedding_ gives {width} inputs"
    for layer, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        for name, array, ndim in (("coefs_", W, 2), ("intercepts_", b, 1)):
            if not (
                isinstance(array, np.ndarray)
                and array.ndim == ndim
                and array.dtype == dtype
            ):
                _fail(
                    f"{name}[{layer}] must be a {ndim}-D {dtype} array like "
                    f"coefs_[0]; got {getattr(array, 'shape', None)} of "
                    f"{getattr(array, 'dtype', type(array).__name__)}."
                )
        if W.shape[0] != width or W.shape[1] < 1:
            _fail(
                f"coefs_[{layer}] has shape {W.shape}, but the layer below has "
                f"{width} units ({below}): it needs a row per unit below, and at "
                "least one column."
            )
        if b.shape != (W.shape[1],):
            _fail(
                f"intercepts_[{layer}] has shape {b.shape}, but coefs_[{layer}] "
                f"gives its layer {W.shape[1]} units: it needs one bias per unit."
            )
        width, below = W.shape[1], f"coefs_[{layer}] has {W.shape[1]} columns"
    members = check_fitted_members(estimator, coefs[0].shape[0], dtype)
    n_outputs = getattr(estimator, "n_outputs_", None)
    expected = estimator._expected_outputs()
    if width != members * n_outputs or (
        expected is not None and width != members * expected
    ):
        _fail(
            f"the last layer has {width} units (coefs_[{len(coefs) - 1}] has "
            f"{width} columns), but n_outputs_={n_outputs!r}"
            + ("" if expected is None else f" and the targets need {expected}")
            + ("" if members == 1 else f", for each of {members} members")
            + "."
        )


def check_fitted_members(estimator, n_inputs: int, dtype) -> int:
    """Raise ValueError unless ``member_scales_`` (where there is one) holds
    one scale per input of the first layer for each member; returns the
    number of members."""
    scales = getattr(estimator, "member_scales_", None)
    if scales is None:
        return 1
    if not (
        isinstance(scales, np.ndarray)
        and scales.ndim == 2
        and scales.shape[0] >= 2
        and scales.shape[1] == n_inputs
        and scales.dtype == dtype
    ):
        _fail(
            f"member_scales_ has shape {getattr(scales, 'shape', None)}, but the "
            f"first layer has {n_inputs} inputs: it needs (members, {n_inputs}) "
            f"{dtype} values."
        )
    return scales.shape[0]


def check_fitted_embedding(estimator, embedding, n_features, dtype) -> int:
    """Raise ValueError unless ``embedding_`` (and ``embedding_params_``) can
    embed ``n_features`` columns; returns the first layer's width."""
    if (
        not isinstance(embedding, NumericalEmbedding)
        or embedding.kind not in EMBEDDINGS
    ):
        _fail(f"embedding_ must be a numerical embedding; got {type(embedding)}.")
    columns = embedding.columns
    if not (
        isinstance(columns, np.ndarray)
        and columns.ndim == 1
        and columns.dtype.kind in "iu"
        and columns.size
        and embedding.n_features == n_features
        and np.all(np.diff(columns) > 0)
        and 0 <= columns[0]
        and columns[-1] < n_features
    ):
        _fail(
            f"embedding_ embeds columns {columns!r} of {embedding.n_features}, but "
            f"X has n_features_in_={n_features} columns."
        )
    passthrough = embedding.passthrough
    others = np.setdiff1d(np.arange(n_features), columns)
    if not (
        isinstance(passthrough, np.ndarray)
        and passthrough.dtype.kind in "iu"
        and np.array_equal(passthrough, others)
    ):
        _fail(
            f"embedding_ passes columns {passthrough!r} through, but the columns "
            f"of X it does not embed are {others.tolist()}."
        )
    constants = embedding.constants  # the widths are read from them
    if not isinstance(constants, list) or len(constants) != columns.size:
        _fail(
            f"embedding_ must hold the fitted constants of each of its "
            f"{columns.size} columns; got {type(constants).__name__} of "
            f"{len(constants) if isinstance(constants, list) else None}."
        )
    if embedding.entry.backward is None:  # fixed encodings: their constants
        edges = constants
        if not all(
            isinstance(e, np.ndarray)
            and e.ndim == 1
            and e.size >= 2
            and np.all(np.isfinite(e))
            and np.all(np.diff(e) > 0)
            for e in edges
        ):
            _fail("embedding_ must hold increasing finite bin edges for each column.")
    params = getattr(estimator, "embedding_params_", None)
    expected = (columns.size, embedding.size) if embedding.n_params else None
    shape = getattr(params, "shape", None)
    if shape != expected or (params is not None and params.dtype != dtype):
        _fail(
            f"embedding_params_ has shape {shape}, but embedding_ needs "
            f"{expected} of {dtype}."
        )
    return embedding.width


def is_flat_vector_of(params, layer_sizes, dtype, n_extra: int = 0) -> bool:
    """Whether ``params`` is a writeable C-ordered vector of ``dtype`` holding
    exactly the parameters of a network of ``layer_sizes`` (and ``n_extra``
    more: the embedding's)."""
    return (
        isinstance(params, np.ndarray)
        and params.dtype == dtype
        and params.shape == (n_parameters(tuple(layer_sizes))[1] + n_extra,)
        and params.flags.c_contiguous
        and params.flags.writeable
    )
