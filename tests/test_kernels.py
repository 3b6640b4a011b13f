"""Each compiled kernel against its NumPy counterpart in the tables.

The compiled engine's stages are called one at a time (``activate``,
``derivative``, ``loss_stage``, ``optimizer_step`` of ``_compiled``) on the
same arrays as the reference functions of ``_activations``, ``_losses`` and
``_optimizers``, for every table entry that says it has a kernel, in both
dtypes, over ordinary and extreme values.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from sknn_scratch import _engine
from sknn_scratch._reference._activations import ACTIVATIONS
from sknn_scratch._reference._losses import LOSSES
from sknn_scratch._reference._optimizers import SOLVERS

pytestmark = pytest.mark.skipif(
    _engine.preferred() != "compiled",
    reason=f"the compiled engine is not in use: {_engine.UNAVAILABLE}",
)

COMPILED_ACTIVATIONS = [name for name, entry in ACTIVATIONS.items() if entry.compiled]
COMPILED_LOSSES = [name for name, entry in LOSSES.items() if entry.compiled]
# Both engines compute transcendental functions with NumPy's (and SciPy's)
# own loops, so most values agree exactly; a few formulas differ by an
# operation (the logistic function: from e^-|z| here, scipy's expit there).
RTOL = {np.float64: 1e-14, np.float32: 1e-6}


def values(dtype, extreme: bool) -> np.ndarray:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 13)) * 4
    z[0, :5] = [0.0, -0.0, 1e-8, -1e-8, 40.0]
    if extreme:
        big = 1e300 if dtype == np.float64 else 1e30
        z[1, :4] = [big, -big, big / 7, -big / 3]
    return z.astype(dtype)


def reference_forward(name, z):
    out = np.empty_like(z)
    with np.errstate(all="ignore"):
        ACTIVATIONS[name].forward(z, out)
    return out


def reference_derivative(name, delta, a, z):
    out = delta.copy()
    entry = ACTIVATIONS[name]
    with np.errstate(all="ignore"):
        entry.derivative(
            out,
            a.copy(),
            z if "z" in entry.derivative_reads else None,
            np.empty_like(z),
        )
    return out


@pytest.mark.parametrize("extreme", [False, True], ids=["ordinary", "extreme"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", COMPILED_ACTIVATIONS)
def test_activation_kernels_equal_the_reference(name, dtype, extreme):
    engine = _engine.compiled

    z = values(dtype, extreme)
    bias = np.linspace(-1, 1, z.shape[1]).astype(dtype)
    compiled = engine.activate(z, bias, name)
    expected = reference_forward(name, z + bias)
    assert compiled.dtype == dtype
    np.testing.assert_allclose(compiled, expected, rtol=RTOL[dtype], atol=0)
    delta = np.random.default_rng(1).standard_normal(z.shape).astype(dtype)
    compiled = engine.derivative(delta, expected, z + bias, name)
    expected = reference_derivative(name, delta, expected, z + bias)
    # some derivatives cancel to 0 (silu's at z ≈ -1.28): a rounding of their
    # O(1) terms is the error to allow there
    scale = np.abs(expected).max()
    np.testing.assert_allclose(
        compiled, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale
    )


def targets(name, shape, dtype):
    rng = np.random.default_rng(2)
    if name == "log_loss":
        return np.eye(shape[1], dtype=dtype)[rng.integers(0, shape[1], shape[0])]
    if name == "binary_log_loss":
        return rng.integers(0, 2, shape).astype(dtype)
    if name == "poisson":
        return rng.poisson(2.0, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype) * 3


# A value of each loss's setting, for every column; and the quantile loss with
# one quantile per column, as a network of several quantiles trains it.
SETTINGS = {"huber_delta": 1.5, "quantile": 0.2}
PER_COLUMN_QUANTILES = np.array([0.05, 0.3, 0.5, 0.95])
LOSS_CASES = [
    pytest.param(name, {n: SETTINGS[n] for n in LOSSES[name].settings}, id=name)
    for name in COMPILED_LOSSES
] + (
    [pytest.param("quantile", {"quantile": PER_COLUMN_QUANTILES}, id="quantiles")]
    if "quantile" in COMPILED_LOSSES
    else []
)


def per_column(settings: dict, cols: int) -> np.ndarray:
    """The compiled kernel's settings: the loss's one setting for each column
    (zeros for a loss without one)."""
    columns = np.zeros(cols)
    columns[...] = next(iter(settings.values()), 0.0)
    return columns


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("name", "settings"), LOSS_CASES)
def test_loss_kernels_equal_the_reference(name, settings, dtype, weighted):
    engine = _engine.compiled

    z = values(dtype, extreme=False)[:, :4] / 4
    t = targets(name, z.shape, dtype)
    weights = np.linspace(0.5, 2.0, z.shape[0]).astype(dtype) if weighted else None
    scale = 1.0 / (z.shape[0] if weights is None else float(weights.sum()))
    total, a, delta = engine.loss_stage(
        z, t, weights, name, per_column(settings, z.shape[1]), scale
    )
    expected_a, expected_delta = z.copy(), np.empty_like(z)
    expected_total = LOSSES[name].forward(
        expected_a, t, expected_delta, weights, **settings
    )
    row_scale = scale if weights is None else (weights * dtype(scale))[:, None]
    rtol = RTOL[dtype] * 10  # sums in another order
    assert total == pytest.approx(expected_total, rel=rtol)
    np.testing.assert_allclose(a, expected_a, rtol=RTOL[dtype])
    np.testing.assert_allclose(
        delta, expected_delta * row_scale, rtol=RTOL[dtype], atol=1e-300
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_column_reads_its_own_quantile(dtype):
    # the kernel of four columns with four quantiles gives, column by column,
    # the kernel of one column with that column's quantile
    _kernels = _engine.compiled
    z = values(dtype, extreme=False)[:, :4] / 4
    t = targets("quantile", z.shape, dtype)
    total, _, delta = _kernels.loss_stage(
        z, t, None, "quantile", PER_COLUMN_QUANTILES, 1.0
    )
    column_totals = 0.0
    for j, q in enumerate(PER_COLUMN_QUANTILES):
        column = np.ascontiguousarray(z[:, j : j + 1])
        target = np.ascontiguousarray(t[:, j : j + 1])
        alone, _, alone_delta = _kernels.loss_stage(
            column, target, None, "quantile", np.array([q]), 1.0
        )
        np.testing.assert_array_equal(delta[:, j : j + 1], alone_delta)
        column_totals += alone
    assert total == pytest.approx(column_totals, rel=RTOL[dtype])
    # a residual above the target weighs 1 - q, one below it q
    r = z - t
    expected = np.where(r > 0, 1 - PER_COLUMN_QUANTILES, -PER_COLUMN_QUANTILES)
    np.testing.assert_allclose(delta, expected, rtol=RTOL[dtype])


def test_the_loss_stage_needs_one_setting_per_column():
    _kernels = _engine.compiled
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"one setting per column of z \(2\)"):
        _kernels.loss_stage(z, z, None, "quantile", np.array([0.5]), 1.0)


def test_every_function_runs_numpys_own_loops():
    # where they were found, both engines compute the same exp, tanh, ...
    engine = _engine.compiled

    assert all(engine.vector_loops().values())


COMPILED_OPTIMIZERS = [
    name for name, entry in SOLVERS.items() if entry.stochastic and entry.compiled
]
OPTIMIZER_SETTINGS = {
    "max_iter": 200,
    "learning_rate_init": 0.01,
    "learning_rate": "constant",
    "momentum": 0.9,
    "nesterovs_momentum": True,
    "power_t": 0.5,
    "beta_1": 0.8,
    "beta_2": 0.99,
    "epsilon": 1e-7,
}


@pytest.mark.parametrize("parts", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("decay", [0.0, 0.003], ids=["no decay", "decay"])
@pytest.mark.parametrize("name", COMPILED_OPTIMIZERS)
def test_optimizer_kernels_equal_the_reference(name, decay, dtype, parts):
    # Three steps from the same state, with the L2 penalty's gradient on the
    # leading weights (and their decay): the same operations, so the same
    # bits, whatever the number of blocks the pass is cut into.
    engine = _engine.compiled
    rng = np.random.default_rng(3)
    n_params, n_weights, factor = 5000, 4000, 0.03
    make = SOLVERS[name].make
    reference = make(OPTIMIZER_SETTINGS, n_params, dtype)
    compiled = make(OPTIMIZER_SETTINGS, n_params, dtype)
    params = rng.standard_normal(n_params).astype(dtype)
    expected = params.copy()
    for _ in range(3):
        grad = rng.standard_normal(n_params).astype(dtype)
        squares = engine.optimizer_step(
            compiled, params, grad.copy(), n_weights, factor, decay, parts
        )
        weights = expected[:n_weights]
        assert squares == pytest.approx(float(np.dot(weights, weights)), rel=1e-5)
        penalised = grad.copy()
        penalised[:n_weights] += weights * dtype(factor)
        scalars, _ = reference.epoch_scalars(1)
        reference.apply(expected, penalised, scalars[0], decay, n_weights)
        reference.steps_taken(1)
        np.testing.assert_array_equal(params, expected)
    for ours, theirs in zip(
        compiled.state_vectors(), reference.state_vectors(), strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
    assert vars(compiled).get("t") == vars(reference).get("t")


def test_a_state_that_does_not_fit_the_parameters_is_refused():
    engine = _engine.compiled
    name = COMPILED_OPTIMIZERS[-1]
    optimizer = SOLVERS[name].make(OPTIMIZER_SETTINGS, 10, np.float64)
    params, grad = np.zeros(20), np.zeros(20)  # twice the optimizer's size
    with pytest.raises(ValueError, match="state vector 0"):
        engine.optimizer_step(optimizer, params, grad, 20, 0.0)


@pytest.mark.parametrize("module", ["_activations", "_losses", "_optimizers"])
def test_element_wise_entry_points_have_an_avx2_and_a_default_clone(module):
    """Where the build compiles per target (GCC on x86-64 Linux), the
    element-wise modules' entry points have an AVX2 and a default copy in
    one extension (``_generate.per_target``); a mangled name that no longer
    matched Cython's would leave them compiled once, silently."""
    import importlib

    compiled = importlib.import_module(f"sknn_scratch._compiled.{module}")
    if not compiled.PER_TARGET:
        pytest.skip("built for one target (another compiler or platform)")
    binary = Path(compiled.__file__).read_bytes()
    if b"__pyx_pw_" not in binary:  # Cython's static wrappers: local symbols
        pytest.skip("the build is stripped of its local symbols")
    clones = set(re.findall(rb"(__pyx_\w+)\.avx2\0", binary))
    assert clones, f"no AVX2 clone in {module}"
    for name in clones:
        assert name + b".default\0" in binary, name
        assert name + b".resolver\0" in binary, name
