"""Does the driver keep a cluster busy? The real driver path on a simulated cluster of this machine.

    uv run python benchmarks/driver.py [--trials 2000] [--slots 64] [--trial-seconds 2] [--epochs 4]
        [--pack 1] [--grace N] [--json FILE] [--profile FILE]

Runs what `search.sweep.driver.run_sweep` runs up to the final leaderboard: the
config (`configs/breast_cancer.yaml` with the options above; the built-in
table), a local Ray declaring `--slots` logical CPUs (`init_ray(...,
num_cpus=)`), the `Tuner` of `search.sweep.tuner.make_tuner` (Optuna's TPE
through `PackSearch` on its SQLite `study.db`, the early-stopping referee, the
live leaderboard and its callbacks, `attach`ed as during `hpsearch run`), then
the final leaderboard (`rows_of_results`, `build_leaderboard`). The export
and the report are left out: they do not grow with the trials' rate. Each
trial runs `benchmarks/standin.py`'s stand-in, which trains nothing: it sleeps
`--trial-seconds` split over `--epochs` epochs, asks the referee each epoch
(ASHA's first rung at `--grace` epochs; the default, the config's grace
period capped at the epochs, stops nobody but still records every result),
and reports made-up metrics through `ray.tune.report`.

Prints and (`--json`) writes:
- `trials_per_s`: configurations finished per second, sustained: between the
  10th and the 90th percentile of their finishing times (Ray's start and the
  last stragglers left out);
- `busy_share`: the share of slot time, over the same window, spent inside a
  trial function (`--slots` slots);
- `driver_cpu_s_per_trial`: the driver process's CPU seconds (user + system,
  every thread; `getrusage(RUSAGE_SELF)`) from the `Tuner`'s creation to the
  final leaderboard, per configuration;
- `ask_ms`, `tell_ms`: the median milliseconds per configuration of the
  searcher's ask (`PackSearch.suggest` of a new pack: Optuna's `Study.ask`
  and the space's suggestions) and tell (`PackSearch.on_trial_complete`),
  over the 50 configurations up to the 100th, 1,000th and 2,000th (those
  reached), keyed by that count;
- `driver_peak_rss_mb`: the driver's peak resident memory (`ru_maxrss`, KiB
  on Linux);
- `trials` (configurations asked), `unique_trials` (distinct trial ids in the
  final leaderboard: every configuration exactly once when both equal the
  leaderboard's rows).
Also printed (not in `--json`): `machine_cpu_s_per_trial`, the CPU seconds
the whole machine spent (`/proc/stat`: every process, Ray's workers, raylet
and GCS included) over the same span, per configuration, and
`others_cpu_s_per_trial`, that minus the driver's: on a quiet machine, what
a trial costs outside the driver (the two together bound the trials per
second this machine can run at all: its cores over their sum); and
`snapshots`, Tune's experiment snapshots taken and the seconds they took
(`search.sweep.snapshots`).
Also printed: the leaderboard's rows and statuses, the most trials running at
once and the worker processes that ran them (Ray must start one per slot).
`--profile FILE` saves a cProfile of the driver's main thread during `fit`
(Tune's control loop, the searcher and the callbacks run there).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

COUNTS = (100, 1000, 2000)  # trials so far at which ask and tell are reported
WINDOW = 50  # calls whose median is reported at each count


class SearcherTimes:
    """Milliseconds per configuration of `PackSearch`'s asks (`suggest` of a new pack: Optuna's `Study.ask`
    and the space's suggestions, for each member) and tells (`on_trial_complete`), in order, while
    installed; a pack's time is shared equally among its members."""

    def __init__(self) -> None:
        from search.sweep.optuna_searcher import PackSearch

        self.cls = PackSearch
        self.ask: list[float] = []
        self.tell: list[float] = []
        self.originals = {name: getattr(PackSearch, name) for name in ("suggest", "on_trial_complete")}

    def install(self) -> None:
        suggest, complete, ask, tell = *self.originals.values(), self.ask, self.tell

        @functools.wraps(suggest)
        def timed_suggest(searcher: Any, trial_id: str) -> Any:
            new, t0 = trial_id not in searcher._packs, time.perf_counter()
            config = suggest(searcher, trial_id)
            _share(ask, time.perf_counter() - t0, len(searcher._packs.get(trial_id, ())) if new else 0)
            return config

        @functools.wraps(complete)
        def timed_complete(searcher: Any, trial_id: str, *args: Any, **kwargs: Any) -> None:
            size = 0 if trial_id in searcher._completed_trials else len(searcher._packs.get(trial_id, ()))
            t0 = time.perf_counter()
            complete(searcher, trial_id, *args, **kwargs)
            _share(tell, time.perf_counter() - t0, size)

        self.cls.suggest, self.cls.on_trial_complete = timed_suggest, timed_complete

    def remove(self) -> None:
        for name, original in self.originals.items():
            setattr(self.cls, name, original)


def _share(times: list[float], seconds: float, members: int) -> None:
    times.extend([1000 * seconds / members] * members if members else [])


def medians(ms: list[float]) -> dict[str, float]:
    """{count: median ms of the `WINDOW` configurations up to the count-th}, for the counts reached."""
    return {str(n): round(statistics.median(ms[max(0, n - WINDOW) : n]), 2) for n in COUNTS if len(ms) >= n}


def config(args: argparse.Namespace, results: Path) -> Any:
    from search.config.load import load_config

    cfg = load_config(
        None,
        {
            "name": "driver-bench",
            "results_dir": str(results),
            "search.trials": args.trials,
            "search.seed": args.seed,
            "search.max_concurrent": args.slots,
            "search.pack": args.pack,
            "search.cv.folds": 0,
            "train.max_epochs": args.epochs,
            "export.baselines": [],
        },
    )
    if args.grace is not None:
        es = cfg.search.early_stopping.model_copy(update={"grace_period": args.grace})
        cfg = cfg.model_copy(update={"search": cfg.search.model_copy(update={"early_stopping": es})})
    return cfg


def sustained(results: Any, slots: int) -> tuple[float, float]:
    """(configurations per second, busy share of the slots) between the 10th and 90th percentile of the
    configurations' finishing times (see the module)."""
    from trainable.names import PACK_SIZE

    spans = []  # (entered, finished, configurations) per Tune trial
    for result in results:
        metrics = result.metrics or {}
        if "entered_at" in metrics and "reported_at" in metrics:
            spans.append((metrics["entered_at"], metrics["reported_at"], int(metrics.get(PACK_SIZE, 1))))
    ends = sorted(end for _, end, n in spans for _ in range(n))
    if len(ends) < 10:
        return float("nan"), float("nan")
    lo, hi = ends[len(ends) // 10], ends[(9 * len(ends)) // 10]
    done = sum(1 for end in ends if lo < end <= hi)
    busy = sum(max(0.0, min(end, hi) - max(start, lo)) for start, end, _ in spans)
    return done / (hi - lo), busy / (slots * (hi - lo))


def concurrency_seen(results: Any) -> tuple[int, int]:
    """(the most trials inside their trial function at once, the distinct worker processes that ran them)."""
    spans = [(m["entered_at"], m["reported_at"], m.get("pid")) for m in (r.metrics or {} for r in results) if m]
    events = sorted([(start, 1) for start, _, _ in spans] + [(end, -1) for _, end, _ in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak, len({pid for _, _, pid in spans})


def drive(cfg: Any, trial: Callable[..., None], profile: Path | None) -> tuple[Any, float]:
    """`fit` the sweep's Tuner as `run_sweep` does, then write the final leaderboard; (the leaderboard,
    the driver's CPU seconds from the Tuner's creation on)."""
    from search.records.paths import LEADERBOARD_FILE
    from search.review.leaderboard import build_leaderboard, write_leaderboard
    from search.sweep.live import LiveLeaderboard, attach
    from search.sweep.tune_rows import rows_of_results
    from search.sweep.tuner import make_tuner, seal_study, sweep_pack_sizes

    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    data = cfg.load_data()
    cpu0, machine0 = _cpu_seconds(), _machine_cpu_seconds()
    sizes = sweep_pack_sizes(cfg, data)
    live = LiveLeaderboard(out, cfg.train.max_epochs, cfg.search.trials, cfg.search.ranking, sizes)
    tuner = make_tuner(cfg, data, out, [live], (str(out), "tune"), trial)
    with attach(out, None):
        if profile is None:
            results = tuner.fit()
        else:
            import cProfile

            with cProfile.Profile() as prof:
                results = tuner.fit()
            prof.dump_stats(profile)
    rows, _ = rows_of_results(results, cfg.train.max_epochs, out)
    board = build_leaderboard(rows, cfg.search.ranking)
    write_leaderboard(board, out / LEADERBOARD_FILE)
    seal_study(out)
    return (results, board), (_cpu_seconds() - cpu0, _machine_cpu_seconds() - machine0)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu_seconds() -> float:
    """CPU seconds every process of the machine has spent (`/proc/stat`: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from standin import standin_trial

    from search.sweep.cluster import init_ray, release_ray
    from search.sweep.snapshots import current_budget

    with tempfile.TemporaryDirectory(prefix="hpsearch-driver-bench-") as folder:
        cfg = config(args, Path(folder))
        started = init_ray(None, cfg, num_cpus=args.slots)
        times = SearcherTimes()
        times.install()
        try:
            (results, board), (cpu, machine) = drive(cfg, standin_trial(args.trial_seconds), args.profile)
        finally:
            times.remove()
            stopping = release_ray(started)
        per_s, busy = sustained(results, args.slots)
        running, actors = concurrency_seen(results)
        budget = current_budget()
        if stopping is not None:
            stopping.join()
    return {
        "trials_per_s": round(per_s, 2),
        "busy_share": round(busy, 3),
        "driver_cpu_s_per_trial": round(cpu / max(1, len(board)), 4),
        "machine_cpu_s_per_trial": round(machine / max(1, len(board)), 4),
        "others_cpu_s_per_trial": round((machine - cpu) / max(1, len(board)), 4),
        "ask_ms": medians(times.ask),
        "tell_ms": medians(times.tell),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trials": len(times.ask),
        "unique_trials": int(board["trial_id"].nunique()),
        "leaderboard_rows": len(board),
        "peak_running": running,
        "trial_processes": actors,
        "statuses": {str(k): int(v) for k, v in board["status"].value_counts().items()},
        "snapshots": None
        if budget is None
        else f"{budget.snapshots} taking {budget.spent:.1f} s, the last {budget.last_s:.2f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=64, help="logical CPUs Ray declares (one trial each)")
    parser.add_argument("--trial-seconds", type=float, default=2.0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--pack", type=int, default=1, help="configurations per Tune trial")
    parser.add_argument("--grace", type=int, default=None, help="ASHA's grace period (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="cProfile of the driver's fit")
    args = parser.parse_args()
    numbers = measure(args)
    keys = ("trials_per_s", "busy_share", "driver_cpu_s_per_trial", "ask_ms", "tell_ms", "driver_peak_rss_mb")
    extra = ("machine_cpu_s_per_trial", "others_cpu_s_per_trial", "leaderboard_rows", "peak_running")
    for key in (*keys, "trials", "unique_trials", *extra, "trial_processes", "statuses", "snapshots"):
        print(f"{key:24s} {numbers[key]}")
    if args.json is not None:
        wanted = (*keys, "trials", "unique_trials")
        args.json.write_text(json.dumps({k: numbers[k] for k in wanted}, indent=2) + "\n")


if __name__ == "__main__":
    main()
