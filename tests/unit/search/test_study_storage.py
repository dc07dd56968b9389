"""`DriverStudyStorage`: the same study as Optuna's own cached SQLite storage, for far fewer rows read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.storages._cached_storage import _CachedStorage

from search.config.load import load_config
from search.config.space import define_by_run, seed_point
from search.sweep.study_storage import DriverStudyStorage

RUNNING_AT_ONCE = 8  # configurations asked before the oldest is told, as with 8 slots


class RowsRead:
    """Counts the trials the SQLite backend reads back (wraps its `_get_trials` on this instance)."""

    def __init__(self, backend: RDBStorage) -> None:
        self.rows = 0
        read = backend._get_trials

        def counted(*args: Any, **kwargs: Any) -> Any:
            trials = read(*args, **kwargs)
            self.rows += len(trials)
            return trials

        backend._get_trials = counted  # type: ignore[method-assign]


def _sweep(storage: Any, trials: int) -> list[dict[str, Any]]:
    """A seeded TPE sweep of the default space with `RUNNING_AT_ONCE` configurations in flight (the seed
    point first, a failure now and then); the sampled configurations, in order."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_config().space
    study = optuna.create_study(
        storage=storage, sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5), study_name="s"
    )
    study.enqueue_trial(seed_point(space))
    suggest, running, sampled = define_by_run(space), [], []
    for n in range(trials):
        trial = study.ask()
        suggest(trial)
        sampled.append(dict(trial.params))
        running.append(trial)
        if len(running) == RUNNING_AT_ONCE or n == trials - 1:
            for told in running[: len(running) // 2 or 1]:
                lr, width = told.params["learning_rate"], told.params["units_0"]
                if told.number % 7 == 3:
                    study.tell(told, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(told, (lr - 3e-3) ** 2 + (width - 100) ** 2 / 1e6)
            running = running[len(running) // 2 or 1 :]
    return sampled


def _stored(path: Path) -> list[tuple[int, str, Any, dict[str, Any]]]:
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{path}")
    return [(t.number, t.state.name, t.values, t.params) for t in study.get_trials(deepcopy=False)]


def test_the_same_sweep_as_optunas_cached_storage_for_a_fraction_of_the_rows_read(tmp_path):
    ours, theirs = RDBStorage(f"sqlite:///{tmp_path / 'ours.db'}"), RDBStorage(f"sqlite:///{tmp_path / 'theirs.db'}")
    rows_ours, rows_theirs = RowsRead(ours), RowsRead(theirs)

    driver = DriverStudyStorage(ours)
    sampled_ours = _sweep(driver, 40)
    sampled_theirs = _sweep(_CachedStorage(theirs), 40)
    driver.flush()  # (the running trials' sampled values wait for the next write)

    assert sampled_ours == sampled_theirs  # TPE saw the same trials at every ask
    stored = _stored(tmp_path / "ours.db")
    assert stored == _stored(tmp_path / "theirs.db")  # and study.db holds the same study
    assert len(stored) == 40 and {s for _, s, _, _ in stored} >= {"COMPLETE", "FAIL", "RUNNING"}
    assert rows_ours.rows < rows_theirs.rows / 4


def test_a_request_for_running_trials_reads_them_back(tmp_path):
    backend = RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.create_study(storage=DriverStudyStorage(backend), study_name="s")
    first = study.ask()
    study.tell(first, 1.0)
    second = study.ask()
    second.suggest_float("x", 0, 1)  # a param written after the trial was cached

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))

    assert [t.number for t in running] == [1] and "x" in running[0].params
    assert [(t.number, t.value) for t in complete] == [(0, 1.0)]


def test_unpickled_it_reads_back_the_trials_unfinished_when_it_was_pickled(tmp_path):
    # Tune restores a resumed sweep's searcher from its last snapshot: trials told after it are in study.db.
    import pickle

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=DriverStudyStorage(RDBStorage(url)), study_name="s")
    asked = study.ask()
    asked.suggest_float("x", 0, 1)
    study.get_trials(deepcopy=False)  # cached while RUNNING
    snapshot = pickle.dumps(study._storage)
    optuna.load_study(study_name="s", storage=url).tell(asked.number, 0.5)  # the old driver, after the snapshot

    restored = optuna.load_study(study_name="s", storage=pickle.loads(snapshot))

    complete = restored.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert [(t.number, t.value) for t in complete] == [(0, 0.5)]
    assert "x" in complete[0].params  # pickling wrote the value sampled for it


def test_unpickled_it_reads_the_trials_created_after_it_was_pickled(tmp_path):
    # The last snapshot was taken with nothing running; the old driver then asked and told another trial.
    import pickle

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=DriverStudyStorage(RDBStorage(url)), study_name="s")
    study.tell(study.ask(), 1.0)
    study.get_trials(deepcopy=False)
    snapshot = pickle.dumps(study._storage)
    old = optuna.load_study(study_name="s", storage=url)
    old.tell(old.ask(), 0.5)

    restored = optuna.load_study(study_name="s", storage=pickle.loads(snapshot))

    assert [(t.number, t.value) for t in restored.get_trials()] == [(0, 1.0), (1, 0.5)]
    assert restored._storage.get_trial(restored.trials[1]._trial_id).value == 0.5
