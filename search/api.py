"""hpsearch from Python (a notebook, a script): run a sweep, open a finished one, predict with its model.

    import search.api as hp
    sweep = hp.run({"search": {"trials": 8}}, on_progress=print)
    sweep.leaderboard.head()                     # one row per configuration, best first
    model = hp.load_model(sweep.best_dir)        # or "results/NAME/best", or an `hpsearch export --out` folder
    model.predict(rows).frame                    # rows: a DataFrame with the training columns

Contract (the command line is a thin layer over these calls: `hpsearch run`,
`resume`, `leaderboard` and `predict` call them):
- `run(config, *, overrides, address, storage, overwrite, reuse_test,
  on_progress)` runs a sweep and returns its `Sweep` (`reuse_test`: score the
  test split even if another sweep of the results folder scored it). `config`: a YAML file, a dict shaped like one
  (merged over the defaults, `configs/breast_cancer.yaml`), a `Config`, or None
  (the defaults); `overrides`: dotted keys on top (`{"search.trials": 8}`).
  `on_progress(Progress)` is called each time a configuration finishes or fails.
- `resume(folder, *, address, on_progress)` continues an interrupted sweep.
- `open_sweep(folder)` opens a finished (or running) sweep's folder: `Sweep`.
- `Sweep`: `folder`, `config` (the typed `Config` it ran), `leaderboard`
  (a DataFrame, read from `leaderboard.csv`), `card` (the exported model's
  typed `ModelCard`, or None), `best_dir`, `report()` (writes `report.html` if
  it is missing, returns its path), `wall_seconds` and `interrupted` (after `run`).
- `load_model(model_dir)` -> `search.export.predict.ExportedModel`: `card`,
  `classes`, `predict(frame)` -> `Prediction` (`frame`: one `proba_<class>`
  column per class and `predicted`; `threshold`; `rule`), the numbers of `hpsearch predict`.
User mistakes raise `trainable.errors.HpsearchError` (one line, as the CLI prints
it). Importing this module imports none of Ray, TensorFlow or scikit-learn;
each call imports what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from search.config.schema import Config
from search.records.model_card import ModelCard, read_card
from search.records.paths import BEST_DIR, CARD_FILE, CONFIG_FILE, REPORT_FILE
from trainable.errors import HpsearchError

if TYPE_CHECKING:
    from search.export.predict import ExportedModel
    from search.sweep.driver import SweepOutcome
    from trainable.data.dataset import Dataset

__all__ = ["HpsearchError", "Progress", "Sweep", "load_model", "open_sweep", "resume", "run"]


@dataclass(frozen=True)
class Progress:
    """A running sweep's progress: configurations finished (or failed for good) of `total`, and the best
    value of the ranking `metric` so far (None before the first)."""

    done: int
    total: int
    best: float | None
    metric: str


OnProgress = Callable[[Progress], None]


@dataclass
class Sweep:
    """A sweep's results folder, read through its files (see the module docstring). `outcome`: the driver's
    account of the `run` or `resume` that returned it (None for `open_sweep`)."""

    folder: Path
    outcome: SweepOutcome | None = None

    @property
    def wall_seconds(self) -> float | None:
        return self.outcome.wall_seconds if self.outcome is not None else None

    @property
    def interrupted(self) -> bool:
        """Stopped by Ctrl-C: the finished configurations are kept; `resume` continues."""
        return self.outcome is not None and self.outcome.interrupted

    @property
    def config(self) -> Config:
        from search.config.load import load_saved_config

        return load_saved_config(self.folder / CONFIG_FILE)

    @property
    def leaderboard(self) -> pd.DataFrame:
        from search.review.leaderboard import read_leaderboard

        return read_leaderboard(self.folder)

    @property
    def best_dir(self) -> Path | None:
        best = self.folder / BEST_DIR
        return best if (best / CARD_FILE).is_file() else None

    @property
    def card(self) -> ModelCard | None:
        return read_card(self.best_dir) if self.best_dir is not None else None

    def report(self) -> Path:
        """`report.html` (written now if the folder has none yet)."""
        path = self.folder / REPORT_FILE
        if not path.is_file():
            from search.review.report import write_report

            return Path(write_report(self.folder))
        return path


def _config(config: str | Path | Mapping[str, Any] | Config | None, overrides: dict[str, Any] | None) -> Config:
    from search.config.load import load_config

    if isinstance(config, Config):
        if not overrides:
            return config
        import yaml

        return load_config(yaml.safe_load(config.to_yaml()), overrides)  # the round trip of a sweep's config.yaml
    return load_config(config, overrides)


def _on_update(metric: str, on_progress: OnProgress | None) -> Callable[[int, int, float | None], None] | None:
    if on_progress is None:
        return None
    return lambda done, total, best: on_progress(Progress(done, total, best, metric))


def _sweep(outcome: SweepOutcome) -> Sweep:
    return Sweep(Path(outcome.out_dir), outcome)


def run(
    config: str | Path | Mapping[str, Any] | Config | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    address: str | None = None,
    storage: str | None = None,
    overwrite: bool = False,
    reuse_test: bool = False,
    on_progress: OnProgress | None = None,
    on_start: Callable[[Dataset, list[str]], None] | None = None,
) -> Sweep:
    """Run a sweep (see the module docstring). `on_start(data, notes)`: called once the data is loaded and
    the folder prepared (the CLI prints its summary line there)."""
    from search.sweep.driver import run_sweep

    cfg = _config(config, overrides)
    update = _on_update(cfg.search.metric, on_progress)
    outcome = run_sweep(
        cfg,
        address=address,
        storage=storage,
        overwrite=overwrite,
        reuse_test=reuse_test,
        on_start=on_start,
        on_update=update,
    )
    return _sweep(outcome)


def resume(
    folder: str | Path,
    *,
    address: str | None = None,
    on_progress: OnProgress | None = None,
    on_start: Callable[[Config, Dataset, list[str]], None] | None = None,
) -> Sweep:
    """Continue an interrupted sweep in `folder`: finished configurations are kept, the others run."""
    from search.sweep.driver import resume_sweep

    metric = open_sweep(folder).config.search.metric if (Path(folder) / CONFIG_FILE).is_file() else ""
    outcome = resume_sweep(folder, address=address, on_start=on_start, on_update=_on_update(metric, on_progress))
    return _sweep(outcome)


def open_sweep(folder: str | Path) -> Sweep:
    """A sweep's folder (`results/NAME`); refused in one line if it holds no sweep."""
    path = Path(folder)
    if not path.is_dir():
        raise HpsearchError(f"{path}: results directory not found")
    if not (path / CONFIG_FILE).is_file():
        raise HpsearchError(f"{path / CONFIG_FILE}: missing; is {path} a sweep's results folder?")
    return Sweep(path)


def load_model(model_dir: str | Path) -> ExportedModel:
    """An exported model (`results/NAME/best`, or an `hpsearch export --out` folder), ready to predict."""
    from search.export.predict import ExportedModel

    return ExportedModel(model_dir)
