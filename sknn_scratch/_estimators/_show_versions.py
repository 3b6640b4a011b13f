"""show_versions: what a bug report needs to know about this installation."""

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from .. import _engine


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def show_versions() -> None:
    """Print the versions of sknn_scratch and its dependencies, and which
    engine trains and predicts.

    The engine is "compiled" when the compiled engine ``sknn_scratch._compiled``
    was built and has not been switched off (environment variable
    ``SKNN_SCRATCH_ENGINE=numpy``), and "numpy", the reference engine,
    otherwise; the line says why.

    Examples
    --------
    >>> import sknn_scratch
    >>> sknn_scratch.show_versions()  # doctest: +ELLIPSIS
    sknn_scratch: ...
    engine: ...
    """
    from .. import __version__

    lines = {
        "sknn_scratch": __version__,
        "engine": _engine.description(),
        "python": sys.version.replace("\n", " "),
        "machine": platform.platform(),
        **{name: _version(name) for name in ("numpy", "scipy", "scikit-learn")},
        "threadpoolctl": _version("threadpoolctl"),
    }
    for name, value in lines.items():
        print(f"{name}: {value}")
