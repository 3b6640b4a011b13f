"""Build of the compiled engine (``sknn_scratch/_compiled``); everything else
about the package is declared in pyproject.toml.

The table-driven modules (``*.pyx.tp``) are generated from the reference
engine's tables first (``sknn_scratch/_compiled/_generate.py``), then every
``.pyx`` of the engine is compiled, each into an extension module of its own.

The engine is optional: where it cannot be compiled (no C compiler), the
install still succeeds with a warning and the package runs on its NumPy
reference engine, and says so at the first fit (``show_versions()`` says
which engine runs).
"""

import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

COMPILED = Path("sknn_scratch") / "_compiled"
# The variable that chooses the engine at import time (sknn_scratch/_engine.py)
# chooses at build time too: "compiled" (set by CI) makes a failed build of
# the engine fail the install; "numpy" builds no extension at all.
ENGINE = os.environ.get("SKNN_SCRATCH_ENGINE", "").strip().lower()
REQUIRE_COMPILED = ENGINE == "compiled"


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """Build the engine if a compiler can; otherwise warn and go on."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:  # the modules compile independently
            self.parallel = os.cpu_count() or 1

    def build_extensions(self) -> None:
        if self.compiler.compiler_type != "msvc":
            for extension in self.extensions:
                # -ffp-contract=off: no fused multiply-adds, so that the
                # kernels round as NumPy's element-wise passes do;
                # -fno-math-errno: sqrt need not set errno, so that loops
                # calling it can be vectorised (results do not change).
                extension.extra_compile_args += [
                    "-O3",
                    "-ffp-contract=off",
                    "-fno-math-errno",
                ]
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            if REQUIRE_COMPILED:
                raise
            warn(
                f"sknn_scratch's compiled engine could not be built ({error}); "
                "the NumPy reference engine will be used."
            )

    def build_extension(self, extension) -> None:
        try:
            super().build_extension(extension)
        except Exception as error:
            if REQUIRE_COMPILED:
                raise
            warn(
                f"building {extension.name} failed ({error}); the NumPy "
                "reference engine will be used."
            )


class SourcesOnlySdist(sdist):
    """An sdist of sources only: a template (``X.tp``) is shipped, the file
    generated from it (``X``) is not, as the build makes it again (the C that
    Cython generates is left out by MANIFEST.in)."""

    def make_release_tree(self, base_dir, files) -> None:
        generated = {name.removesuffix(".tp") for name in files if name.endswith(".tp")}
        sources = [name for name in files if name not in generated]
        super().make_release_tree(base_dir, sources)


def extensions() -> list[Extension]:
    if ENGINE == "numpy":
        print(
            "SKNN_SCRATCH_ENGINE=numpy: no compiled engine is built.", file=sys.stderr
        )
        return []
    try:
        import numpy
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_COMPILED:
            raise
        warn("Cython or NumPy is missing; no compiled engine.")
        return []
    runpy.run_path(str(COMPILED / "_generate.py"))["generate"]()
    package = ".".join(COMPILED.parts)
    modules = [
        Extension(
            f"{package}.{source.stem}",
            [str(source)],
            # NumPy's headers: the kernels call NumPy's own vectorised loops
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for source in sorted(COMPILED.glob("*.pyx"))
    ]
    return cythonize(modules, language_level=3, nthreads=os.cpu_count() or 1)


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "sdist": SourcesOnlySdist},
)
