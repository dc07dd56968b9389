"""The feature schema: each column's type and what the model's preprocessing learned from the training rows.

Contract:
- `ColumnSchema` is one feature column: its `name`, its Keras input name
  (`input`), its `kind` (`numeric` or `categorical`) and what preprocessing
  needs: for a numeric column the `mean` and `var` (after imputation) and,
  with imputation, the `fill` value and whether it gets a missing-value
  `indicator`; for a categorical column its `vocabulary`. It is written to the
  model card (`data.schema`) with exactly those keys and read back from it.
- `infer_kinds(frame, where)` types each feature column `numeric` or
  `categorical` (strings, categories, booleans); a column of numbers with a
  few text values is refused with the column, an example and its row.
- `refuse_id_like(frame, kinds, keep, where)` refuses a text or categorical
  column that looks like an identifier (more than `ID_MIN_VALUES` distinct
  values averaging fewer than `ID_MAX_ROWS_PER_VALUE` rows each, e.g. a
  patient id), one-hot encoding of which lets a model recognise the rows it
  trained on; `keep` (`data.keep_id_like`) names the columns kept on purpose.
- `fit_schema(train, kinds, impute)` learns the schema on the TRAINING rows only.
- `input_form(schema)` is how a model takes its rows: `matrix` (one float
  matrix, every column numeric with nothing to impute) or `columns` (one named
  input per column).
- `as_text(series)`: a column's values as the text a vocabulary holds
  (`MISSING_TOKEN` for a missing value).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from trainable.errors import HpsearchError

__all__ = [
    "ID_MAX_ROWS_PER_VALUE",
    "ID_MIN_VALUES",
    "MISSING_TOKEN",
    "ColumnSchema",
    "InputForm",
    "as_text",
    "fit_schema",
    "infer_kinds",
    "input_form",
    "refuse_id_like",
]

MISSING_TOKEN = "<missing>"
_TEXTISH_NUMERIC = 0.9  # a column whose non-empty values are >= 90% numbers is numeric
ID_MIN_VALUES = 50  # a categorical column with more distinct values than this...
ID_MAX_ROWS_PER_VALUE = 10  # ...averaging fewer rows each than this looks like an identifier

Kind = Literal["numeric", "categorical"]
InputForm = Literal["matrix", "columns"]


class ColumnSchema(BaseModel):
    """One feature column (see the module docstring); unset fields are left out of the card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    input: str
    kind: Kind
    mean: float | None = None
    var: float | None = None
    fill: float | None = None
    indicator: bool | None = None
    vocabulary: list[str] | None = None

    @property
    def numeric(self) -> bool:
        return self.kind == "numeric"


def _input_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_") or "col"
    if base[0].isdigit():
        base = "c_" + base
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def infer_kinds(frame: pd.DataFrame, where: str) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for col in frame.columns:
        series = frame[col]
        if pd.api.types.is_bool_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
            kinds[col] = "categorical"
        elif pd.api.types.is_numeric_dtype(series):
            kinds[col] = "numeric"
        else:
            present = series.dropna()
            as_number = pd.to_numeric(present, errors="coerce")
            share = float(as_number.notna().mean()) if len(present) else 0.0
            if share >= _TEXTISH_NUMERIC:
                bad = present[as_number.isna()]
                raise HpsearchError(
                    f"{where}: column `{col}` holds numbers but also text, e.g. {bad.iloc[0]!r} "
                    f"in row {bad.index[0]}; fix or blank those cells"
                )
            kinds[col] = "categorical"
    return kinds


def refuse_id_like(frame: pd.DataFrame, kinds: Mapping[str, Kind], keep: Collection[str], where: str) -> None:
    """Refuse the first categorical column not in `keep` with many distinct values, each in only a few rows."""
    for col, kind in kinds.items():
        if kind != "categorical" or col in keep:
            continue
        present = frame[col].dropna()
        values = int(present.nunique())
        if values > ID_MIN_VALUES and len(present) < ID_MAX_ROWS_PER_VALUE * values:
            raise HpsearchError(
                f"{where}: column `{col}` looks like an ID ({values} distinct values in {len(present)} rows, "
                f"{len(present) / values:.1f} rows each; an ID-like column has more than {ID_MIN_VALUES} values "
                f"averaging fewer than {ID_MAX_ROWS_PER_VALUE} rows): drop it (data.drop: [{col}]), keep its rows "
                f"together in every split (data.group: {col}), or keep it as a feature on purpose "
                f"(data.keep_id_like: [{col}])"
            )


def as_text(series: pd.Series) -> np.ndarray:
    text = series.astype("object").where(series.notna(), MISSING_TOKEN)
    return np.array([str(v) for v in text], dtype=object)


def _column(name: str, series: pd.Series, kind: Kind, impute: bool, taken: set[str]) -> ColumnSchema:
    entry = ColumnSchema(name=str(name), input=_input_name(name, taken), kind=kind)
    if kind == "numeric":
        values = series.to_numpy(dtype=np.float64)
        missing = np.isnan(values)
        fill = float(np.nanmean(values)) if (~missing).any() else 0.0
        filled = np.where(missing, fill, values)
        learned = {"mean": float(filled.mean()), "var": float(filled.var())}
        if impute:
            learned.update(fill=fill, indicator=bool(missing.any()))
        return entry.model_copy(update=learned)
    return entry.model_copy(update={"vocabulary": sorted(set(as_text(series)))})


def fit_schema(train: pd.DataFrame, kinds: dict[str, Kind], impute: bool) -> list[ColumnSchema]:
    taken: set[str] = set()
    return [_column(col, train[col], kinds[col], impute, taken) for col in train.columns]


def input_form(schema: list[ColumnSchema]) -> InputForm:
    """'matrix' (one float input) or 'columns' (one named input per column)."""
    simple = all(c.numeric and c.fill is None for c in schema)
    return "matrix" if simple else "columns"
