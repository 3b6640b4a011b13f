"""The two engines, one behaviour: the compiled kernels against the NumPy reference.

Every test here runs the same fit or prediction on both engines and compares
them. The compiled engine must reproduce the reference after 30 epochs to
‖Δw‖/‖w‖ ≤ 1e-10 in float64 and 1e-4 in float32, with the same random draws.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, _engine
from sknn_scratch._reference._activations import ACTIVATIONS, OUTPUT_ACTIVATIONS
from sknn_scratch._reference._losses import LOSSES
from sknn_scratch._reference._optimizers import SOLVERS, STOCHASTIC_SOLVERS

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
    pytest.mark.skipif(
        _engine.preferred() != "compiled",
        reason=f"the compiled engine is not in use: {_engine.UNAVAILABLE}",
    ),
]

COMPILED_ACTIVATIONS = [name for name, a in ACTIVATIONS.items() if a.compiled]
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}


def relative_difference(a, b) -> float:
    return float(np.linalg.norm(a._params - b._params) / np.linalg.norm(a._params))


def fit_on_both(make, X, y, **fit_params):
    """The same estimator fitted on each engine: (reference, compiled)."""
    fitted = []
    for engine in ("numpy", "compiled"):
        with _engine.using(engine):
            fitted.append(make().fit(X, y, **fit_params))
    return fitted


def data(n_samples=300, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)
    return X, y


def test_the_kernels_codes_are_the_tables_compiled_entries_in_order():
    # generated from the tables at build time (_compiled/_generate.py)
    compiled = _engine.compiled
    in_order = [
        (compiled.ACTIVATION_CODES, COMPILED_ACTIVATIONS),
        (
            compiled.LOSS_CODES,
            [name for name, loss in LOSSES.items() if loss.compiled],
        ),
        (
            compiled.OPTIMIZER_CODES,
            [n for n, s in SOLVERS.items() if s.stochastic and s.compiled],
        ),
        (compiled.OUTPUT_CODES, list(OUTPUT_ACTIVATIONS)),
    ]
    for codes, names in in_order:
        assert codes == {name: code for code, name in enumerate(names)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", COMPILED_ACTIVATIONS)
@pytest.mark.parametrize("solver", STOCHASTIC_SOLVERS)
def test_thirty_epochs_agree(dtype, activation, solver):
    X, y = data()
    reference, compiled = fit_on_both(
        lambda: ScratchMLPClassifier(
            (12, 7),
            activation=activation,
            solver=solver,
            alpha=0.01,
            batch_size=64,
            max_iter=30,
            tol=0,
            n_iter_no_change=1000,
            random_state=0,
        ),
        X.astype(dtype),
        y,
    )
    assert compiled.n_iter_ == reference.n_iter_ == 30
    assert relative_difference(reference, compiled) <= TOLERANCE[dtype]
    np.testing.assert_allclose(
        compiled.loss_curve_, reference.loss_curve_, rtol=10 * TOLERANCE[dtype]
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("binary", dict(dropout=0.3, nesterovs_momentum=False, solver="sgd")),
        ("multilabel", dict(class_weight="balanced")),
        ("regression", dict(early_stopping=True, shuffle=False)),
        ("poisson", dict(learning_rate="invscaling", solver="sgd")),
        ("multiclass", dict(dropout=[0.2, 0.5], early_stopping=True)),
        (
            "multiclass",
            dict(learning_rate="cosine", warmup_fraction=0.2, weight_decay=0.1),
        ),
        (
            "binary",
            dict(
                solver="sgd",
                learning_rate="flat_cosine",
                weight_decay=0.05,
                label_smoothing=0.1,
            ),
        ),
        ("multilabel", dict(label_smoothing=0.2, scoring="loss", early_stopping=True)),
    ],
)
def test_losses_weights_dropout_and_early_stopping_agree(dtype, kind, params):
    X, y = data()
    weights = np.linspace(0.2, 3.0, X.shape[0])
    if kind in ("binary", "multilabel", "multiclass"):
        target = {"binary": y > 0, "multilabel": np.c_[y > 0, y > 1, y == 0]}.get(
            kind, y
        )

        def make():
            return ScratchMLPClassifier((9, 5), max_iter=30, random_state=0, **params)

    else:
        target = np.abs(X[:, :2]) if kind == "poisson" else X[:, :2] @ [1.0, -2.0]
        loss = "poisson" if kind == "poisson" else "squared_error"

        def make():
            return ScratchMLPRegressor(
                loss, (9, 5), max_iter=30, random_state=0, **params
            )

    reference, compiled = fit_on_both(
        make, X.astype(dtype), target, sample_weight=weights
    )
    assert compiled.n_iter_ == reference.n_iter_
    assert relative_difference(reference, compiled) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam", early_stopping=True),
        dict(solver="sgd", dropout=0.2, scoring="loss", early_stopping=True),
        dict(solver="lbfgs", max_iter=10),
    ],
    ids=["adam", "sgd", "lbfgs"],
)
def test_several_quantiles_agree(dtype, params):
    # two targets, three quantiles each: six outputs, each with its own q
    X, _ = data()
    target = np.c_[X[:, :2] @ [1.0, -2.0], np.abs(X[:, 2])]
    weights = np.linspace(0.2, 3.0, X.shape[0])
    reference, compiled = fit_on_both(
        lambda: ScratchMLPRegressor(
            "quantile",
            (9, 5),
            quantile=[0.1, 0.5, 0.9],
            **{"max_iter": 30, "random_state": 0, **params},
        ),
        X.astype(dtype),
        target,
        sample_weight=weights,
    )
    assert compiled.n_iter_ == reference.n_iter_
    assert relative_difference(reference, compiled) <= TOLERANCE[dtype]
    for engine in ("numpy", "compiled"):
        with _engine.using(engine):
            predicted = compiled.predict(X.astype(dtype))
            assert predicted.shape == (len(X), 2, 3)
            np.testing.assert_allclose(
                predicted,
                reference.predict(X.astype(dtype)),
                rtol=100 * TOLERANCE[dtype],
                atol=100 * TOLERANCE[dtype],
            )


# Numerical embeddings and packed members: the first layer's input embedded
# (and copied once per member), the members' heads and scales, with sample
# weights, dropout and early stopping's validation outputs (the members' mean).
TABULAR = {
    "periodic": dict(embedding="periodic", embedding_size=5),
    "piecewise_linear": dict(
        embedding="piecewise_linear", embedding_columns=[0, 2, 5], embedding_size=6
    ),
    "members": dict(n_members=3),
    "members, periodic": dict(
        n_members=2, embedding="periodic", embedding_columns=[1, 3], dropout=0.2
    ),
    "members, piecewise_linear": dict(
        n_members=4, embedding="piecewise_linear", early_stopping=True
    ),
}


def tabular_estimators(kind: str, params: dict, **more):
    """A maker of the estimator of ``kind`` with these options, and its targets
    for ``data()``'s X and y."""
    X, y = data()
    if kind == "regression":
        target = np.c_[X[:, :2] @ [1.0, -2.0], np.abs(X[:, 2])] * 100

        def make():
            return ScratchMLPRegressor(
                hidden_layer_sizes=(9, 5), normalize_y=True, max_iter=30,
                random_state=0, **params, **more,
            )  # fmt: skip

        return make, target

    def make():
        return ScratchMLPClassifier(
            (9, 5), max_iter=30, random_state=0, **params, **more
        )

    return make, {"binary": y > 0, "multilabel": np.c_[y > 0, y > 1]}.get(kind, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", STOCHASTIC_SOLVERS)
@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("options", TABULAR)
def test_embeddings_and_members_agree(dtype, solver, kind, options):
    X, _ = data()
    make, target = tabular_estimators(kind, TABULAR[options], solver=solver)
    weights = np.linspace(0.2, 3.0, X.shape[0])
    reference, compiled = fit_on_both(
        make, X.astype(dtype), target, sample_weight=weights
    )
    assert compiled.n_iter_ == reference.n_iter_
    assert relative_difference(reference, compiled) <= TOLERANCE[dtype]
    np.testing.assert_allclose(
        compiled.loss_curve_, reference.loss_curve_, rtol=10 * TOLERANCE[dtype]
    )
    if reference.early_stopping:
        np.testing.assert_allclose(
            compiled.validation_loss_curve_,
            reference.validation_loss_curve_,
            rtol=10 * TOLERANCE[dtype],
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 7, 61])
@pytest.mark.parametrize("options", TABULAR)
def test_embeddings_and_members_agree_cut_into_parts(
    small_parts, dtype, batch_size, options
):
    # batches of one row, of fewer rows than parts' rows, and a last batch of
    # another size: the parts' rows (and their k copies) stay their rows'
    X, y = data(n_samples=127)
    make, _ = tabular_estimators("multiclass", TABULAR[options])

    def made():
        return make().set_params(batch_size=batch_size, max_iter=4)

    reference, compiled = fit_on_both(made, X.astype(dtype), y)
    assert relative_difference(reference, compiled) <= TOLERANCE[dtype]


@pytest.mark.parametrize("options", TABULAR)
def test_lbfgs_with_embeddings_and_members_agrees_over_its_first_iterations(
    options,
):
    X, _ = data()
    params = {k: v for k, v in TABULAR[options].items() if k != "dropout"}
    make, target = tabular_estimators("regression", params, solver="lbfgs")
    reference, compiled = fit_on_both(lambda: make().set_params(max_iter=15), X, target)
    assert relative_difference(reference, compiled) <= 1e-8


def test_lbfgs_agrees_over_its_first_iterations():
    # L-BFGS amplifies rounding differences from one iteration to the next (the
    # line search takes other steps), so the engines are compared early on.
    X, y = data()
    reference, compiled = fit_on_both(
        lambda: ScratchMLPClassifier(
            (10,), "tanh", solver="lbfgs", max_iter=15, random_state=0
        ),
        X,
        y,
    )
    assert relative_difference(reference, compiled) <= 1e-8


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "poisson"])
def test_predictions_agree(dtype, kind):
    X, y = data()
    X = X.astype(dtype)
    if kind == "poisson":
        model = ScratchMLPRegressor("poisson", (15,), max_iter=20, random_state=0)
        model.fit(X, np.abs(X[:, 0]))
    else:
        target = {"binary": y > 0, "multilabel": np.c_[y > 0, y > 1]}.get(kind, y)
        model = ScratchMLPClassifier((15,), max_iter=20, random_state=0)
        model.fit(X, target)
    predictions = {}
    for engine in ("numpy", "compiled"):
        with _engine.using(engine):
            method = model.predict if kind == "poisson" else model.predict_proba
            predictions[engine] = method(X)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(
        predictions["compiled"], predictions["numpy"], rtol=rtol, atol=rtol
    )


@pytest.mark.parametrize("solver", STOCHASTIC_SOLVERS)
def test_a_solver_without_a_compiled_update_runs_the_reference_loop(
    monkeypatch, solver
):
    # The loop steps the Python optimizer after each batch's compiled forward
    # and backward pass; it computes what the compiled epoch computes.
    from sknn_scratch._reference import _optimizers, _training

    X, y = data()

    def make():
        return ScratchMLPClassifier(
            (12, 7), solver=solver, dropout=0.2, alpha=0.01, max_iter=5, random_state=0
        )

    fused = make().fit(X, y, sample_weight=np.linspace(0.5, 2, len(y)))
    epochs = []
    original = _training.MiniBatchTrainer.epoch

    def recording(trainer, order=None):
        epochs.append(trainer._compiled)
        return original(trainer, order)

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", recording)
    monkeypatch.setitem(
        _optimizers.SOLVERS,
        solver,
        _optimizers.SOLVERS[solver]._replace(compiled=False),
    )
    looped = make().fit(X, y, sample_weight=np.linspace(0.5, 2, len(y)))
    assert epochs == [False] * 5
    np.testing.assert_allclose(looped._params, fused._params, rtol=1e-12, atol=1e-15)


def test_sparse_data_train_on_the_reference():
    # The kernels take dense rows; sparse data train on the reference engine.
    import scipy.sparse as sp

    X, y = data()
    X[np.abs(X) < 1] = 0
    dense, sparse = (
        ScratchMLPClassifier((8,), max_iter=10, random_state=0).fit(data_, y)
        for data_ in (X, sp.csr_matrix(X))
    )
    assert relative_difference(dense, sparse) <= 1e-10


def run_python(code: str, folder=None, **environment) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in ``folder``, by default one of its own: in the
    repository's root, `import sknn_scratch` would find the source folder,
    without the built extension."""
    return run_in(folder, [sys.executable, "-c", code], environment)


def run_in(folder, command: list, environment: dict) -> subprocess.CompletedProcess:
    if folder is None:
        with tempfile.TemporaryDirectory() as own_folder:
            return run_in(own_folder, command, environment)
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
        cwd=folder,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_environment_variable_chooses_the_engine():
    code = "import sknn_scratch._engine as e; print(e.preferred())"
    assert run_python(code, SKNN_SCRATCH_ENGINE="numpy").stdout.strip() == "numpy"
    assert run_python(code, SKNN_SCRATCH_ENGINE="compiled").stdout.strip() == (
        "compiled"
    )
    bad = run_python(code, SKNN_SCRATCH_ENGINE="fortran")
    assert bad.returncode != 0 and "is not an engine" in bad.stderr


BLOCK_THE_EXTENSION = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("sknn_scratch._compiled._"):
            raise ModuleNotFoundError("no module named " + name, name=name)
sys.meta_path.insert(0, Block())
"""


@pytest.mark.slow
def test_a_missing_extension_falls_back_or_fails_as_asked():
    code = BLOCK_THE_EXTENSION + (
        "import numpy as np, sknn_scratch\n"
        "from sknn_scratch import ScratchMLPClassifier\n"
        "X = np.random.default_rng(0).standard_normal((40, 3))\n"
        "ScratchMLPClassifier((4,), max_iter=3).fit(X, X[:, 0] > 0)\n"
        "sknn_scratch.show_versions()\n"
    )
    fallback = run_python(code, SKNN_SCRATCH_ENGINE="")
    assert fallback.returncode == 0, fallback.stderr
    assert "engine: numpy (the compiled engine could not be loaded" in fallback.stdout
    assert "sknn_scratch._compiled was not built" in fallback.stdout
    required = run_python(code, SKNN_SCRATCH_ENGINE="compiled")
    assert required.returncode != 0
    assert "SKNN_SCRATCH_ENGINE=compiled" in required.stderr


FIT_TWICE_RECORDING_WARNINGS = """
import json, warnings
import numpy as np
import sknn_scratch
from sknn_scratch import ScratchMLPClassifier
from sknn_scratch._engine import UNAVAILABLE, EngineFallbackWarning
X = np.random.default_rng(0).standard_normal((40, 3))
with warnings.catch_warnings(record=True) as caught:
    # every warning, every time: the once is the package's, not Python's
    warnings.simplefilter("always")
    warnings.filterwarnings("ignore", module=IGNORED_MODULE)
    model = ScratchMLPClassifier((4,), max_iter=3)
    model.partial_fit(X, X[:, 0] > 0, classes=[False, True])
    model.fit(X, X[:, 0] > 0)
print(json.dumps({
    "cause": UNAVAILABLE,
    "is_user_warning": issubclass(EngineFallbackWarning, UserWarning),
    "messages": [str(w.message) for w in caught
                 if issubclass(w.category, EngineFallbackWarning)],
}))
"""


@pytest.mark.parametrize(
    ("engine_variable", "ignored_module", "expected_warnings"),
    [
        ("", "nothing", 1),  # once, in the first of two fits
        ("numpy", "nothing", 0),  # the NumPy engine asked for
        ("", "sknn_scratch", 0),  # attributed to the package
    ],
)
def test_a_missing_extension_warns_at_the_first_fit(
    engine_variable, ignored_module, expected_warnings
):
    code = BLOCK_THE_EXTENSION + FIT_TWICE_RECORDING_WARNINGS.replace(
        "IGNORED_MODULE", repr(ignored_module)
    )
    run = run_python(code, SKNN_SCRATCH_ENGINE=engine_variable)
    assert run.returncode == 0, run.stderr
    recorded = json.loads(run.stdout)
    assert recorded["is_user_warning"]
    assert len(recorded["messages"]) == expected_warnings
    for message in recorded["messages"]:
        # the cause, and the two ways out of it
        assert "was not built" in recorded["cause"] and recorded["cause"] in message
        assert "install one and reinstall" in message
        assert "set SKNN_SCRATCH_ENGINE=numpy" in message


def test_show_versions_names_the_engine(capsys):
    import sknn_scratch

    sknn_scratch.show_versions()
    assert "engine: compiled" in capsys.readouterr().out
    with _engine.using("numpy"), warnings.catch_warnings():
        sknn_scratch.show_versions()
    assert "engine: numpy" in capsys.readouterr().out


def copy_of_the_source(folder: Path) -> None:
    """setup.py and the package's sources, without anything built."""
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "setup.py", folder)
    shutil.copytree(
        root / "sknn_scratch",
        folder / "sknn_scratch",
        ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"),
    )


def test_python_run_in_a_checkout_says_that_it_shadows_the_install(tmp_path):
    copy_of_the_source(tmp_path)
    # Python run in the checkout: its folder comes first on the path (an
    # editable install's finder would come before it, so it is left out).
    code = (
        "import sys\n"
        "sys.meta_path[:] = [finder for finder in sys.meta_path\n"
        "    if not getattr(finder, '__module__', '').startswith('__editable__')]\n"
        "import sknn_scratch\n"
        "sknn_scratch.show_versions()\n"
    )
    shadowed = run_python(code, tmp_path, SKNN_SCRATCH_ENGINE="")
    assert shadowed.returncode == 0, shadowed.stderr
    assert f"imported from its source folder {tmp_path.resolve()}" in shadowed.stdout
    assert "run Python from another folder" in shadowed.stdout


def test_an_install_asked_for_the_numpy_engine_builds_no_extension(tmp_path):
    copy_of_the_source(tmp_path)
    build = run_in(
        tmp_path,
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        {"SKNN_SCRATCH_ENGINE": "numpy"},
    )
    assert build.returncode == 0, build.stderr
    assert "no compiled engine is built" in build.stderr
    assert not list((tmp_path / "sknn_scratch").rglob("*.so"))
    assert not list((tmp_path / "sknn_scratch").rglob("*.c"))
