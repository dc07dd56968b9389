"""MLflow, optional: a sweep is one parent run, each trial a child run, the exported model a registered version.

Contract (`mlflow.tracking_uri`, or `hpsearch run --mlflow URI`, turns it on):
- `check_mlflow()` refuses in one line, before anything is written, when
  MLflow is not installed: `uv sync --extra mlflow` installs it;
- `SweepTracking.start(cfg, out)` opens the sweep's parent run in the
  experiment `mlflow.experiment` (default: the sweep's name), tagged with the
  sweep folder, and returns it; `SweepTracking.resume(cfg, run_id)` takes up
  a resumed sweep's parent run (its id is in `sweep.json`), marking KILLED
  the child runs of trials that a killed driver left RUNNING;
- `callback()` is a Ray Tune callback (`ConfigurationRuns`) that makes each
  configuration of each pack a child run (`mlflow.parentRunId`, tagged with
  its pack, `hpsearch.pack`) with its sampled hyperparameters as parameters
  and its metrics at every epoch it trained; a pack that fails for good marks
  its unfinished configurations' runs FAILED;
- `finish(out, card)` logs, on the parent run, the exported model's test
  metrics, its folder (`best/`: model, model card JSON and Markdown, the
  predictions) and `report.html` as artifacts, and the model as an MLflow
  pyfunc model over its SavedModel (`search.export.mlflow_pyfunc`: served by
  `mlflow models serve` without hpsearch), registered under
  `mlflow.registered_model` when that is set, and ends the run.
MLflow is imported inside functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.config.schema import Config
from search.records.model_card import ModelCard
from search.records.paths import BEST_DIR, CARD_FILE, REPORT_FILE, SERVING_DIR
from trainable.errors import HpsearchError

__all__ = ["SweepTracking", "check_mlflow"]

INSTALL = "uv sync --extra mlflow"


def _uri(cfg: Config) -> str:
    if cfg.mlflow.tracking_uri is None:
        raise HpsearchError("mlflow.tracking_uri: not set; MLflow tracking needs a tracking URI")
    return cfg.mlflow.tracking_uri


def check_mlflow() -> None:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise HpsearchError(f"--mlflow: MLflow is not installed; install it with `{INSTALL}` and run again") from None


class SweepTracking:
    def __init__(self, cfg: Config, run_id: str) -> None:
        self.cfg, self.run_id = cfg, run_id

    @classmethod
    def start(cls, cfg: Config, out: Path) -> SweepTracking:
        import mlflow

        mlflow.set_tracking_uri(_uri(cfg))
        experiment = mlflow.set_experiment(cfg.mlflow.experiment or cfg.name)
        client = mlflow.MlflowClient()
        run = client.create_run(
            experiment.experiment_id,
            run_name=cfg.name,
            tags={"hpsearch.sweep": str(out), "hpsearch.metric": cfg.search.metric},
        )
        client.log_param(run.info.run_id, "trials", cfg.search.trials)
        return cls(cfg, run.info.run_id)

    @classmethod
    def resume(cls, cfg: Config, run_id: str) -> SweepTracking:
        """The parent run again; child runs a killed driver left RUNNING are marked KILLED (Tune's restored
        callback opens a new child run for each trial it continues)."""
        import mlflow

        mlflow.set_tracking_uri(_uri(cfg))
        client = mlflow.MlflowClient()
        parent = client.get_run(run_id)
        orphans = client.search_runs(
            [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'"
        )
        for run in orphans:
            client.set_terminated(run.info.run_id, "KILLED")
        return cls(cfg, run_id)

    def callback(self) -> Any:
        from search.sweep.mlflow_runs import ConfigurationRuns

        return ConfigurationRuns(_uri(self.cfg), self.run_id)

    def finish(self, out: Path, card: ModelCard | None) -> None:
        import mlflow

        client = mlflow.MlflowClient()
        if card is not None:
            test = card.test
            for key in ("auroc", "auprc", "brier", "loss", "accuracy"):
                value = getattr(test, key)
                if isinstance(value, (int, float)):
                    client.log_metric(self.run_id, f"test_{key}", float(value))
            client.set_tag(self.run_id, "hpsearch.trial_id", card.trial_id)
            client.log_artifacts(self.run_id, str(out / BEST_DIR), artifact_path=BEST_DIR)
            self._log_model(out / BEST_DIR)
        if (out / REPORT_FILE).is_file():
            client.log_artifact(self.run_id, str(out / REPORT_FILE))
        client.set_terminated(self.run_id, "FINISHED")

    def _log_model(self, best: Path) -> None:
        """The exported model as a pyfunc model that serves without hpsearch (`search.export.mlflow_pyfunc`)."""
        import importlib.util
        from importlib import metadata

        import mlflow

        spec = importlib.util.find_spec("search.export.mlflow_pyfunc")  # found, not imported: MLflow runs it
        assert spec is not None and spec.origin is not None
        requirements = [f"{p}=={metadata.version(p)}" for p in ("mlflow", "tensorflow", "numpy", "pandas")]
        with mlflow.start_run(run_id=self.run_id):
            mlflow.pyfunc.log_model(
                name="model",
                python_model=spec.origin,
                artifacts={"serving": str(best / SERVING_DIR), "card": str(best / CARD_FILE)},
                pip_requirements=requirements,
                registered_model_name=self.cfg.mlflow.registered_model,
            )
