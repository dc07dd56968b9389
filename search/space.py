"""The search space: the one list of hyperparameter names, the Optuna define-by-run function, the seed trial.

Contract: `HYPERPARAMETERS` names the hyperparameters in the order the
leaderboard, the model card and the CLI views show them; they are the fields
of the config's `space` section. `units` is one width per hidden layer,
sampled as `units_0` .. `units_{n-1}` (`trainable.model.width_key`); every
other name is sampled as itself. `BRIEF` is the subset a one-screen table
shows. `describe(sampled)` turns a trial's sampled values into one value per
name (`units` as a list of widths). `define_by_run(space)` returns a picklable
callable that suggests, in `HYPERPARAMETERS` order, each value for an Optuna
trial (the space's own definition: the one place that spells each name). `seed_point(space)` is the article's model (Dense 128-64 relu, no
dropout, Adam 1e-3, batch 32) projected into the space, for
`OptunaSearch(points_to_evaluate=[...])`. Imports no Ray and no TensorFlow.
"""

from __future__ import annotations

from typing import Any, Callable

from search.config import FloatRange, IntRange, SpaceConfig
from trainable.model import width_key

__all__ = ["BRIEF", "HYPERPARAMETERS", "define_by_run", "describe", "seed_point"]

HYPERPARAMETERS: tuple[str, ...] = tuple(SpaceConfig.model_fields)
BRIEF = ("units", "activation", "learning_rate", "batch_size", "optimizer")

_ARTICLE = {
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


class _DefineByRun:
    """Picklable define-by-run function (OptunaSearch pickles it with its state)."""

    def __init__(self, space: SpaceConfig) -> None:
        self.space = space

    def __call__(self, trial: Any) -> None:
        space = self.space
        n_layers = trial.suggest_int("n_layers", space.n_layers.low, space.n_layers.high)
        for i in range(n_layers):
            trial.suggest_int(width_key(i), space.units.low, space.units.high, log=space.units.log)
        trial.suggest_categorical("activation", list(space.activation))
        trial.suggest_float("dropout", space.dropout.low, space.dropout.high, log=space.dropout.log)
        trial.suggest_float("l2", space.l2.low, space.l2.high, log=space.l2.log)
        trial.suggest_float(
            "learning_rate", space.learning_rate.low, space.learning_rate.high, log=space.learning_rate.log
        )
        trial.suggest_categorical("batch_size", list(space.batch_size))
        trial.suggest_categorical("optimizer", list(space.optimizer))


def define_by_run(space: SpaceConfig) -> Callable[[Any], None]:
    return _DefineByRun(space)


def _clip(value: float, rng: IntRange | FloatRange) -> Any:
    return min(max(value, rng.low), rng.high)


def _choose(value: Any, choices: list[Any]) -> Any:
    return value if value in choices else choices[0]


def seed_point(space: SpaceConfig) -> dict[str, Any]:
    """The article's model, each value clipped into the space (or its first choice)."""
    widths = _ARTICLE["units"]
    n_layers = _clip(len(widths), space.n_layers)
    widths = (widths + [widths[-1]] * n_layers)[:n_layers]
    point: dict[str, Any] = {"n_layers": n_layers}
    point.update({width_key(i): _clip(w, space.units) for i, w in enumerate(widths)})
    point.update(
        activation=_choose(_ARTICLE["activation"], space.activation),
        dropout=float(_clip(_ARTICLE["dropout"], space.dropout)),
        l2=float(_clip(_ARTICLE["l2"], space.l2)),
        learning_rate=float(_clip(_ARTICLE["learning_rate"], space.learning_rate)),
        batch_size=_choose(_ARTICLE["batch_size"], space.batch_size),
        optimizer=_choose(_ARTICLE["optimizer"], space.optimizer),
    )
    return point
