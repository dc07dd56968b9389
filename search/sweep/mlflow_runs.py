"""Each configuration of each pack its own MLflow child run, as Ray Tune reports the pack's epochs.

Contract: `ConfigurationRuns(tracking_uri, parent_run_id)` is a Ray Tune
callback. At a pack's result, each configuration in it
(`trainable.names.member_metrics`) gets its child run on first sight (in the
parent's experiment; tags `mlflow.parentRunId`, `hpsearch.pack`,
`hpsearch.trial_id`; its sampled hyperparameters as parameters), then its
numeric metrics at step `epoch`, once per epoch it trained (a frozen
configuration's metrics repeat in later reports: not logged again). When the
pack ends, its runs end: FINISHED, or FAILED for the configurations a failed
pack left unfinished. Its state (which runs exist, the last epoch logged) is
part of Tune's saved state, so a resumed sweep continues the same runs.
Imports Ray (a `Callback` subclass) and MLflow inside methods: driver only.
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune import Callback

from search.config.space import describe
from search.review.sweep_results import sampled_configs
from trainable.names import DIVERGED, EPOCH, MEMBERS, STOPPED, member_metrics

__all__ = ["ConfigurationRuns"]


class ConfigurationRuns(Callback):
    def __init__(self, tracking_uri: str, parent_run_id: str) -> None:
        self.uri, self.parent = tracking_uri, parent_run_id
        self.runs: dict[str, str] = {}  # trial id -> MLflow run id
        self.logged: dict[str, int] = {}  # trial id -> last epoch logged
        self._client: Any = None

    def get_state(self) -> dict[str, Any]:
        return {"runs": dict(self.runs), "logged": dict(self.logged)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.runs, self.logged = dict(state["runs"]), dict(state["logged"])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    def client(self) -> Any:
        if self._client is None:
            import mlflow

            self._client = mlflow.MlflowClient(tracking_uri=self.uri)
        return self._client

    def _run(self, trial: Any, name: str, hp: dict[str, Any]) -> str:
        if name not in self.runs:
            client = self.client()
            experiment = client.get_run(self.parent).info.experiment_id
            tags = {"mlflow.parentRunId": self.parent, "hpsearch.pack": trial.trial_id, "hpsearch.trial_id": name}
            run = client.create_run(experiment, run_name=name, tags=tags)
            params = {k: ("-".join(map(str, v)) if isinstance(v, list) else v) for k, v in describe(hp).items()}
            for key, value in {**params, **hp}.items():
                client.log_param(run.info.run_id, key, value)
            self.runs[name] = run.info.run_id
        return self.runs[name]

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        from mlflow.entities import Metric

        sampled = sampled_configs(trial.config or {})
        for name, metrics in member_metrics(result).items():
            epoch = int(metrics.get(EPOCH, 0) or 0)
            if epoch <= self.logged.get(name, 0):
                continue
            run_id = self._run(trial, name, sampled.get(name, {}))
            numbers = [
                Metric(key, float(value), 0, epoch)
                for key, value in metrics.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
            ]
            self.client().log_batch(run_id, metrics=numbers)
            self.logged[name] = epoch

    def _end(self, trial: Any, failed: bool) -> None:
        last = member_metrics(getattr(trial, "last_result", None))
        for member in (trial.config or {}).get(MEMBERS) or []:
            name = str(member["id"])
            if name not in self.runs:
                continue
            own = last.get(name, {})
            done = bool(own.get(STOPPED) or own.get(DIVERGED)) or not failed
            self.client().set_terminated(self.runs[name], "FINISHED" if done else "FAILED")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, failed=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, failed=True)
