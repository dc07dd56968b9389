"""A dataset as a sweep uses it: columns selected and checked, labels encoded, rows split.

Contract: `load_dataset(spec)` reads the source a frozen `DataSpec` names
(`trainable.data.sources`) and returns a `Dataset` of raw features (in the
model's input form: `trainable.data.encoding`) and integer class labels
(0..K-1), or raises `HpsearchError` with one line naming the file or column
and what is wrong. `DataSpec` has no defaults: the driver builds it from the
config (`data:` and `search.cv.folds`), whose defaults live in the YAML.
The test split is held out first (stratified, seeded:
`trainable.data.splits`), the same in every mode. The development rows (all
the others) are then
- with `folds=0`, split once more into training and validation rows;
- with `folds=k` (k >= 2), cut into k stratified, seeded folds: fold-model j
  trains on the rows outside fold j and predicts fold j, so every development
  row is validated once, out of fold. `X_train`/`X_val` are then both all the
  development rows, `folds` says which fold holds each out, and
  `fold_schemas[j]` is fitted on fold j's training rows only;
- with `folds="auto"`, 5 folds below 2,000 development rows (when every class
  has at least 5 of them), else one validation split.
With `group` (e.g. a patient id), every split and every fold holds whole
groups, and the group column is never a feature; `val_groups` and
`test_groups` give the group of each row of `y_val` and `y_test`, the units
of their intervals (None without `group`). `subgroups` names columns
whose test-row values (`trainable.data.subgroups`) the evaluation reports
performance by. `test_rows_sha256` fingerprints the test split (its sorted row
indices in the source): with `sha256`, it names the test split, so a results
folder can tell that two sweeps score the same rows. Numeric, categorical and boolean columns; missing values
refused (`missing="error"`) or imputed inside the model (`missing="impute"`);
binary or multiclass targets. A text or categorical column that looks like an
identifier (`trainable.data.schema.refuse_id_like`) is refused unless
`keep_id_like` names it. `inputs_from_frame(frame, schema)` turns raw
rows into what an exported model takes.

The driver loads the dataset once and hands it to trials through Ray's object
store; trials never re-read the file. Only train and validation reach the
search; the test split is scored once, for the exported model. Every
statistic a model's preprocessing uses comes from its training rows (the
training split, or its fold's); `schema` is fitted on the training split, or,
cross-validated, on all development rows, where only encoding rows and the
model card read it, never a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from trainable.data.encoding import encode, to_model_input
from trainable.data.schema import ColumnSchema, InputForm, fit_schema, infer_kinds, input_form, refuse_id_like
from trainable.data.sources import read_source
from trainable.data.splits import assign_folds, hold_out_test, resolve_folds, split_validation
from trainable.data.subgroups import subgroup_labels
from trainable.errors import HpsearchError

__all__ = ["DataSpec", "Dataset", "inputs_from_frame", "load_dataset"]

_MAX_CLASSES = 20  # more distinct label values than this looks like a continuous outcome


@dataclass(frozen=True)
class DataSpec:
    """What to read and how to split it: the config's `data:` section and `search.cv.folds`."""

    source: str  # a file path or builtin:NAME
    target: str | None  # the label column of a table
    features: tuple[str, ...] | None  # keep only these columns (None: all but the target)
    drop: tuple[str, ...]  # ...and drop these
    keep_id_like: tuple[str, ...]  # ID-like text columns kept as features on purpose
    missing: Literal["error", "impute"]
    positive: str | int | None  # the positive class of a binary label
    group: str | None  # the column whose rows stay together (patients)
    val_fraction: float
    test_fraction: float
    seed: int
    folds: int | str  # 0, k >= 2, or "auto"
    subgroups: tuple[str, ...]  # columns to report test performance by


@dataclass(frozen=True)
class Dataset:
    """A split dataset. Features are raw (unscaled); scaling lives in the model.

    `X_*` is a float32 matrix for the "matrix" input form, or a dict of (n, 1)
    arrays keyed by Keras input name for "columns". `X_val`/`y_val` are the
    rows validation metrics are computed on: the validation split, or,
    cross-validated, every development row (pooled out of fold).
    """

    X_train: Any
    y_train: np.ndarray
    X_val: Any
    y_val: np.ndarray
    X_test: Any
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    source: str
    sha256: str
    schema: list[ColumnSchema] = field(repr=False)
    feature_mean: np.ndarray = field(repr=False)
    feature_var: np.ndarray = field(repr=False)
    folds: np.ndarray | None = field(default=None, repr=False)  # per development row: the fold holding it out
    fold_schemas: tuple[list[ColumnSchema], ...] | None = field(default=None, repr=False)  # per fold's training rows
    group: str | None = None  # data.group: the column whose rows stay together (patients)
    groups: dict[str, int] | None = None  # number of groups per split
    val_groups: np.ndarray | None = field(default=None, repr=False)  # data.group's id per row of y_val
    test_groups: np.ndarray | None = field(default=None, repr=False)  # data.group's id per row of y_test
    subgroups: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # column -> label per test row
    test_rows_sha256: str | None = None  # the test split's sorted row indices, hashed

    def without_test(self) -> Dataset:
        """This dataset for the trials: the test rows left out (they are scored once, on the driver)."""
        return replace(self, X_test=None, y_test=self.y_test[:0], subgroups={}, test_groups=None)

    @property
    def n_folds(self) -> int:
        """k for k-fold cross-validation; 0 for one validation split."""
        return 0 if self.fold_schemas is None else len(self.fold_schemas)

    @property
    def folds_sha256(self) -> str | None:
        """A fingerprint of the fold assignment (None without folds): a resumed sweep must have the same."""
        if self.folds is None:
            return None
        return hashlib.sha256(np.ascontiguousarray(self.folds, dtype=np.int64).tobytes()).hexdigest()

    @property
    def n_dev(self) -> int:
        return int(len(self.y_train) + (0 if self.n_folds else len(self.y_val)))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def input_form(self) -> InputForm:
        return input_form(self.schema)

    def summary(self) -> dict[str, Any]:
        """The model card's `data` block."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "test_rows_sha256": self.test_rows_sha256,
            "n_train": int(len(self.y_train)),
            "n_val": int(len(self.y_val)),
            "n_test": int(len(self.y_test)),
            "n_dev": self.n_dev,
            "folds": self.n_folds,
            "group": self.group,
            "groups": self.groups,
            "n_features": self.n_features,
            "feature_names": list(self.feature_names),
            "class_names": list(self.class_names),
            "layout": self.input_form,
            "schema": self.schema,
        }


def _select(where: str, frame: pd.DataFrame, features: tuple[str, ...] | None, drop: list[str]) -> pd.DataFrame:
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    for key, names in (("data.features", list(features or [])), ("data.drop", drop)):
        _check_names(where, key, names, columns)
    if features:
        frame = frame[list(features)]
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    if frame.shape[1] == 0:
        raise HpsearchError(f"{where}: no feature columns left (check data.features / data.drop)")
    return frame


def _check_names(where: str, key: str, names: Collection[str], columns: list[str]) -> None:
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise HpsearchError(
            f"{where}: {key} names unknown column(s) {', '.join(unknown)}; columns are: {', '.join(columns)}"
        )


def _encode_labels(where: str, y: np.ndarray, positive: str | int | None) -> tuple[np.ndarray, list[str]]:
    values = pd.Series(y).reset_index(drop=True)
    if pd.api.types.is_float_dtype(values):
        if not np.isfinite(values.to_numpy()).all():
            raise HpsearchError(f"{where}: the label has missing or infinite values")
        if not (values == values.round()).all():
            raise HpsearchError(
                f"{where}: the label looks continuous ({values.nunique()} distinct values, e.g. {values.iloc[0]!r}); "
                "hpsearch trains classifiers: use class labels"
            )
        values = values.astype(np.int64)
    classes = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise HpsearchError(f"{where}: the label has a single class ({classes[0]!r}); need at least 2")
    if len(classes) > _MAX_CLASSES:
        raise HpsearchError(
            f"{where}: the label has {len(classes)} distinct values in {len(values)} rows; "
            f"it looks continuous, not like class labels (at most {_MAX_CLASSES} classes)"
        )
    if positive is not None:
        names = [str(c) for c in classes]
        if len(classes) != 2:
            raise HpsearchError(f"{where}: data.positive is for binary labels; this label has {len(classes)} classes")
        if str(positive) not in names:
            raise HpsearchError(f"{where}: data.positive {positive!r} is not a class; classes are: {', '.join(names)}")
        if names.index(str(positive)) == 0:
            classes = classes[::-1]
    codes = pd.Categorical(values, categories=classes).codes.astype(np.int64)
    return codes, [str(c) for c in classes]


def _check_values(where: str, frame: pd.DataFrame, kinds: Mapping[str, str], impute: bool) -> None:
    for col, kind in kinds.items():
        if kind == "numeric":
            n_inf = int(np.isinf(frame[col].to_numpy(dtype=np.float64)).sum())
            if n_inf:
                raise HpsearchError(f"{where}: column `{col}` has {n_inf} infinite value(s); features must be finite")
    counts = frame.isna().sum()
    counts = counts[counts > 0]
    if len(counts) and not impute:
        listed = ", ".join(f"{c} ({n})" for c, n in counts.items())
        raise HpsearchError(f"{where}: missing values in column(s) {listed}; fix them or set data.missing: impute")
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise HpsearchError(f"{where}: column `{empty[0]}` has no values at all; drop it (data.drop)")


def load_dataset(spec: DataSpec) -> Dataset:
    """Load the source `spec` names, validate it and split it (see the module docstring)."""
    where, raw, y_raw, classes, digest = read_source(spec.source, spec.target)
    raw = raw.set_axis([str(c) for c in raw.columns], axis=1)
    group = spec.group
    group_ids = _group_ids(where, raw, group, spec.features)
    kept = raw.drop(columns=[group]) if group else raw
    frame = _select(where, kept, spec.features, [d for d in spec.drop if d != group])
    if classes is None:
        y, classes = _encode_labels(where, y_raw, spec.positive)
    else:
        y = np.asarray(y_raw, dtype=np.int64)
    kinds = infer_kinds(frame, where)
    _check_names(where, "data.keep_id_like", spec.keep_id_like, list(raw.columns))
    refuse_id_like(frame, kinds, spec.keep_id_like, where)
    impute = spec.missing == "impute"
    _check_values(where, frame, kinds, impute)
    fractions, seed = (spec.val_fraction, spec.test_fraction), spec.seed
    rest, test = hold_out_test(
        y, val_fraction=fractions[0], test_fraction=fractions[1], seed=seed, where=where, groups=group_ids
    )
    dev = np.sort(rest)
    k = resolve_folds(spec.folds, y[dev], None if group_ids is None else group_ids[dev])
    fields: dict[str, Any] = dict(
        classes=classes, source=spec.source, sha256=digest, group=group, test_rows_sha256=_rows_sha256(test)
    )
    subgroups = list(spec.subgroups)
    if k == 0:
        # `rest` in its split order: the same rows as ever
        train, val = split_validation(
            y, rest, val_fraction=fractions[0], test_fraction=fractions[1], seed=seed, where=where, groups=group_ids
        )
        fields.update(
            subgroups=subgroup_labels(raw, subgroups, train, test, where),
            groups=_count_groups(group_ids, train=train, val=val, test=test),
            **_row_groups(group_ids, val, test),
        )
        return _dataset(frame, y, (train, val, test), fit_schema(frame.iloc[train], kinds, impute), where, **fields)
    fold = assign_folds(y[dev], k, spec.seed, where, None if group_ids is None else group_ids[dev])
    fold_schemas = tuple(fit_schema(frame.iloc[dev[fold != j]], kinds, impute) for j in range(k))
    fields.update(
        subgroups=subgroup_labels(raw, subgroups, dev, test, where),
        groups=_count_groups(group_ids, dev=dev, test=test),
        **_row_groups(group_ids, dev, test),
        folds=fold,
        fold_schemas=fold_schemas,
    )
    return _dataset(frame, y, (dev, dev, test), fit_schema(frame.iloc[dev], kinds, impute), where, **fields)


def _rows_sha256(test: np.ndarray) -> str:
    """The test split's fingerprint: a sha256 of its row indices in the source, sorted."""
    return hashlib.sha256(np.ascontiguousarray(np.sort(test), dtype=np.int64).tobytes()).hexdigest()


def _group_ids(
    where: str, frame: pd.DataFrame, group: str | None, features: tuple[str, ...] | None
) -> np.ndarray | None:
    """data.group's value per row (None without one): a column that must exist, be complete, and not be a feature."""
    if group is None:
        return None
    columns = [str(c) for c in frame.columns]
    if group not in columns:
        raise HpsearchError(f"{where}: data.group names unknown column `{group}`; columns are: {', '.join(columns)}")
    if features and group in features:
        raise HpsearchError(
            f"{where}: data.group `{group}` is also in data.features; a group column is never a feature"
        )
    ids = frame[group]
    if ids.isna().any():
        raise HpsearchError(f"{where}: data.group column `{group}` has {int(ids.isna().sum())} missing value(s)")
    return ids.astype(str).to_numpy()


def _count_groups(group_ids: np.ndarray | None, **splits: np.ndarray) -> dict[str, int] | None:
    if group_ids is None:
        return None
    return {name: int(len(np.unique(group_ids[rows]))) for name, rows in splits.items()}


def _row_groups(group_ids: np.ndarray | None, val: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray | None]:
    """The group id of every validation and test row: the units of their intervals."""
    if group_ids is None:
        return {"val_groups": None, "test_groups": None}
    return {"val_groups": group_ids[val], "test_groups": group_ids[test]}


def _dataset(
    frame: pd.DataFrame, y: np.ndarray, rows: tuple, schema: list[ColumnSchema], where: str, **fields: Any
) -> Dataset:
    """A `Dataset` of the (train, val, test) `rows`; the same rows twice are encoded once."""
    train, val, test = rows
    X_train = encode(frame.iloc[train], schema, where)
    numeric = [c for c in schema if c.numeric]
    return Dataset(
        X_train=X_train,
        y_train=y[train],
        X_val=X_train if val is train else encode(frame.iloc[val], schema, where),
        y_val=y[val],
        X_test=encode(frame.iloc[test], schema, where),
        y_test=y[test],
        feature_names=[c.name for c in schema],
        class_names=fields.pop("classes"),
        schema=schema,
        feature_mean=np.array([c.mean for c in numeric], dtype=np.float32),
        feature_var=np.array([c.var for c in numeric], dtype=np.float32),
        **fields,
    )


def inputs_from_frame(frame: pd.DataFrame, schema: list[ColumnSchema], where: str = "input") -> Any:
    """Raw rows (named columns) -> what the exported model's `predict` takes.

    Refuses missing or unexpected columns with one line naming them. `schema` is
    the model card's `data.schema`.
    """
    return to_model_input(encode(frame, schema, where))
