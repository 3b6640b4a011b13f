"""Which engine trains and predicts: the compiled kernels or the NumPy reference.

Both engines compute the same thing (the compiled one is the sub-package
``_compiled``, the reference is ``_reference``). The compiled engine runs
wherever it was built and the network's activation and loss have compiled
kernels (their table entries say ``compiled=True``) and the data are dense;
anything else runs on the reference, which is also the fallback of an install
without a C compiler.

The environment variable ``SKNN_SCRATCH_ENGINE`` chooses:

- unset: the compiled engine where it applies, the reference elsewhere;
- ``"numpy"``: the reference everywhere;
- ``"compiled"``: as unset, but a missing compiled engine is an error at
  import (CI sets it, so that a broken build cannot pass silently).
"""

import contextlib
import importlib
import os
import warnings
from pathlib import Path

import numpy as np

ENGINE_VARIABLE = "SKNN_SCRATCH_ENGINE"
ENGINES = ("compiled", "numpy")

_choice = os.environ.get(ENGINE_VARIABLE, "").strip().lower()
if _choice not in ("", *ENGINES):
    raise ImportError(
        f"{ENGINE_VARIABLE}={_choice!r} is not an engine: use one of {ENGINES} "
        "or leave it unset."
    )

_COMPILED = __name__.rsplit(".", 1)[0] + "._compiled"


def _source_folder() -> Path | None:
    """The checkout in the current folder, if the package was imported from
    it: Python puts the current folder first on its path, so that the
    checkout's unbuilt package shadows the installed one."""
    checkout = Path(__file__).resolve().parent.parent
    if checkout == Path.cwd().resolve() and (checkout / "setup.py").exists():
        return checkout
    return None


def _unbuilt(error: ImportError) -> bool:
    """Whether the error says that a module of the compiled engine is not
    there at all (not built), rather than that a built one failed to load."""
    return isinstance(error, ModuleNotFoundError) and (error.name or "").startswith(
        _COMPILED + "."
    )


try:
    compiled = importlib.import_module(_COMPILED)
except ImportError as error:
    if _unbuilt(error):
        UNAVAILABLE = f"{_COMPILED} was not built (no C compiler at install?)"
        if (checkout := _source_folder()) is not None:
            UNAVAILABLE = (
                f"the package was imported from its source folder {checkout}, "
                f"where {_COMPILED} is not built; run Python from another "
                "folder to use the installed package"
            )
    else:
        UNAVAILABLE = f"{_COMPILED} cannot be imported: {error}"
    if _choice == "compiled":
        raise ImportError(
            f"{ENGINE_VARIABLE}=compiled, but {UNAVAILABLE}. Reinstall with a C "
            "compiler available: pip install . builds it."
        ) from error
    compiled = None
else:
    UNAVAILABLE = ""

_preferred = "numpy" if _choice == "numpy" else "compiled"


def preferred() -> str:
    """The engine asked for: "compiled" (if built) or "numpy"."""
    return _preferred if compiled is not None else "numpy"


def description() -> str:
    """The engine that runs, and why, in one line (for show_versions)."""
    if preferred() == "compiled":
        return f"compiled ({_COMPILED}; BLAS: {compiled.blas_description()})"
    if UNAVAILABLE:
        return f"numpy (the compiled engine could not be loaded: {UNAVAILABLE})"
    return f"numpy (chosen by {ENGINE_VARIABLE})"


@contextlib.contextmanager
def using(engine: str):
    """Run the enclosed fits and predictions on ``engine`` (for tests and
    benchmarks; it sets a module variable, so it is not for threads that
    disagree)."""
    global _preferred
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}.")
    if engine == "compiled" and compiled is None:
        raise RuntimeError(f"the compiled engine is not built: {UNAVAILABLE}")
    saved, _preferred = _preferred, engine
    try:
        yield
    finally:
        _preferred = saved


def compile_network(network):
    """The compiled engine for ``network`` (a ``_compiled.CompiledNetwork``
    on its parameter and gradient vectors), or None where the reference runs:
    engine not built or not chosen, or no compiled kernel for its activation
    or loss."""
    if preferred() != "compiled":
        return None
    if not (network.hidden_activation.compiled and network.loss_entry.compiled):
        return None
    return compiled.CompiledNetwork(
        network.layer_sizes,
        network.activation,
        network.loss_name,
        "z" in network.hidden_activation.derivative_reads,
        network.dropout,
        network.params,
        network.grad,
        network.column_settings(),
        network.members,
        network.embedding,
    )


def compiled_predictor(X, coefs, intercepts, activation: str):
    """The compiled prediction (``_compiled.predict``) for these arrays, or
    None where the reference predicts: engine not built or not chosen, an
    activation without a compiled kernel, sparse data, or weights and data of
    different dtypes or layouts. X may have any memory layout: the compiled prediction
    reads it row block by row block (and checks every array it reads)."""
    from ._reference._activations import ACTIVATIONS

    entry = ACTIVATIONS.get(activation)
    if preferred() != "compiled" or entry is None or not entry.compiled:
        return None
    if not (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype in (np.float32, np.float64)
        and all(
            isinstance(a, np.ndarray) and a.dtype == X.dtype and a.flags.c_contiguous
            for a in (*coefs, *intercepts)
        )
    ):
        return None
    return compiled.predict


class EngineFallbackWarning(UserWarning):
    """The compiled engine did not load, and nobody asked for the NumPy one."""


_fallback_warned = False


def warn_if_fallback() -> None:
    """Warn, the first time in the process, that fits run on the NumPy engine
    because the compiled one did not load (``UNAVAILABLE`` says why).

    Silent where the compiled engine loaded or ``SKNN_SCRATCH_ENGINE=numpy``
    chose the NumPy engine. The estimators call it as a fit starts; the
    warning is attributed to their line, as ``_estimators._exceptions.warn``
    does, so that ``module="sknn_scratch"`` filters reach it.
    """
    global _fallback_warned
    if not UNAVAILABLE or _choice == "numpy" or _fallback_warned:
        return
    _fallback_warned = True
    warnings.warn(
        f"sknn_scratch's compiled engine did not load: {UNAVAILABLE}. Fits run "
        "on the NumPy engine instead: the same results, more slowly. If the "
        "install had no C compiler, install one and reinstall without pip's "
        "cache of built wheels (pip install --force-reinstall --no-cache-dir; "
        "-v shows why a build fails). To run on the NumPy engine on purpose, "
        f"without this warning, set {ENGINE_VARIABLE}=numpy.",
        EngineFallbackWarning,
        stacklevel=2,
    )
