"""Training on a data set larger than the memory the script may use
================================================================

The data (a three-class problem labelled by a random "teacher" network) is
written chunk by chunk to ``.npy`` files and read back through
``numpy.memmap``: the operating system pages rows in from disk as they are
read, so the data never has to be in this process's memory all at once. The
script is given a memory budget (``--budget-mb``, far smaller than the files)
and sizes its chunks so that a chunk, with the network's activations for it,
takes at most half of the budget.

1. **partial_fit over a memmap.** For several epochs, the training chunks are
   read in a shuffled order and each goes through
   ``ScratchMLPClassifier.partial_fit`` (one pass of Adam over the chunk). A
   line per epoch shows the mean training loss and the accuracy on a held-out
   tenth of the file, itself scored chunk by chunk. ``tracemalloc`` traces
   every allocation that Python and NumPy make during the run (writing the
   files, training, scoring), and its peak is printed against the budget and
   the size of the files. (Pages of a mapped file are the operating system's
   cache, not allocations of this process: it drops them when memory is short.)

2. **dask-ml's Incremental.** The same files become chunked dask arrays, one
   block per chunk, each block read from the file by its own task, and
   ``dask_ml.wrappers.Incremental`` feeds the blocks to ``partial_fit`` on the
   workers of a Dask cluster (a ``LocalCluster`` of 2 processes by default)
   while this process holds only the model. Dask runs a reading task as soon
   as a worker is free, long before the model gets to that block, so a single
   call over the whole array would pull every block into the workers' memory;
   each call is therefore given a window of blocks that takes at most half the
   budget. The peak of the data held by the workers is sampled and printed.

Needs the ``distributed`` extra: ``pip install ".[distributed]"``
(``--no-dask`` runs the first part alone, without it).

Run it with::

    python examples/out_of_core.py                    # 122 MB of data, 16 MB budget, ~30 s on 2 cores
    python examples/out_of_core.py --quick            # 10 MB of data, 4 MB budget
    python examples/out_of_core.py --rows 1000000     # 488 MB of data, the same budget
    python examples/out_of_core.py --no-dask          # the memmap part only
    python examples/out_of_core.py --scheduler tcp://HOST:8786 --data-dir /shared/dir
"""

import argparse
import itertools
import logging
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from sknn_scratch import ScratchMLPClassifier

NO_DASK = (
    "the second part of this example needs dask.distributed and dask-ml: "
    'pip install "sknn-scratch[distributed]" (from a checkout: '
    'pip install ".[distributed]"), or run it with --no-dask'
)
MB = 1e6
CLASSES = np.arange(3)
BATCH_SIZE = 200
HIDDEN = 32


def write_data(
    directory: Path, n_rows: int, n_features: int, chunk_rows: int, seed: int
) -> tuple[Path, Path]:
    """Write X.npy (float64) and y.npy (int64) chunk by chunk; return their paths.

    The labels come from a fixed random tanh network (the teacher) with Gumbel
    noise on its logits, so they are learnable but not perfectly so.
    """
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((n_features, 16)) / np.sqrt(n_features)
    W2 = 3.0 * rng.standard_normal((16, len(CLASSES)))
    X_path, y_path = directory / "X.npy", directory / "y.npy"
    # Create the files (a header, then zeros that the file system need not
    # store) and unmap them at once ...
    for path, dtype, shape in [
        (X_path, np.float64, (n_rows, n_features)),
        (y_path, np.int64, (n_rows,)),
    ]:
        np.lib.format.open_memmap(path, "w+", dtype, shape).flush()
    for start, stop in chunks(0, n_rows, chunk_rows):
        X_chunk = rng.standard_normal((stop - start, n_features))
        logits = np.tanh(2.0 * X_chunk @ W1) @ W2
        logits += rng.gumbel(size=logits.shape)
        # ... and fill them a chunk at a time, each through a fresh mapping:
        # pages written through a mapping stay in this process's resident
        # memory for as long as the mapping lives.
        write_rows(X_path, start, X_chunk)
        write_rows(y_path, start, logits.argmax(axis=1))
    return X_path, y_path


def write_rows(path: Path, start: int, rows: np.ndarray) -> None:
    """Write rows into a .npy file from row ``start`` on."""
    array = np.load(path, mmap_mode="r+")
    array[start : start + len(rows)] = rows
    array.flush()
    del array  # unmap


def chunks(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    """Row ranges (first, last + 1) of nearly equal length, at most ``size``.

    Equal lengths rather than a short remainder: a chunk smaller than the
    batch size would make partial_fit clip its batch size, with a warning.
    """
    n_chunks = -(-(stop - start) // size)
    bounds = np.linspace(start, stop, n_chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def read_rows(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of a .npy file, read into memory (the file stays mapped)."""
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def held_out_accuracy(
    model: ScratchMLPClassifier, X_path: Path, y_path: Path, ranges: list
) -> float:
    """Accuracy over the given row ranges, one chunk in memory at a time."""
    correct = total = 0
    for start, stop in ranges:
        y_chunk = read_rows(y_path, start, stop)
        correct += int((model.predict(read_rows(X_path, start, stop)) == y_chunk).sum())
        total += stop - start
    return correct / total


def train_on_memmap(args, X_path, y_path, train, test, make_model) -> None:
    """Part 1: epochs of partial_fit over the memmapped chunks."""
    model = make_model()
    rng = np.random.default_rng(args.seed)
    start_time = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss_sum = 0.0
        for i in rng.permutation(len(train)):
            start, stop = train[i]
            model.partial_fit(
                read_rows(X_path, start, stop),
                read_rows(y_path, start, stop),
                classes=CLASSES,
            )
            loss_sum += model.loss_ * (stop - start)
        n_train = train[-1][1]
        accuracy = held_out_accuracy(model, X_path, y_path, test)
        print(
            f"epoch {epoch}/{args.epochs}: mean loss {loss_sum / n_train:.4f}  "
            f"held-out accuracy {accuracy:.4f}  "
            f"({time.perf_counter() - start_time:.1f} s)"
        )


def start_cluster(scheduler: str | None):
    """A Client on ``scheduler`` or on a new loopback LocalCluster of 2 workers."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",  # loopback only
        dashboard_address="127.0.0.1:0",  # any free loopback port: no clashes
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def dask_blocks(path: Path, ranges: list, row_shape: tuple, dtype):
    """A dask array with one block per row range, each read from the file by a task.

    ``dask.array.from_array(memmap)`` would be shorter, but since dask
    2024.12.0 ``from_array`` starts with ``x.copy()``, which for a
    ``numpy.memmap`` reads the whole file into this process's memory. A task
    per block that opens the file itself keeps this process free of data, and
    works on any cluster whose workers can read ``path``.
    """
    import dask
    import dask.array as da

    read = dask.delayed(read_rows, pure=True)
    return da.concatenate(
        [
            da.from_delayed(read(str(path), a, b), (b - a, *row_shape), dtype)
            for a, b in ranges
        ]
    )


def windowed_score(incremental, X, y, ranges: list, window: int) -> float:
    """Incremental.score (computed on the workers) a window of blocks at a time."""
    total = 0.0
    for first in range(0, len(ranges), window):
        blocks = slice(first, first + window)
        rows = ranges[blocks][-1][1] - ranges[blocks][0][0]
        total += incremental.score(X.blocks[blocks], y.blocks[blocks]) * rows
    return total / (ranges[-1][1] - ranges[0][0])


def train_with_incremental(args, X_path, y_path, train, test, make_model) -> None:
    """Part 2: dask-ml's Incremental over chunked dask arrays on a Dask cluster."""
    from dask_ml.wrappers import Incremental
    from distributed.diagnostics import MemorySampler

    n_features = np.load(X_path, mmap_mode="r").shape[1]
    X_train = dask_blocks(X_path, train, (n_features,), np.float64)
    y_train = dask_blocks(y_path, train, (), np.int64)
    X_test = dask_blocks(X_path, test, (n_features,), np.float64)
    y_test = dask_blocks(y_path, test, (), np.int64)
    # Blocks per call: together they take half the budget (X and y).
    chunk_bytes = (train[0][1] - train[0][0]) * (n_features + 1) * 8
    window = max(1, int(args.budget_mb * MB / 2 // chunk_bytes))

    client, cluster = start_cluster(args.scheduler)
    try:
        print(
            f"cluster: {len(client.nthreads())} workers; {len(train)} blocks per "
            f"epoch, {window} per Incremental.partial_fit call"
        )
        rng = np.random.RandomState(args.seed)
        incremental = Incremental(
            make_model(), scoring="accuracy", shuffle_blocks=True, random_state=rng
        )
        sampler = MemorySampler()
        start_time = time.perf_counter()
        # the bytes of task results held in the workers' memory, every 20 ms
        with sampler.sample("data", measure="managed", interval=0.02):
            for epoch in range(1, args.epochs + 1):
                starts = rng.permutation(np.arange(0, len(train), window))
                for first in starts:
                    blocks = slice(first, first + window)
                    incremental.partial_fit(
                        X_train.blocks[blocks], y_train.blocks[blocks], classes=CLASSES
                    )
                accuracy = windowed_score(incremental, X_test, y_test, test, window)
                print(
                    f"epoch {epoch}/{args.epochs}: held-out accuracy "
                    f"{accuracy:.4f}  ({time.perf_counter() - start_time:.1f} s)"
                )
        held = sampler.to_pandas()["data"].max()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(
        f"peak data held by the workers: {held / MB:.1f} MB "
        f"(budget {args.budget_mb:g} MB, data files {file_mb(X_path, y_path):.1f} MB)"
    )


def file_mb(*paths: Path) -> float:
    """Total size of the files in MB."""
    return sum(path.stat().st_size for path in paths) / MB


def main() -> None:
    parser = argparse.ArgumentParser(
        description="partial_fit over a memmapped data set larger than a memory budget."
    )
    parser.add_argument("--quick", action="store_true", help="a smaller data set")
    parser.add_argument("--rows", type=int, help="rows of data (default 250000)")
    parser.add_argument("--features", type=int, help="features (default 60)")
    parser.add_argument(
        "--budget-mb", type=float, help="memory the script may use (default 16)"
    )
    parser.add_argument("--epochs", type=int, help="passes over the data (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where to write the .npy files (default: a temporary directory, "
        "removed at the end); with --scheduler, one the workers can read",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler for part 2 (default: start a LocalCluster)",
    )
    parser.add_argument("--no-dask", action="store_true", help="skip part 2")
    # known ones only: in a notebook, sys.argv holds the kernel's own options
    args, _ = parser.parse_known_args()
    defaults = (60_000, 20, 4.0, 2) if args.quick else (250_000, 60, 16.0, 4)
    for name, default in zip(
        ("rows", "features", "budget_mb", "epochs"), defaults, strict=True
    ):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if not args.no_dask:
        try:
            import dask_ml.wrappers  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            sys.exit(NO_DASK)

    row_bytes = (args.features + 1) * 8  # a float64 row of X and its int64 label
    # Predicting a chunk takes its rows, two float64 buffers of hidden units
    # and the outputs; these get half the budget, the rest is headroom.
    work_bytes = row_bytes + 8 * (2 * HIDDEN + len(CLASSES))
    chunk_rows = int(args.budget_mb * MB / 2 // work_bytes)
    if chunk_rows < 2 * BATCH_SIZE:
        sys.exit(f"--budget-mb {args.budget_mb:g} is too small for a chunk of rows")
    n_test = args.rows // 10
    n_train = args.rows - n_test
    train = chunks(0, n_train, chunk_rows)
    test = chunks(n_train, args.rows, chunk_rows)

    def make_model() -> ScratchMLPClassifier:
        # early stopping holds out part of each call's data, which partial_fit
        # cannot do; the held-out tenth of the file plays that part here
        return ScratchMLPClassifier(
            hidden_layer_sizes=(HIDDEN,), batch_size=BATCH_SIZE, random_state=args.seed
        )

    directory = args.data_dir or Path(tempfile.mkdtemp(prefix="sknn-out-of-core-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        tracemalloc.start()
        X_path, y_path = write_data(
            directory, args.rows, args.features, chunk_rows, args.seed
        )
        size = file_mb(X_path, y_path)
        print(
            f"data: {args.rows} rows x {args.features} features, 3 classes, in "
            f"{size:.1f} MB of .npy files"
        )
        print(
            f"budget: {args.budget_mb:g} MB; chunks of {chunk_rows} rows "
            f"({chunk_rows * row_bytes / MB:.1f} MB); {len(train)} training chunks, "
            f"{len(test)} held-out"
        )
        print()
        print("partial_fit over numpy.memmap chunks")
        train_on_memmap(args, X_path, y_path, train, test, make_model)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        within = "yes" if peak <= args.budget_mb * MB else "NO"
        print(
            f"peak traced memory: {peak / MB:.1f} MB (budget {args.budget_mb:g} MB, "
            f"data files {size:.1f} MB); within budget: {within}"
        )
        if not args.no_dask:
            print()
            print("dask-ml Incremental over chunked dask arrays")
            train_with_incremental(args, X_path, y_path, train, test, make_model)
    finally:
        if args.data_dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
