"""The search space: the one list of hyperparameters, how each is sampled, and the article's model in it.

Contract: `SpaceConfig` is the config's `space:` section; its fields are the
hyperparameters (`HYPERPARAMETERS`), in the order the leaderboard, the model
card and the CLI show them and Optuna samples them. A field's type says how
it is sampled: an `IntRange` or `FloatRange` ({low, high, log}) as an integer
or a float, a list as a categorical choice; `units` is one width per hidden
layer, sampled as `units_0` .. `units_{n-1}`
(`trainable.trial.architecture.width_key`). `ARTICLE` is the article's model
(Dense 128-64 relu, no dropout, Adam 1e-3, batch 32); `seed_point(space)`
projects it into the space, for `OptunaSearch(points_to_evaluate=[...])`.
`define_by_run(space)` returns a picklable callable that suggests each value
for an Optuna trial; `describe(sampled)` turns a trial's sampled values into
one value per name (`units` as a list of widths). `BRIEF` is the subset a
one-screen table shows. Adding a hyperparameter: a field here, its value in
`ARTICLE`, its line in `configs/breast_cancer.yaml`, and its use in
`trainable.trial.architecture`. Imports no Ray and no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trainable.trial.architecture import width_key

__all__ = [
    "ARTICLE",
    "BRIEF",
    "HYPERPARAMETERS",
    "MAX_LAYERS",
    "FloatRange",
    "IntRange",
    "SpaceConfig",
    "define_by_run",
    "describe",
    "seed_point",
]

MAX_LAYERS = 8


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


HYPERPARAMETERS: tuple[str, ...] = tuple(SpaceConfig.model_fields)
BRIEF = ("units", "activation", "learning_rate", "batch_size", "optimizer")
ARTICLE: dict[str, Any] = {
    "n_layers": 2,
    "units": [128, 64],
    "activation": "relu",
    "dropout": 0.0,
    "l2": 0.0,
    "learning_rate": 1e-3,
    "batch_size": 32,
    "optimizer": "adam",
}


def describe(sampled: dict[str, Any]) -> dict[str, Any]:
    """One value per name of `HYPERPARAMETERS` (None where a trial has none); `units` as a list."""
    n_layers = sampled.get("n_layers")
    widths = [sampled.get(width_key(i), "?") for i in range(int(n_layers or 0))]
    return {name: widths if name == "units" else sampled.get(name) for name in HYPERPARAMETERS}


def _suggest(trial: Any, name: str, domain: Any) -> Any:
    if isinstance(domain, IntRange):
        return trial.suggest_int(name, domain.low, domain.high, log=domain.log)
    if isinstance(domain, FloatRange):
        return trial.suggest_float(name, domain.low, domain.high, log=domain.log)
    return trial.suggest_categorical(name, list(domain))


class _DefineByRun:
    """Picklable define-by-run function (OptunaSearch pickles it with its state)."""

    def __init__(self, space: SpaceConfig) -> None:
        self.space = space

    def __call__(self, trial: Any) -> None:
        n_layers = 0
        for name in HYPERPARAMETERS:
            domain = getattr(self.space, name)
            if name == "units":
                for i in range(n_layers):
                    _suggest(trial, width_key(i), domain)
            elif name == "n_layers":
                n_layers = _suggest(trial, name, domain)
            else:
                _suggest(trial, name, domain)


def define_by_run(space: SpaceConfig) -> Callable[[Any], None]:
    return _DefineByRun(space)


def _project(value: Any, domain: Any) -> Any:
    """`value` clipped into a range, or kept when it is one of the choices (else the first choice)."""
    if isinstance(domain, IntRange):
        return min(max(value, domain.low), domain.high)
    if isinstance(domain, FloatRange):
        return float(min(max(value, domain.low), domain.high))
    return value if value in domain else domain[0]


def seed_point(space: SpaceConfig) -> dict[str, Any]:
    """The article's model, each value projected into the space."""
    point: dict[str, Any] = {}
    for name in HYPERPARAMETERS:
        domain = getattr(space, name)
        if name == "units":
            n_layers = point["n_layers"]
            widths = ARTICLE["units"]
            widths = (widths + [widths[-1]] * n_layers)[:n_layers]
            point.update({width_key(i): _project(w, domain) for i, w in enumerate(widths)})
        else:
            point[name] = _project(ARTICLE[name], domain)
    return point
