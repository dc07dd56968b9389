"""Does a cheaper TPE search as well? Optuna alone on the stand-in's made-up loss: a cheap proxy of a real sweep.

    uv run python benchmarks/tpe_quality.py [--samplers default,bounded] [--seeds 0,1,2] [--trials 300]
        [--timing-trials 2000] [--json FILE]

A real 300-trial sweep on the built-in table takes many minutes on a small
machine, so this compares the samplers on `benchmarks/standin.py`'s
`made_up_loss` (the default search space, its conditional widths included;
the final epoch's value), with the sweep's own pieces: the space
(`search.config.space.define_by_run`), the article's model enqueued first, and
the sampler as `search.sweep.tuner` builds it (`default`: TPE as before this
benchmark, `TPESampler(seed, n_startup_trials=10)`; `bounded`: the sweep's
sampler now, `search.sweep.tuner._sampler`). Prints, per sampler:
- the best value after `--trials` trials, per seed, its mean and spread;
- the median ms of one configuration's ask (`Study.ask` and the space's
  suggestions) over the 50 asks up to the 100th, 1,000th and 2,000th trial of
  one `--timing-trials` study (seed 0, in memory: Optuna's own cost, no
  SQLite).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

COUNTS = (100, 1000, 2000)


def sampler(name: str, seed: int, trials: int) -> Any:
    import optuna

    from search.config.load import load_config
    from search.sweep.tuner import _sampler

    if name == "default":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, trials))
    cfg = load_config(None, {"search.seed": seed, "search.trials": trials})
    return _sampler(cfg)


def run(name: str, seed: int, trials: int) -> tuple[float, list[float]]:
    """(the best made-up loss after `trials`, each ask's ms)."""
    import optuna
    from standin import made_up_loss

    from search.config.load import load_config
    from search.config.space import define_by_run, seed_point

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_config().space
    suggest = define_by_run(space)
    study = optuna.create_study(sampler=sampler(name, seed, trials), direction="minimize")
    study.enqueue_trial(seed_point(space))
    asks = []
    for _ in range(trials):
        t0 = time.perf_counter()
        trial = study.ask()
        suggest(trial)
        asks.append(1000 * (time.perf_counter() - t0))
        study.tell(trial, made_up_loss(trial.params, 1, 1, trial.number + 1000 * seed))
    return float(study.best_value), asks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samplers", default="default,bounded")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--timing-trials", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for name in args.samplers.split(","):
        bests = [run(name, int(seed), args.trials)[0] for seed in args.seeds.split(",")]
        _, asks = run(name, 0, args.timing_trials) if args.timing_trials else (None, [])
        ask_ms = {str(n): round(statistics.median(asks[n - 50 : n]), 2) for n in COUNTS if len(asks) >= n}
        report[name] = {
            "best": [round(b, 4) for b in bests],
            "mean": round(statistics.mean(bests), 4),
            "spread": round(max(bests) - min(bests), 4),
            "ask_ms": ask_ms,
        }
        print(f"{name:10s} best {report[name]['best']} mean {report[name]['mean']} ask ms {ask_ms}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
