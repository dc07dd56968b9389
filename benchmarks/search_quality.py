"""Does the windowed TPE search as well as plain TPE? Real sweeps on the built-in table, in ONE run.

    uv run python benchmarks/search_quality.py [--samplers window,plain] [--seeds 0,1,2] [--trials 300]
        [--max-epochs E] [--folds K] [--json FILE]

Runs real sweeps (Ray, TensorFlow training, ASHA, packs: the sweep as it is)
on the built-in table through `search.api.run(None, overrides=...)`, one per
sampler and seed (`search.seed`; the order of the samplers alternates from
seed to seed), `search.metric: val_loss` (min). Samplers:
- `window`: the sweep's own sampler (`search.sweep.tuner._sampler`:
  `WindowTPESampler`, TPE on the `TPE_BEST` best and `TPE_WINDOW` most recent
  finished trials past `TPE_WINDOW + TPE_BEST` = 225 of them);
- `plain`: the sampler before the window, `TPESampler(seed=seed,
  n_startup_trials=min(10, trials))`, put in place of
  `search.sweep.tuner._sampler` in this process only (a BENCHMARK-ONLY
  monkeypatch, undone after the sweep).
Up to 225 finished trials the two are the same sampler with the same seed:
their difference there is the run-to-run noise of asynchronous real sweeps.
`--max-epochs` and `--folds` shorten the schedule (`train.max_epochs`,
`search.cv.folds`; unset: the defaults). Each sweep writes to its own folder
(`<sampler>-seed<seed>`) in a temporary directory, deleted at the end; the
export is kept cheap (`export.baselines: []`, `export.n_boot: 100`).

Prints each sweep as soon as it finishes, then per sampler and seed:
- `best@225`, `best@N`: the best `val_loss` among the Optuna trials (`study.db`,
  COMPLETE ones) whose `number` is below 225 and below N = `--trials` (the
  first 225 and N configurations asked; number 0 is the enqueued seed
  trial); `--trials` below 225 cuts both at N;
- `wall s` (`Sweep.wall_seconds`: the whole `run`, Ray start and export
  included) and `fit s` (`timings.json`: the trials alone);
- COMPLETE / asked Optuna trials, and the leaderboard's best `val_loss` (a
  check: it equals `best@N` when every trial was told);
then per sampler the mean, min..max and SD over seeds of `best@225`,
`best@N` and `wall s`; and the difference window - plain per seed and its
mean (below 0: the window searched better). `--json FILE` writes the same.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLERS = ("window", "plain")
MEASURES = ("best_225", "best_n", "wall_s")


def plain_sampler(cfg: Any) -> Any:
    """What `search.sweep.tuner._sampler` returned before the window (single objective)."""
    import optuna

    return optuna.samplers.TPESampler(seed=cfg.search.seed, n_startup_trials=min(10, cfg.search.trials))


@contextlib.contextmanager
def sampler_in_place(name: str, used: list[str]) -> Iterator[None]:
    """BENCHMARK-ONLY: `search.sweep.tuner._sampler` for the sweep `name` (`plain` replaces it, `window` keeps
    it), wrapped to record the class it builds in `used`; restored afterwards."""
    import search.sweep.tuner as tuner

    original = tuner._sampler
    build = plain_sampler if name == "plain" else original

    def recorded(cfg: Any) -> Any:
        sampler = build(cfg)
        used.append(type(sampler).__name__)
        return sampler

    tuner._sampler = recorded
    try:
        yield
    finally:
        tuner._sampler = original


def study_bests(out: Path, name: str, cuts: tuple[int, int]) -> dict[str, Any]:
    """The best COMPLETE value among trials numbered below each cut, and the study's trial counts."""
    import optuna

    from search.records.paths import study_url

    storage = optuna.storages.RDBStorage(study_url(out))
    try:
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    finally:
        storage.engine.dispose()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    bests = [min((t.value for t in done if t.number < cut), default=None) for cut in cuts]
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    return {"best_225": bests[0], "best_n": bests[1], "asked": len(trials), "states": states}


def one_sweep(sampler: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import pandas as pd

    import search.api as hp
    from search.records.paths import TIMINGS_FILE
    from search.sweep.tuner import TPE_BEST, TPE_WINDOW

    name = f"{sampler}-seed{seed}"
    overrides = {
        "name": name,
        "results_dir": str(folder),
        "search.trials": args.trials,
        "search.seed": seed,
        "search.metric": "val_loss",
        "train.max_epochs": args.max_epochs,
        "search.cv.folds": args.folds,
        "export.baselines": [],
        "export.n_boot": 100,
    }
    started = time.perf_counter()

    def progress(p: Any) -> None:
        if p.done % 25 == 0 or p.done == p.total:
            print(f"  {name}: {p.done}/{p.total} at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    used: list[str] = []
    with sampler_in_place(sampler, used):
        sweep = hp.run(None, overrides=overrides, on_progress=progress)
    cuts = (min(TPE_WINDOW + TPE_BEST, args.trials), args.trials)
    result = study_bests(sweep.folder, name, cuts)
    board = sweep.leaderboard
    timings = json.loads((sweep.folder / TIMINGS_FILE).read_text())
    values = pd.to_numeric(board["val_loss"], errors="coerce").dropna()
    result.update(
        sampler_class=sorted(set(used)),
        wall_s=round(float(sweep.wall_seconds or 0.0), 1),
        fit_s=round(timings["fit_end"] - timings["fit_start"], 1),
        leaderboard_rows=len(board),
        leaderboard_status=board["status"].value_counts().to_dict(),
        leaderboard_best=float(values.min()) if len(values) else None,
        interrupted=sweep.interrupted,
    )
    return result


def _fmt(value: float | None, spec: str = ".4g") -> str:
    """Four significant digits by default: the best losses of a long sweep can be ~1e-16."""
    return "-" if value is None else f"{value:{spec}}"


def summarise(runs: dict[str, dict[int, dict[str, Any]]], seeds: list[int]) -> tuple[dict, dict]:
    """Per sampler: mean, min, max and SD over seeds of each measure; window - plain per seed and its mean."""
    summary: dict[str, dict[str, dict[str, float | None]]] = {}
    for sampler, by_seed in runs.items():
        summary[sampler] = {}
        for key in MEASURES:
            xs = [r[key] for r in by_seed.values() if r[key] is not None]
            summary[sampler][key] = {
                "mean": statistics.mean(xs) if xs else None,
                "min": min(xs, default=None),
                "max": max(xs, default=None),
                "sd": statistics.stdev(xs) if len(xs) > 1 else None,
            }
    difference: dict[str, dict[str, Any]] = {}
    if all(s in runs for s in SAMPLERS):
        for key in MEASURES:
            per = {
                seed: runs["window"][seed][key] - runs["plain"][seed][key]
                for seed in seeds
                if seed in runs["window"]
                and seed in runs["plain"]
                and None not in (runs["window"][seed][key], runs["plain"][seed][key])
            }
            difference[key] = {"per_seed": per, "mean": statistics.mean(per.values()) if per else None}
    return summary, difference


def print_tables(runs: dict, summary: dict, difference: dict, n: int, cut: int) -> None:
    specs = {"best_225": ".4g", "best_n": ".4g", "wall_s": ".1f"}
    head = f"{'sampler':<8} {'seed':>4} {f'best@{cut}':>9} {f'best@{n}':>9} {'wall s':>8} {'fit s':>8}"
    print(f"\n{head}  complete/asked")
    for sampler, by_seed in runs.items():
        for seed, r in by_seed.items():
            print(
                f"{sampler:<8} {seed:>4} {_fmt(r['best_225']):>9} {_fmt(r['best_n']):>9} {r['wall_s']:>8.1f} "
                f"{r['fit_s']:>8.1f}  {r['states'].get('COMPLETE', 0)}/{r['asked']}"
            )
    print(f"\n{'sampler':<8} {'measure':<9} {'mean':>9} {'min':>9} {'max':>9} {'SD':>9}")
    for sampler, measures in summary.items():
        for key, s in measures.items():
            d = specs[key]
            label = {"best_225": f"best@{cut}", "best_n": f"best@{n}"}.get(key, key)
            print(
                f"{sampler:<8} {label:<9} {_fmt(s['mean'], d):>9} {_fmt(s['min'], d):>9} {_fmt(s['max'], d):>9} "
                f"{_fmt(s['sd'], d):>9}"
            )
    if difference:
        print("\nwindow - plain (below 0: the window is better / faster)")
        for key, diff in difference.items():
            d = specs[key]
            label = {"best_225": f"best@{cut}", "best_n": f"best@{n}"}.get(key, key)
            per = "  ".join(f"seed {seed}: {value:+{d}}" for seed, value in diff["per_seed"].items())
            mean = "-" if diff["mean"] is None else f"{diff['mean']:+{d}}"
            print(f"{label:<9} {per}  mean {mean}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samplers", default="window,plain")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    samplers = args.samplers.split(",")
    if unknown := set(samplers) - set(SAMPLERS):
        parser.error(f"--samplers: unknown {sorted(unknown)}; choose from {', '.join(SAMPLERS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    from search.sweep.tuner import TPE_BEST, TPE_WINDOW

    cut = min(TPE_WINDOW + TPE_BEST, args.trials)
    runs: dict[str, dict[int, dict[str, Any]]] = {s: {} for s in samplers}
    with tempfile.TemporaryDirectory(prefix="hpsearch-quality-") as tmp:
        for i, seed in enumerate(seeds):
            for sampler in samplers if i % 2 == 0 else samplers[::-1]:
                r = one_sweep(sampler, seed, args, Path(tmp))
                runs[sampler][seed] = r
                print(
                    f"{sampler} seed {seed}: best@{cut} {_fmt(r['best_225'])} best@{args.trials} {_fmt(r['best_n'])} "
                    f"wall {r['wall_s']:.1f} s fit {r['fit_s']:.1f} s trials {r['states']} "
                    f"leaderboard best {_fmt(r['leaderboard_best'])} {r['leaderboard_status']} "
                    f"sampler {r['sampler_class']}",
                    flush=True,
                )
    runs = {s: dict(sorted(by_seed.items())) for s, by_seed in runs.items()}
    summary, difference = summarise(runs, seeds)
    print_tables(runs, summary, difference, args.trials, cut)
    if args.json is not None:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        report = {"settings": settings, "cut": cut, "runs": runs, "summary": summary, "difference": difference}
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
