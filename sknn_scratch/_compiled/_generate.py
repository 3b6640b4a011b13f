"""Generate the compiled engine's table-driven sources from the reference tables.

Each ``*.pyx.tp`` template in this folder is a Cython module whose kernels are
written by hand, one block per table entry (an activation's forward beside its
derivative, a loss's value beside its delta, an optimizer's update), and whose
codes, constants and dispatch are generated from the Python tables of the
NumPy engine (``sknn_scratch/_reference``): the codes are positions in the
table, the dispatch calls ``<name>_forward`` for the entry called ``name``, the
constants are the reference module's own. No list is kept in step by hand:
an entry marked ``compiled=True`` without its kernel block fails the build
(Cython reports the undeclared name), and one marked ``compiled=False`` runs
on the reference engine.

``setup.py`` runs this before Cython; ``python -m sknn_scratch._compiled._generate``
(or ``python sknn_scratch/_compiled/_generate.py``) does it by hand. The
generated ``.pyx`` files are build products, never committed.

The tables are read without importing the package (whose ``__init__`` needs
scikit-learn, which a build environment does not have): the two package
modules on the way are stood in for by empty ones while the reference modules,
which import only NumPy and SciPy, are loaded.
"""

import importlib
import re
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "sknn_scratch"


def _load_reference(module: str) -> types.ModuleType:
    """``sknn_scratch._reference.<module>``, loaded from this source tree."""
    stand_ins = {
        PACKAGE: HERE.parent,
        f"{PACKAGE}._reference": HERE.parent / "_reference",
    }
    saved = {name: sys.modules.get(name) for name in stand_ins}
    loaded = [name for name in sys.modules if name.startswith(f"{PACKAGE}._reference.")]
    try:
        for name, folder in stand_ins.items():
            if saved[name] is None:
                stand_in = types.ModuleType(name)
                stand_in.__path__ = [str(folder)]
                sys.modules[name] = stand_in
        return importlib.import_module(f"{PACKAGE}._reference.{module}")
    finally:
        for name, module_before in saved.items():
            if module_before is None:
                sys.modules.pop(name, None)
        for name in list(sys.modules):
            if name.startswith(f"{PACKAGE}._reference.") and name not in loaded:
                del sys.modules[name]


def _float_constants(module: types.ModuleType) -> dict[str, float]:
    """The module's private float constants (``_LEAKY_SLOPE = 0.01``), by their
    names without the underscore: the kernels use the reference's values."""
    return {
        name[1:]: value
        for name, value in vars(module).items()
        if name.startswith("_")
        and name[1:2].isalpha()
        and name[1:].isupper()
        and isinstance(value, float)
    }


# The element-wise passes gain from AVX2's wider vectors (bench_training's small
# and deep shapes, up to 14%; the products do not: OpenBLAS dispatches itself).
# So each element-wise module compiles its entry points twice, for AVX2 and for
# any x86-64, and the loader picks one for the CPU it runs on (GCC's
# target_clones: an ifunc resolved once, by cpuid). What they inline comes along.
# Without FMA (and with -ffp-contract=off), both round alike, to the bit.
PER_TARGET_MACRO = """\
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \\
    && defined(__linux__) && !defined(SKNN_SCRATCH_ONE_TARGET)
#define SKNN_PER_TARGET __attribute__((target_clones("avx2", "default"), flatten))
#define SKNN_PER_TARGET_BUILT 1
#else
#define SKNN_PER_TARGET
#define SKNN_PER_TARGET_BUILT 0
#endif"""

# Cython's dtype specialisations of ``real``, in the order of its fused type
_REAL_SPECIALISATIONS = ("float", "double")


def _cython_name(module: str, function: str) -> str:
    """The C name Cython gives a module-level cdef function."""
    parts = f"{PACKAGE}._compiled.{module}".split(".")
    return "__pyx_f_" + "".join(f"{len(part)}{part}_" for part in parts) + function


def per_target(module: str, *prototypes: str) -> str:
    """C declarations (for a ``cdef extern from *`` block) that compile the given
    cdef functions of ``module`` per target; each prototype is written as in C,
    ``real`` standing for either dtype (one declaration per specialisation)."""
    lines = PER_TARGET_MACRO.splitlines()
    for prototype in prototypes:
        returns, function, arguments = re.fullmatch(
            r"(.+?)\s*\b(\w+)\((.*)\)", prototype
        ).groups()
        name = _cython_name(module, function)
        if re.search(r"\breal\b", arguments):
            for index, dtype in enumerate(_REAL_SPECIALISATIONS):
                typed = re.sub(r"\breal\b", dtype, arguments)
                specialised = f"__pyx_fuse_{index}{name}({typed})"
                lines.append(f"static {returns} {specialised} SKNN_PER_TARGET;")
        else:
            lines.append(f"static {returns} {name}({arguments}) SKNN_PER_TARGET;")
    return "\n    ".join(lines)


def namespace() -> dict[str, object]:
    """What the templates read: the compiled entries of each table, in table
    order (their codes are their positions), and the constants."""
    activations = _load_reference("_activations")
    losses = _load_reference("_losses")
    optimizers = _load_reference("_optimizers")
    embeddings = _load_reference("_embeddings")
    return {
        "per_target": per_target,
        # (code, name, whether it trains: has a backward block) of each kind
        "embeddings": [
            (code, name, entry.backward is not None)
            for code, (name, entry) in enumerate(embeddings.EMBEDDINGS.items())
        ],
        "activations": [n for n, e in activations.ACTIVATIONS.items() if e.compiled],
        "output_activations": list(activations.OUTPUT_ACTIVATIONS),
        "activation_constants": _float_constants(activations),
        "embedding_constants": _float_constants(embeddings),
        "losses": [n for n, e in losses.LOSSES.items() if e.compiled],
        "optimizers": [
            n for n, e in optimizers.SOLVERS.items() if e.stochastic and e.compiled
        ],
    }


def templates() -> list[Path]:
    return sorted(HERE.glob("*.pyx.tp"))


def generate() -> list[Path]:
    """Write each template's ``.pyx`` (only where its text changes, so that an
    unchanged module is not rebuilt); returns the generated files."""
    from Cython import Tempita

    values = namespace()
    written = []
    for template in templates():
        target = template.with_suffix("")  # x.pyx.tp -> x.pyx
        text = Tempita.sub(template.read_text("utf-8"), **values)
        banner = (
            f"# Generated from {template.name} by _generate.py: edit the template.\n"
        )
        text = banner + text
        if not target.exists() or target.read_text("utf-8") != text:
            target.write_text(text, "utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in generate():
        print(f"generated {path}")
