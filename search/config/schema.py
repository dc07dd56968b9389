"""The typed sweep configuration: one frozen pydantic model per section of the YAML.

Contract: `Config` validates a whole config tree (`search.config.load` builds
the tree from the default YAML, a user file and flags). The models carry no
defaults of their own: every default lives in `configs/breast_cancer.yaml`,
the one documented place. A value out of its range raises pydantic's
`ValidationError`, which the loader turns into one line naming the key.
`Config.load_data()` reads and splits the data the config names, with the
sweep's validation scheme (`search.cv.folds`): the one way every command gets
a sweep's `Dataset` (`DataConfig.spec` is the frozen `DataSpec` it loads).
The search space is `search.config.space`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from search.config.ranking import Ranking
from search.config.space import MAX_LAYERS, SpaceConfig
from trainable.data.dataset import Dataset, DataSpec, load_dataset
from trainable.names import METRIC_MODES, OBJECTIVE_MODES, VAL_LOSS, Mode
from trainable.trial.architecture import width_key

__all__ = [
    "BaselineGrid",
    "Config",
    "DataConfig",
    "ExportConfig",
    "MlflowConfig",
    "PickConfig",
    "SearchConfig",
    "TrainConfig",
]

Metric = Literal[tuple(METRIC_MODES)]  # type: ignore[valid-type]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataConfig(_Model):
    source: str = Field(min_length=1)
    target: str | None
    features: list[str] | None
    drop: list[str]
    keep_id_like: list[str]
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
                f"val_fraction + test_fraction must be < 1, got {self.val_fraction} + {self.test_fraction}"
            )
        return self

    def spec(self, folds: int | str, subgroups: list[str] | tuple[str, ...]) -> DataSpec:
        """What `trainable.data.dataset.load_dataset` reads, with the sweep's folds and subgroups."""
        return DataSpec(
            source=self.source,
            target=self.target,
            features=None if self.features is None else tuple(self.features),
            drop=tuple(self.drop),
            keep_id_like=tuple(self.keep_id_like),
            missing=self.missing,
            positive=self.positive,
            group=self.group,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            seed=self.seed,
            folds=folds,
            subgroups=tuple(subgroups),
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
    mode: Mode

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
    metric: Metric  # type: ignore[valid-type]  # a literal built from the one table of metric names
    # several objectives (a Pareto front); when set, they replace `metric`
    objectives: list[Objective] | None = Field(min_length=2)
    sampler: Literal["tpe", "nsga2"]
    constraints: Constraints | None
    seed: int
    max_concurrent: int | None = Field(ge=1)
    time_budget_s: float | None = Field(gt=0)
    max_failures: int = Field(ge=0)
    seed_trial: bool
    enqueue: list[dict[str, Any]]
    early_stopping: EarlyStoppingConfig
    cv: CVConfig
    pack: Literal["auto"] | int

    @field_validator("pack", mode="before")
    @classmethod
    def _pack(cls, value: Any) -> Any:
        if value == "auto" or (type(value) is int and value >= 1):
            return value
        raise ValueError(f"must be auto or a number of configurations >= 1, got {value!r}")

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
            values = {**values, "metric": next((m for m in named if m in METRIC_MODES), VAL_LOSS)}
        return values

    @model_validator(mode="after")
    def _distinct_objectives(self) -> SearchConfig:
        named = [o.metric for o in self.objectives or []]
        if len(set(named)) != len(named):
            raise ValueError(f"objectives must name distinct metrics, got {', '.join(named)}")
        return self

    @property
    def mode(self) -> Mode:
        return METRIC_MODES[self.metric]

    @property
    def ranking(self) -> Ranking:
        """What the leaderboard ranks by (`search.config.ranking`)."""
        bounds = {k: v for k, v in (self.constraints.model_dump() if self.constraints else {}).items() if v is not None}
        return Ranking(self.metric, tuple((o.metric, o.mode) for o in self.objectives or []), bounds)


class TrainConfig(_Model):
    max_epochs: int = Field(ge=1)
    cpus_per_trial: float = Field(gt=0)
    gpus_per_trial: float = Field(ge=0)
    class_weight: Literal["balanced"] | None

    @field_validator("gpus_per_trial")
    @classmethod
    def _gpu_share(cls, value: float) -> float:
        if value > 1 and value != int(value):
            raise ValueError(f"must be a fraction of one GPU (< 1) or a whole number of GPUs, got {value}")
        return value


class LogisticGrid(_Model):
    C: list[float] = Field(min_length=1)  # inverse L2 strength

    @field_validator("C")
    @classmethod
    def _positive(cls, values: list[float]) -> list[float]:
        if min(values) <= 0:
            raise ValueError(f"every C must be > 0, got {values}")
        return values


class BoostingGrid(_Model):
    learning_rate: list[float] = Field(min_length=1)
    max_leaf_nodes: list[int] = Field(min_length=1)

    @field_validator("learning_rate")
    @classmethod
    def _rates(cls, values: list[float]) -> list[float]:
        if not all(0 < v <= 1 for v in values):
            raise ValueError(f"every learning_rate must be in (0, 1], got {values}")
        return values

    @field_validator("max_leaf_nodes")
    @classmethod
    def _leaves(cls, values: list[int]) -> list[int]:
        if min(values) < 2:
            raise ValueError(f"every max_leaf_nodes must be >= 2, got {values}")
        return values


class BaselineGrid(_Model):
    """The settings each baseline is tuned over (`trainable.stats.baselines`)."""

    logistic_regression: LogisticGrid
    gradient_boosting: BoostingGrid


class ExportConfig(_Model):
    threshold: Literal["youden", "target_sensitivity"]
    target_sensitivity: float | None = Field(gt=0, le=1)
    n_boot: int = Field(ge=100)
    seed: int
    baselines: list[Literal["logistic_regression", "gradient_boosting"]]
    baseline_max_rows: int | None = Field(ge=100)
    baseline_grid: BaselineGrid
    decision_thresholds: list[float] = Field(min_length=2, max_length=2)
    subgroups: list[str]
    onnx: bool

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
        """Read, validate and split the data (refused with one line naming the file or column)."""
        return load_dataset(self.data.spec(self.search.cv.folds, self.export.subgroups))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
