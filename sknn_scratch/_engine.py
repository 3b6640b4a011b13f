"""Which engine trains and predicts: the compiled kernels or the NumPy reference.

Both engines compute the same thing (the compiled one is ``_kernels.pyx``, the
reference is ``_network`` and its tables). The compiled engine runs wherever
the extension was built and the network's activation and loss have fused
kernels (their table entries say ``compiled=True``) and the data are dense;
anything else runs on the reference, which is also the fallback of an install
without a C compiler.

The environment variable ``SKNN_SCRATCH_ENGINE`` chooses:

- unset: the compiled engine where it applies, the reference elsewhere;
- ``"numpy"``: the reference everywhere;
- ``"compiled"``: as unset, but a missing extension is an error at import
  (CI sets it, so that a broken build cannot pass silently).
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

_KERNELS = __name__.rsplit(".", 1)[0] + "._compiled._kernels"


def _cpu_has_avx2() -> bool:
    """Whether this CPU runs AVX2 instructions, as NumPy found at import."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return False
    return bool(__cpu_features__.get("AVX2", False))


def _source_folder() -> Path | None:
    """The checkout in the current folder, if the package was imported from
    it: Python puts the current folder first on its path, so that the
    checkout's unbuilt package shadows the installed one."""
    checkout = Path(__file__).resolve().parent.parent
    if checkout == Path.cwd().resolve() and (checkout / "setup.py").exists():
        return checkout
    return None


try:
    _kernels = importlib.import_module(_KERNELS)
except ImportError as error:
    if isinstance(error, ModuleNotFoundError) and error.name == _KERNELS:
        UNAVAILABLE = f"{_KERNELS} was not built (no C compiler at install?)"
        if (checkout := _source_folder()) is not None:
            UNAVAILABLE = (
                f"the package was imported from its source folder {checkout}, "
                f"where {_KERNELS} is not built; run Python from another "
                "folder to use the installed package"
            )
    else:
        UNAVAILABLE = f"{_KERNELS} cannot be imported: {error}"
    if _choice == "compiled":
        raise ImportError(
            f"{ENGINE_VARIABLE}=compiled, but {UNAVAILABLE}. Reinstall with a C "
            "compiler available: pip install . builds it."
        ) from error
    _kernels = None
else:
    UNAVAILABLE = ""
    # The same kernels built for AVX2 (setup.py), where the CPU has it.
    if _cpu_has_avx2():
        with contextlib.suppress(ImportError):
            _kernels = importlib.import_module(_KERNELS + "_avx2")

_preferred = "numpy" if _choice == "numpy" else "compiled"


def preferred() -> str:
    """The engine asked for: "compiled" (if built) or "numpy"."""
    return _preferred if _kernels is not None else "numpy"


@contextlib.contextmanager
def using(engine: str):
    """Run the enclosed fits and predictions on ``engine`` (for tests and
    benchmarks; it sets a module variable, so it is not for threads that
    disagree)."""
    global _preferred
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}.")
    if engine == "compiled" and _kernels is None:
        raise RuntimeError(f"the compiled engine is not built: {UNAVAILABLE}")
    saved, _preferred = _preferred, engine
    try:
        yield
    finally:
        _preferred = saved


def compile_network(network):
    """The compiled engine for ``network``, or None where the reference runs
    (engine not built or not chosen, or no fused kernel for its activation or
    loss)."""
    if preferred() != "compiled":
        return None
    if not (network.hidden_activation.compiled and network.loss_entry.compiled):
        return None
    return _kernels.CompiledNetwork(
        network.layer_sizes,
        network.activation,
        network.loss_name,
        "z" in network.hidden_activation.derivative_reads,
        network.dropout,
        network.params,
        network.grad,
        # a loss reads at most one setting (huber_delta, quantile)
        float(next(iter(network.loss_settings.values()), 0.0)),
    )


def compiled_predictor(X, coefs, intercepts, activation: str):
    """The compiled prediction (``_kernels.predict``) for these arrays, or None
    where the reference predicts: engine not built or not chosen, an activation
    without a fused kernel, sparse data, or arrays not all C-ordered of X's
    dtype."""
    from ._reference._activations import ACTIVATIONS

    if preferred() != "compiled" or not ACTIVATIONS[activation].compiled:
        return None
    arrays = [X, *coefs, *intercepts]
    if not all(
        isinstance(a, np.ndarray) and a.dtype == X.dtype and a.flags.c_contiguous
        for a in arrays
    ) or X.dtype not in (np.float32, np.float64):
        return None
    return _kernels.predict


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
