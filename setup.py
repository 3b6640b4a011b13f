"""Build of the compiled engine (``sknn_scratch._kernels``); everything else
about the package is declared in pyproject.toml.

The extension is optional: where it cannot be compiled (no C compiler), the
install still succeeds with a warning and the package runs on its NumPy
reference engine (``sknn_scratch.show_versions()`` says which engine runs).
On x86-64 the same kernels are also built for CPUs with AVX2
(``sknn_scratch._kernels_avx2``), which the package loads where the CPU has
it; that second build is a bonus, never a reason for the install to fail.
"""

import os
import platform
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

# The variable that chooses the engine at import time (sknn_scratch/_engine.py)
# chooses at build time too: "compiled" (set by CI) makes a failed build of
# the extension fail the install; "numpy" builds no extension at all.
ENGINE = os.environ.get("SKNN_SCRATCH_ENGINE", "").strip().lower()
REQUIRE_COMPILED = ENGINE == "compiled"
AVX2_BUILD = "sknn_scratch._compiled._kernels_avx2"


class OptionalBuildExt(build_ext):
    """Build the extension if a compiler can; otherwise warn and go on."""

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
                if extension.name == AVX2_BUILD:
                    extension.extra_compile_args.append("-mavx2")
        else:
            self.extensions = [e for e in self.extensions if e.name != AVX2_BUILD]
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            if REQUIRE_COMPILED:
                raise
            print(
                "WARNING: sknn_scratch's compiled engine could not be built "
                f"({error}); the NumPy reference engine will be used.",
                file=sys.stderr,
            )

    def build_extension(self, extension) -> None:
        try:
            super().build_extension(extension)
        except Exception as error:
            if REQUIRE_COMPILED and extension.name != AVX2_BUILD:
                raise
            print(
                f"WARNING: building {extension.name} failed ({error}); the "
                "NumPy reference engine will be used.",
                file=sys.stderr,
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
        message = "SKNN_SCRATCH_ENGINE=numpy: no compiled engine is built."
        print(message, file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_COMPILED:
            raise
        print("WARNING: Cython is missing; no compiled engine.", file=sys.stderr)
        return []
    import numpy

    builds = ["sknn_scratch._compiled._kernels"]
    if platform.machine().lower() in ("x86_64", "amd64"):
        builds.append(AVX2_BUILD)
    kernels = [
        Extension(
            name,
            [name.replace(".", "/") + ".pyx"],
            # NumPy's headers: the kernels call NumPy's own vectorised loops
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for name in builds
    ]
    return cythonize(kernels, language_level=3)


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "sdist": SourcesOnlySdist},
)
