"""The source distribution ships every source the build reads and every file
the tests read, and no build product.

The sdist's file list is setuptools' own: its PEP 517 sdist hook runs on a
copy of the checkout's sources (the files git tracks, or would track), so
that the checkout gets no generated files. The whole chain (a wheel built
from that sdist, installed elsewhere, running the compiled engine) is proven
by ``.ci/run``, too slow for the suite.
"""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_EXTRA = 'needs the test extra: pip install ".[test]"'

# Files of the repository that are not the package's: the CI's own.
NOT_SHIPPED = (".ci/", ".gitignore")
# What a build makes: Cython's C (or C++), compiled modules, bytecode.
BUILD_PRODUCTS = (".c", ".cpp", ".so", ".pyd", ".pyc")
# A Tempita template and the file generated from it, added to the sources.
TEMPLATE = "sknn_scratch/_compiled/_packaging_probe.pxi.tp"
GENERATED = TEMPLATE.removesuffix(".tp")


def source_files() -> list[str]:
    """The checkout's sources: the files git tracks, and new files it does
    not ignore (paths relative to the root)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the sources are the files of a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    names = listed.stdout.decode("utf-8").split("\0")
    return sorted({name for name in names if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def sdist_files(tmp_path_factory) -> set[str]:
    """The paths in the sdist that setuptools builds from the sources."""
    # the build backend and Cython, as [build-system] requires them: with
    # Cython, setup.py declares the extension, and setuptools adds the C that
    # Cython generates to the sdist unless MANIFEST.in takes it out again
    pytest.importorskip("setuptools", minversion="77", reason=TEST_EXTRA)
    pytest.importorskip("Cython", reason=TEST_EXTRA)
    source = tmp_path_factory.mktemp("source")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    # a template beside the file generated from it, as a build leaves them
    (source / TEMPLATE).write_text("# a Tempita template\n", "utf-8")
    (source / GENERATED).write_text("# generated from its template\n", "utf-8")
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import build_meta; print(build_meta.build_sdist('dist'))",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        # unset: the extension is declared whatever the session's engine
        env={**os.environ, "SKNN_SCRATCH_ENGINE": ""},
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-5000:]
    archive = source / "dist" / built.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as sdist:
        # every member lies under the sdist's top folder, sknn_scratch-<version>/
        return {
            member.name.split("/", 1)[1]
            for member in sdist.getmembers()
            if member.isfile()
        }


@pytest.mark.slow  # builds the sdist (about 8 s)
def test_the_sdist_ships_every_source(sdist_files):
    # The package with its Cython sources, headers, templates and generators,
    # setup.py, the tests with their data, what they read, README and LICENSE.
    expected = [name for name in source_files() if not name.startswith(NOT_SHIPPED)]
    assert [name for name in expected if name not in sdist_files] == []
    # (what the sources must include for the comparison to mean anything)
    assert {"LICENSE", "README.md", "tests/conftest.py", "tests/helpers.py"} <= set(
        expected
    )
    assert any(name.endswith(".pyx") for name in expected)
    assert any(name.startswith("tests/data/") for name in expected)


@pytest.mark.slow  # builds the sdist (about 8 s)
def test_the_sdist_ships_no_build_product(sdist_files):
    built = [
        name
        for name in sdist_files
        if name.endswith(BUILD_PRODUCTS) or "__pycache__" in name
    ]
    assert built == []
    # a template is a source, what it generates is made at build time
    assert TEMPLATE in sdist_files
    assert [name for name in sdist_files if f"{name}.tp" in sdist_files] == []
