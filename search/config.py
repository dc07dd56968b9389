"""Typed, validated sweep configuration.

Contract: `load_config(path, overrides)` returns a `Config` or raises
`HpsearchError` with one line naming the file, the key and what is wrong.
Defaults live only in the default YAML (`configs/breast_cancer.yaml`); a user
file is merged on top of it (mappings key by key, lists and scalars replace),
then command-line overrides (dotted keys) on top of that. The models below
carry no defaults of their own, so the YAML stays the one documented place.
`Config.load_data()` reads and splits the data the config names, with the
sweep's validation scheme (`search.cv.folds`): the one way every command gets
a sweep's `Dataset`. The fields of `SpaceConfig` are the
hyperparameters, in the order `search.space.HYPERPARAMETERS` lists them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from search.objectives import OBJECTIVE_MODES, Ranking
from trainable.data import Dataset, load_dataset
from trainable.errors import HpsearchError
from trainable.metrics import METRIC_MODES
from trainable.model import width_key

__all__ = ["Config", "DEFAULT_CONFIG", "load_config", "load_saved_config"]

MAX_LAYERS = 8
Metric = Literal[tuple(METRIC_MODES)]  # type: ignore[valid-type]


def _default_config_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "configs" / "breast_cancer.yaml", here / "_default.yaml"):
        if candidate.is_file():
            return candidate
    raise HpsearchError("the default config configs/breast_cancer.yaml is missing from the installation")


DEFAULT_CONFIG = _default_config_path()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class IntRange(_Model):
    low: int = Field(ge=1)
    high: int = Field(ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.low > self.high:
            raise ValueError(f"low must be <= high, got low={self.low}, high={self.high}")
        return self


class FloatRange(_Model):
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"low and high must be finite, got low={self.low}, high={self.high}")
        if self.low > self.high:
            raise ValueError(f"low must be <= high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={self.low}")
        return self


Activation = Literal["relu", "gelu", "tanh", "selu", "elu", "swish", "sigmoid"]
Optimizer = Literal["adam", "adamw", "rmsprop", "sgd", "nadam"]


class SpaceConfig(_Model):
    n_layers: IntRange
    units: IntRange
    activation: list[Activation] = Field(min_length=1)
    dropout: FloatRange
    l2: FloatRange
    learning_rate: FloatRange
    batch_size: list[int] = Field(min_length=1)
    optimizer: list[Optimizer] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds(self) -> SpaceConfig:
        if self.n_layers.high > MAX_LAYERS:
            raise ValueError(f"n_layers.high must be <= {MAX_LAYERS}, got {self.n_layers.high}")
        if self.dropout.high >= 1:
            raise ValueError(f"dropout.high must be < 1, got {self.dropout.high}")
        if self.learning_rate.low <= 0:
            raise ValueError(f"learning_rate.low must be > 0, got {self.learning_rate.low}")
        if any(b < 1 for b in self.batch_size):
            raise ValueError(f"batch_size choices must be >= 1, got {self.batch_size}")
        return self


class DataConfig(_Model):
    source: str = Field(min_length=1)
    target: str | None
    features: list[str] | None
    drop: list[str]
    missing: Literal["error", "impute"]
    positive: str | int | None
    group: str | None = Field(min_length=1)
    val_fraction: float = Field(gt=0, lt=1)
    test_fraction: float = Field(gt=0, lt=1)
    seed: int

    @model_validator(mode="after")
    def _fractions(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                "val_fraction + test_fraction must be < 1, "
                f"got {self.val_fraction} + {self.test_fraction}"
            )
        return self

    def load(self, folds: int | str, subgroups: list[str] | tuple[str, ...] = ()) -> Dataset:
        """Read, validate and split the data (refused with one line naming the file or column)."""
        return load_dataset(
            self.source,
            self.target,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            seed=self.seed,
            features=self.features,
            drop=self.drop,
            missing=self.missing,
            positive=self.positive,
            folds=folds,
            group=self.group,
            subgroups=subgroups,
        )


class EarlyStoppingConfig(_Model):
    enabled: bool
    grace_period: int = Field(ge=1)
    reduction_factor: int = Field(ge=2)


class CVConfig(_Model):
    folds: Literal["auto"] | int

    @field_validator("folds", mode="before")
    @classmethod
    def _folds(cls, value: Any) -> Any:
        if value == "auto" or (type(value) is int and (value == 0 or value >= 2)):
            return value
        raise ValueError(f"must be auto, 0 (one validation split) or >= 2, got {value!r}")


class Objective(_Model):
    metric: Literal[tuple(OBJECTIVE_MODES)]  # type: ignore[valid-type]
    mode: Literal["min", "max"]

    @model_validator(mode="after")
    def _direction(self) -> Objective:
        if self.mode != OBJECTIVE_MODES[self.metric]:
            raise ValueError(f"{self.metric} is optimised with mode {OBJECTIVE_MODES[self.metric]}, got {self.mode}")
        return self


class Constraints(_Model):
    min_sensitivity: float | None = Field(default=None, gt=0, le=1)
    min_specificity: float | None = Field(default=None, gt=0, le=1)


class SearchConfig(_Model):
    trials: int = Field(ge=1)
    metric: Metric
    # several objectives (a Pareto front); when set, they replace `metric`
    objectives: list[Objective] | None = Field(default=None, min_length=2)
    sampler: Literal["tpe", "nsga2"] = "tpe"
    constraints: Constraints | None = None
    seed: int
    max_concurrent: int | None = Field(ge=1)
    time_budget_s: float | None = Field(gt=0)
    max_failures: int = Field(ge=0)
    seed_trial: bool
    enqueue: list[dict[str, Any]]
    early_stopping: EarlyStoppingConfig
    cv: CVConfig

    @model_validator(mode="after")
    def _known_hyperparameters(self) -> SearchConfig:
        widths = {width_key(i) for i in range(MAX_LAYERS)}
        allowed = (set(SpaceConfig.model_fields) - {"units"}) | widths  # one width per layer
        for i, point in enumerate(self.enqueue):
            unknown = [k for k in point if k not in allowed]
            if unknown:
                raise ValueError(f"enqueue[{i}] has unknown hyperparameter(s) {', '.join(unknown)}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _objectives_replace_metric(cls, values: Any) -> Any:
        """With `objectives`, the best epoch is chosen by the first validation objective (else val_loss)."""
        objectives = values.get("objectives") if isinstance(values, dict) else None
        if isinstance(objectives, list) and len(objectives) >= 2:
            named = [o.get("metric") for o in objectives if isinstance(o, dict)]
            values = {**values, "metric": next((m for m in named if m in METRIC_MODES), "val_loss")}
        return values

    @model_validator(mode="after")
    def _distinct_objectives(self) -> SearchConfig:
        named = [o.metric for o in self.objectives or []]
        if len(set(named)) != len(named):
            raise ValueError(f"objectives must name distinct metrics, got {', '.join(named)}")
        return self

    @property
    def mode(self) -> str:
        return METRIC_MODES[self.metric]

    @property
    def ranking(self) -> Ranking:
        """What the leaderboard ranks by (`search.objectives`)."""
        bounds = {k: v for k, v in (self.constraints.model_dump() if self.constraints else {}).items()
                  if v is not None}
        return Ranking(self.metric, tuple((o.metric, o.mode) for o in self.objectives or []), bounds)


class TrainConfig(_Model):
    max_epochs: int = Field(ge=1)
    cpus_per_trial: float = Field(gt=0)
    class_weight: Literal["balanced"] | None


class ExportConfig(_Model):
    threshold: Literal["youden", "target_sensitivity"]
    target_sensitivity: float | None = Field(gt=0, le=1)
    n_boot: int = Field(ge=100)
    seed: int
    baselines: list[Literal["logistic_regression", "gradient_boosting"]]
    baseline_max_rows: int | None = Field(ge=100)
    decision_thresholds: list[float] = Field(min_length=2, max_length=2)
    subgroups: list[str]

    @model_validator(mode="after")
    def _decision_range(self) -> ExportConfig:
        lo, hi = self.decision_thresholds
        if not 0 < lo < hi < 1:
            raise ValueError(f"decision_thresholds must be [lo, hi] with 0 < lo < hi < 1, got [{lo}, {hi}]")
        return self

    @model_validator(mode="after")
    def _target(self) -> ExportConfig:
        if self.threshold == "target_sensitivity" and self.target_sensitivity is None:
            raise ValueError("threshold: target_sensitivity needs export.target_sensitivity (e.g. 0.95), got null")
        if self.threshold == "youden" and self.target_sensitivity is not None:
            raise ValueError(
                f"target_sensitivity is set ({self.target_sensitivity}) but threshold is youden; "
                "set export.threshold: target_sensitivity to use it, got threshold='youden'"
            )
        return self


class PickConfig(_Model):
    enabled: bool
    top_k: int = Field(ge=1)
    repeats: int = Field(ge=1)


class MlflowConfig(_Model):
    tracking_uri: str | None = Field(min_length=1)
    experiment: str | None = Field(min_length=1)
    registered_model: str | None = Field(min_length=1)


class Config(_Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    results_dir: str = Field(min_length=1)
    data: DataConfig
    search: SearchConfig
    train: TrainConfig
    space: SpaceConfig
    export: ExportConfig
    pick: PickConfig
    mlflow: MlflowConfig

    @property
    def out_dir(self) -> Path:
        """Absolute path of this sweep's folder: <results_dir>/<name>."""
        return (Path(self.results_dir) / self.name).resolve()

    def load_data(self) -> Dataset:
        return self.data.load(self.search.cv.folds, self.export.subgroups)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise HpsearchError(f"{path}: config file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise HpsearchError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HpsearchError(f"{path}: cannot read config: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise HpsearchError(f"{path}: a config must be a YAML mapping, got {type(loaded).__name__}")
    return loaded


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key `{key}`"
    if kind == "missing":
        return f"missing key `{key}`"
    msg = error["msg"].removeprefix("Value error, ")
    if kind.endswith("_type") or kind.startswith("literal") or kind == "string_pattern_mismatch":
        return f"`{key}`: {msg}, got {error['input']!r}"
    if "got" in msg:
        return f"`{key}`: {msg}"
    return f"`{key}`: {msg}, got {error['input']!r}"


def load_saved_config(path: str | Path) -> Config:
    """The resolved config a sweep saved (`config.yaml`). A key it does not hold is
    filled from today's defaults, except what would change how the sweep validated:
    a sweep saved before `search.cv` existed used one validation split."""
    saved = _read_yaml(Path(path))
    overrides = {} if "cv" in (saved.get("search") or {}) else {"search.cv.folds": 0}
    return load_config(path, overrides)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load the default YAML, merge `path` and dotted `overrides` on top, validate."""
    tree = _read_yaml(DEFAULT_CONFIG)
    source = DEFAULT_CONFIG
    if path is not None:
        source = Path(path)
        tree = _merge(tree, _read_yaml(source))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(tree, dotted, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise HpsearchError(f"{source}: {_describe(exc.errors()[0])}") from None
