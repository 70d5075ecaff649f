"""Reading and checking a user's table (CSV with a header, or .npz of named columns) for fitting.

Every problem raises ValueError with one line that names the file, the column and the row
(1-based data rows, the header not counted) and the fix.
"""

import csv
import math
import os
from dataclasses import dataclass

import numpy as np


@dataclass
class Table:
    """Columns selected for a fit: inputs X (rows, n_in) and targets Y (rows, n_out), float64."""

    X: np.ndarray
    Y: np.ndarray
    input_names: list
    output_names: list


def read_columns(path, needed=None):
    """Read a CSV file with a header row, or an .npz file of equal-length 1-D arrays.

    Returns (names, data) with data a float64 array of shape (rows, columns). The columns in
    `needed` (every column when None) must hold numbers; in the others, a cell that is not a
    number reads as NaN, so a text column the caller does not use is no error. Raises
    ValueError for a missing file, an empty file, a duplicated or empty column name, a row of
    the wrong length or a needed cell that is not a number.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"cannot read {path}: no such file")
    needed = None if needed is None else set(needed)
    if path.lower().endswith(".npz"):
        return _read_npz(path, needed)
    return _read_csv(path, needed)


def _read_csv(path, needed):
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"cannot read {path}: the file is empty, expected a header row of column names") from None
        names = [name.strip() for name in header]
        _check_names(path, names)
        rows = []
        for line_number, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise ValueError(f"invalid {path}: line {line_number} has {len(row)} cells but the header has {len(names)}")
            values = []
            for name, cell in zip(names, row):
                try:
                    values.append(float(cell))
                except ValueError:
                    if needed is not None and name not in needed:
                        values.append(math.nan)
                        continue
                    raise ValueError(f"invalid {path}: line {line_number}, column {name!r}: {cell.strip()!r} is not a number") from None
            rows.append(values)
    if not rows:
        raise ValueError(f"cannot read {path}: the file has a header but no data rows")
    return names, np.array(rows, dtype=np.float64)


def _read_npz(path, needed):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: not an .npz archive ({error})") from None
    if not arrays:
        raise ValueError(f"cannot read {path}: the archive contains no arrays")
    names = list(arrays)
    _check_names(path, names)
    columns = []
    for name in names:
        value = arrays[name]
        if value.ndim != 1:
            raise ValueError(f"invalid {path}: column {name!r} has shape {value.shape}, expected one 1-D array per column")
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == bool) or np.iscomplexobj(value):
            if needed is not None and name not in needed:
                columns.append(np.full(len(value), math.nan))
                continue
            raise ValueError(f"invalid {path}: column {name!r} has dtype {value.dtype}, expected real numbers")
        columns.append(value.astype(np.float64))
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise ValueError(f"invalid {path}: the columns have different lengths {sorted(lengths)}")
    if lengths == {0}:
        raise ValueError(f"cannot read {path}: the columns contain no rows")
    return names, np.column_stack(columns)


def _check_names(path, names):
    for i, name in enumerate(names):
        if not name:
            raise ValueError(f"invalid {path}: column {i + 1} of the header has no name")
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"invalid {path}: the column name {name!r} appears more than once")
        seen.add(name)


def _split_names(text):
    return [name.strip() for name in str(text).split(",") if name.strip()]


def select(path, names, data, target, inputs=None):
    """Pick the target and input columns and check their values. Returns a Table.

    `target` and `inputs` are comma-separated column names; without `inputs` every column that
    is not a target is an input. Raises ValueError for a missing column, a column used twice,
    NaN or inf values, or a constant target.
    """
    output_names = _split_names(target)
    if not output_names:
        raise ValueError("no target column given: pass --target NAME")
    repeated = [name for name in dict.fromkeys(output_names) if output_names.count(name) > 1]
    if repeated:
        raise ValueError(f"invalid --target: the column {repeated[0]!r} is listed twice")
    input_names = _split_names(inputs) if inputs is not None else [name for name in names if name not in output_names]
    for name in output_names + input_names:
        if name not in names:
            raise ValueError(f"column {name!r} not found in {path}: the file has {', '.join(names)}")
    overlap = set(output_names) & set(input_names)
    if overlap:
        raise ValueError(f"column {sorted(overlap)[0]!r} is both an input and a target: drop it from --inputs")
    if len(set(input_names)) != len(input_names):
        raise ValueError("an input column is listed twice in --inputs")
    if not input_names:
        raise ValueError(f"no input columns left in {path}: the file has only the target columns")

    index = {name: i for i, name in enumerate(names)}
    X = data[:, [index[name] for name in input_names]]
    Y = data[:, [index[name] for name in output_names]]
    for block, block_names in ((X, input_names), (Y, output_names)):
        bad = ~np.isfinite(block)
        if np.any(bad):
            row, column = np.argwhere(bad)[0]
            value = block[row, column]
            what = "NaN" if math.isnan(value) else "inf"
            count = int(np.sum(bad))
            raise ValueError(f"invalid {path}: column {block_names[column]!r} is {what} in data row {row + 1} "
                             f"({count} non-finite cells in all): remove or fill those rows")
    for k, name in enumerate(output_names):
        if np.all(Y[:, k] == Y[0, k]):
            raise ValueError(f"invalid {path}: the target {name!r} is constant ({float(Y[0, k])!r}) in every row, so there is no law to fit")
    return Table(X, Y, input_names, output_names)


def load_table(path, target, inputs=None):
    """Read `path` and select its columns (see `read_columns` and `select`).

    With `inputs`, only the target and input columns must hold numbers.
    """
    needed = None if inputs is None else _split_names(target) + _split_names(inputs)
    names, data = read_columns(path, needed)
    return select(path, names, data, target, inputs)


@dataclass
class Split:
    """Row indices: `train` for fitting, `holdout` drawn at random from the same range, `outer`
    lying outside the training range."""

    train: np.ndarray
    holdout: np.ndarray
    outer: np.ndarray


def split_rows(X, holdout_fraction=0.2, outer_fraction=0.1, seed=0):
    """Split rows into training, held-out and outer rows.

    Outer rows are the `outer_fraction` of rows with the largest max_j |x_j - median_j| / IQR_j.
    Each has at least one input outside the interval that the training and held-out rows span
    in that input, so the error on them measures extrapolation. The remaining rows are split at
    random into training and held-out rows.
    """
    n = len(X)
    rng = np.random.default_rng([seed, 3])
    n_outer = int(math.floor(outer_fraction * n))
    if n_outer > 0:
        center = np.median(X, axis=0)
        spread = np.subtract(*np.percentile(X, [75, 25], axis=0))
        spread = np.where(spread > 0, spread, 1.0)
        distance = np.max(np.abs(X - center) / spread, axis=1)
        order = np.argsort(distance, kind="stable")
        threshold = distance[order[n - n_outer]]
        # Ties at the threshold go inward, so every outer row lies strictly outside.
        outer = np.flatnonzero(distance > threshold) if np.any(distance[order[: n - n_outer]] == threshold) else order[n - n_outer:]
        inner = np.setdiff1d(np.arange(n), outer)
    else:
        outer = np.array([], dtype=int)
        inner = np.arange(n)
    inner = rng.permutation(inner)
    n_holdout = int(round(holdout_fraction * len(inner)))
    return Split(np.sort(inner[n_holdout:]), np.sort(inner[:n_holdout]), np.sort(outer))
