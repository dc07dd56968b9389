"""ASHA's rule for pack members (`trainable.trial.rungs`), side by side with Ray Tune's own `ASHAScheduler`.

Tune's scheduler is driven as its controller drives it (`on_trial_add`, `on_trial_result`,
`on_trial_complete` after a stop) with stub `Trial` objects: Ray is imported, no Ray
instance is started. The records are compared through the scheduler's one bracket
(`_brackets[0]._rungs`, private to Ray 2.60), the decisions through its public return.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest

from trainable.trial.rungs import Rungs


def _tune_scheduler(max_t: int, grace_period: int, reduction_factor: float, mode: str) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="epoch",
        metric="score",
        mode=mode,
        max_t=max_t,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
    )


def _tune_records(scheduler: Any) -> tuple[list[float], list[dict[str, float]]]:
    """The one bracket's milestones and records (scores: metric x sign), as Tune keeps them."""
    (bracket,) = scheduler._brackets
    return [m for m, _ in bracket._rungs], [dict(r) for _, r in bracket._rungs]


def _curve(rng: np.random.Generator, max_t: int) -> list[float]:
    """A noisy learning curve, rounded so that equal values (ties at the cutoff) occur."""
    ceiling, speed, noise = rng.uniform(0.5, 1.0), rng.uniform(0.05, 0.5), rng.uniform(0.0, 0.05)
    epochs = np.arange(1, max_t + 1)
    return list(np.round(ceiling * (1 - np.exp(-speed * epochs)) + rng.normal(0, noise, max_t), 2))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize(
    ("reduction_factor", "grace_period", "max_t"),
    [(2, 1, 32), (3, 1, 27), (2, 4, 40), (3, 4, 36), (3.0, 1, 20)],
)
def test_same_stops_and_records_as_tune_asha(
    seed: int, mode: str, reduction_factor: float, grace_period: int, max_t: int
) -> None:
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import TrialScheduler

    rng = np.random.default_rng(seed)
    scheduler = _tune_scheduler(max_t, grace_period, reduction_factor, mode)
    rungs = Rungs(max_t, grace_period, reduction_factor, mode)
    assert list(rungs.milestones) == _tune_records(scheduler)[0]

    # Packs of 1 to 4 members; at most 5 packs train at once, a new one starts when one ends.
    waiting = [[f"p{p}/m{m}" for m in range(rng.integers(1, 5))] for p in range(25)]
    trials: dict[str, Any] = {}
    curves: dict[str, list[float]] = {}
    epoch: dict[str, int] = {}
    live: list[list[str]] = []
    steps = stops = 0
    while waiting or live:
        while waiting and len(live) < 5:
            pack = waiting.pop(0)
            for member in pack:
                trials[member] = Trial("hpsearch_pack", trial_id=member, stub=True)
                scheduler.on_trial_add(None, trials[member])
                curves[member] = _curve(rng, max_t)
                epoch[member] = 0
            live.append(pack)
        pack = live[rng.integers(len(live))]
        # Mostly one epoch; sometimes more, so a member can pass milestones without reporting at them.
        step = int(rng.choice([1, 2, 3], p=[0.8, 0.1, 0.1]))
        results: dict[str, tuple[int, float | None]] = {}
        tune_stops: list[str] = []
        for member in pack:
            epoch[member] = min(epoch[member] + step, max_t)
            value = float(curves[member][epoch[member] - 1])
            if mode == "min":
                value = 1.0 - value  # a loss
            results[member] = (epoch[member], value)
            result = {"epoch": epoch[member], "score": value}
            decision = scheduler.on_trial_result(None, trials[member], result)
            if decision == TrialScheduler.STOP:
                scheduler.on_trial_complete(None, trials[member], result)  # as TuneController.stop_trial does
                tune_stops.append(member)
        stopped = rungs.decide(results)
        steps += 1
        for member in pack:
            if epoch[member] >= max_t:
                assert member in tune_stops and member not in stopped  # the end of training, not decide's
            else:
                assert (member in stopped) == (member in tune_stops), (steps, member, results[member])
        ended = [m for m in pack if m in tune_stops]
        stops += len([m for m in ended if epoch[m] < max_t])
        pack[:] = [m for m in pack if m not in ended]
        if not pack:
            live.remove(pack)

    tune_records = _tune_records(scheduler)[1]
    sign = 1.0 if mode == "max" else -1.0
    assert [{m: sign * v for m, v in r.items()} for r in rungs.state()["recorded"]] == tune_records
    assert [c for _, c in rungs.cutoffs()] == [
        None if not r else sign * float(np.nanpercentile(list(r.values()), (1 - 1 / reduction_factor) * 100))
        for r in tune_records
    ]
    assert stops > 0  # the rule did stop members early


def test_milestones_are_tunes() -> None:
    for max_t, grace_period, reduction_factor in itertools.product(
        [1, 2, 5, 9, 10, 16, 27, 81, 100, 243, 1000], [1, 2, 3, 4, 10], [1.5, 2, 3, 3.0, 4, math.e]
    ):
        if grace_period <= max_t:
            scheduler = _tune_scheduler(max_t, grace_period, reduction_factor, "max")
            milestones = list(Rungs(max_t, grace_period, reduction_factor, "max").milestones)
            assert milestones == _tune_records(scheduler)[0], (max_t, grace_period, reduction_factor)


def test_first_member_at_a_rung_is_never_stopped() -> None:
    rungs = Rungs(max_t=8, grace_period=1, reduction_factor=2, mode="max")
    assert rungs.milestones == (8, 4, 2, 1)
    assert rungs.decide({"a": (1, -100.0)}) == []  # alone at rung 1, however bad
    assert rungs.decide({"b": (1, 0.5), "c": (1, -200.0)}) == ["c"]  # b passes the cutoff of a; c does not
    assert rungs.decide({"a": (2, -100.0)}) == []  # first at rung 2
    assert rungs.decide({"a": (3, -999.0)}) == []  # no milestone at 3: nothing judged
    assert rungs.decide({"b": (2, 0.5)}) == []
    assert rungs.decide({"d": (2, -60.0)}) == ["d"]  # judged at rung 2: below the median of -100 and 0.5
    # then recorded at rung 1 too, which it skipped: Tune's on_trial_complete for a trial it stopped
    assert rungs.state()["recorded"] == [
        {},
        {},
        {"a": -100.0, "b": 0.5, "d": -60.0},
        {"a": -100.0, "b": 0.5, "c": -200.0, "d": -60.0},
    ]


def test_min_mode_stops_the_larger_loss_and_reports_cutoffs_as_losses() -> None:
    rungs = Rungs(max_t=9, grace_period=1, reduction_factor=3, mode="min")
    assert rungs.decide({"a": (1, 0.2)}) == []
    assert rungs.decide({"b": (1, 0.9), "c": (1, 0.1)}) == ["b"]  # b: 0.9 > cutoff 0.2; c: 0.1 < cutoff
    cutoff = dict(rungs.cutoffs())[1]
    assert cutoff == pytest.approx(-np.percentile([-0.2, -0.9, -0.1], 100 * 2 / 3))
    assert rungs.decide({"d": (1, cutoff)}) == []  # equal to the cutoff: kept (strictly worse is stopped)
    assert rungs.state()["recorded"][-1] == {"a": 0.2, "b": 0.9, "c": 0.1, "d": cutoff}


def test_nan_and_none_stop_nothing_and_record_nothing() -> None:
    rungs = Rungs(max_t=8, grace_period=1, reduction_factor=2, mode="max")
    rungs.decide({"a": (1, 0.9), "b": (1, 0.8)})
    assert rungs.decide({"c": (1, float("nan")), "d": (1, None), "e": (1, 0.0)}) == ["e"]
    assert rungs.state()["recorded"][-1] == {"a": 0.9, "b": 0.8, "e": 0.0}
    assert rungs.decide({"c": (1, 0.1)}) == ["c"]  # c is judged at its first number
    assert rungs.decide({"a": (2, float("nan"))}) == [] and rungs.state()["recorded"][-2] == {}


def test_members_not_listed_are_untouched() -> None:
    rungs = Rungs(max_t=4, grace_period=1, reduction_factor=2, mode="max")
    rungs.decide({"a": (1, 0.5), "b": (1, 0.4)})
    before = rungs.state()
    assert rungs.decide({}) == [] and rungs.state() == before


def test_state_round_trip_through_json() -> None:
    rng = np.random.default_rng(3)
    rungs = Rungs(max_t=27, grace_period=1, reduction_factor=3, mode="min")
    for t in range(1, 10):
        rungs.decide({f"m{i}": (t, float(rng.normal())) for i in range(12)})
    state = json.loads(json.dumps(rungs.state()))
    again = Rungs.from_state(state)
    assert again.state() == rungs.state() and again.milestones == rungs.milestones
    for t in range(10, 28):
        batch = {f"m{i}": (t, float(rng.normal())) for i in range(12)}
        assert again.decide(batch) == rungs.decide(batch)
    assert again.state() == rungs.state()
    with pytest.raises(ValueError, match="do not fit"):
        Rungs.from_state({**state, "grace_period": 3, "max_t": 27})


@pytest.mark.parametrize(
    "args",
    [(0, 1, 2, "max"), (4, 0, 2, "max"), (4, 5, 2, "max"), (4, 1, 1, "max"), (4, 1, 2, "maximize")],
)
def test_refuses_what_tune_refuses(args: tuple[int, int, float, str]) -> None:
    with pytest.raises(ValueError):
        Rungs(*args)
