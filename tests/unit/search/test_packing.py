"""`search.pack`: how many configurations each Tune trial trains."""

from __future__ import annotations

import pytest

from search.config.load import load_config
from search.sweep.packing import auto_size, pack_size, pack_sizes


@pytest.mark.parametrize(
    ("trials", "size", "sizes"), [(32, 8, [8, 8, 8, 8]), (10, 4, [4, 3, 3]), (3, 8, [3]), (5, 1, [1] * 5)]
)
def test_packs_cover_every_trial_once_in_sizes_as_even_as_possible(trials, size, sizes):
    assert pack_sizes(trials, size) == sizes and sum(sizes) == trials


def test_auto_takes_large_packs_on_small_tables_and_none_past_the_measured_range():
    assert auto_size(483, 64) == 8 and auto_size(483, 512) == 4
    assert auto_size(70_000, 64) == 4 and auto_size(150_000, 64) == 2 and auto_size(1_000_000, 64) == 1
    assert auto_size(70_000, 512) == 1  # wide layers on a large table: measured to lose


def test_a_pack_never_leaves_a_slot_idle_and_a_number_is_a_ceiling():
    auto = load_config(None, {"search.trials": 32, "search.early_stopping.enabled": False})
    assert pack_size(auto, rows=483, slots=2) == 8  # the default space: typical width sqrt(8 * 512) = 64
    assert pack_size(load_config(None, {"search.trials": 32}), rows=483, slots=2) == 4  # under early stopping
    assert pack_size(auto, rows=483, slots=16) == 2  # 16 slots: 16 packs of 2
    assert pack_size(load_config(None, {"search.trials": 3}), rows=483, slots=2) == 2
    assert pack_size(load_config(None, {"search.trials": 32, "search.pack": 1}), rows=483, slots=2) == 1
    assert pack_size(load_config(None, {"search.trials": 32, "search.pack": 3}), rows=10**6, slots=2) == 3
    # 24 on 2 slots: 4 packs of 6, not 3 of 8 (a slot idle for the last third)
    assert pack_size(load_config(None, {"search.trials": 24, "search.early_stopping.enabled": False}), 483, 2) == 6


def test_on_a_gpu_auto_takes_larger_packs_whatever_the_width():
    assert auto_size(483, 512, gpu=True) == 16 and auto_size(70_000, 512, gpu=True) == 8
    assert auto_size(1_000_000, 64, gpu=True) == 2
    gpu = {"search.trials": 64, "train.gpus_per_trial": 0.5}
    assert pack_size(load_config(None, {**gpu, "search.early_stopping.enabled": False}), rows=483, slots=4) == 16
    assert pack_size(load_config(None, gpu), rows=483, slots=4) == 8  # under early stopping
