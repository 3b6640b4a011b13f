"""The module paths and parameters of earlier versions, for the files they saved.

A pickle, joblib or skops file names the classes in it by module path. Until
version 0.1.0 the estimators and the optimizers lived at the top of the
package (``sknn_scratch._classifier``, ``sknn_scratch._optimizers``, ...);
they now live in the sub-packages of the face and the engine. Each old path
is registered as another name of the module that replaced it, so that files
saved by earlier versions load (and a skops ``trusted=`` list that names the
old paths keeps working). Only names under ``sknn_scratch`` are touched.

An estimator saved before a constructor parameter existed loads with that
parameter at its default (``with_new_parameters``), which keeps the behaviour
it was saved with: a parameter is only ever added with a default that
changes nothing.
"""

import importlib
import inspect
import sys

# old module (under sknn_scratch) -> the module that replaced it
MOVED = {
    **{
        f"_{name}": f"_reference._{name}"
        for name in ("activations", "losses", "optimizers", "network", "training")
    },
    **{
        f"_{name}": f"_estimators._{name}"
        for name in (
            "base",
            "classifier",
            "regressor",
            "params",
            "docstrings",
            "stochastic",
            "state",
            "sample_weight",
            "exceptions",
            "display",
            "gradient_check",
            "show_versions",
        )
    },
}


def register_old_paths(package: str) -> None:
    """Make each old module path of ``package`` name its new module."""
    for old, new in MOVED.items():
        sys.modules.setdefault(
            f"{package}.{old}", importlib.import_module(f"{package}.{new}")
        )


def with_new_parameters(estimator_class, state: dict) -> dict:
    """``state`` (an estimator's saved attributes) with the constructor
    parameters of ``estimator_class`` it lacks, at their defaults."""
    parameters = inspect.signature(estimator_class.__init__).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.name != "self"}
    return {**defaults, **state}
