"""Pipelined reports: in order, never lost, a stop or an error raised in the trial's own thread."""

from __future__ import annotations

import threading
import time

import pytest

from trainable.pipelined import PIPELINE_BELOW_S, PipelinedReport


class SlowReport:
    """A report that takes `delay` seconds, as Tune's waits for the driver; records what it got, from where."""

    def __init__(self, delay: float = 0.05, fail_at: int | None = None, exc: BaseException | None = None) -> None:
        self.delay, self.fail_at, self.exc = delay, fail_at, exc
        self.got: list[tuple[int, str | None, bool]] = []

    def __call__(self, metrics, checkpoint_dir):
        time.sleep(self.delay)
        self.got.append((metrics["epoch"], checkpoint_dir, threading.current_thread() is threading.main_thread()))
        if metrics["epoch"] == self.fail_at:
            raise self.exc


def test_short_epochs_report_in_the_background_in_order_and_a_checkpoint_waits_for_them():
    slow = SlowReport()
    report = PipelinedReport(slow)
    t0 = time.perf_counter()
    for epoch in range(1, 6):
        report({"epoch": epoch}, None)
    handed_over = time.perf_counter() - t0
    report({"epoch": 6}, "ckpt")  # waits for the five before it, then reports here
    report.close()
    assert handed_over < 5 * slow.delay  # the trial went on while they were reported
    assert [e for e, _, _ in slow.got] == [1, 2, 3, 4, 5, 6]
    assert not any(main for _, _, main in slow.got[:5]) and slow.got[5] == (6, "ckpt", True)
    assert report.waited >= 4 * slow.delay  # the checkpoint's report waited for the queue


def test_after_a_long_epoch_the_report_is_made_at_once_in_the_trials_thread():
    slow = SlowReport(delay=0.0)
    report = PipelinedReport(slow)
    time.sleep(PIPELINE_BELOW_S + 0.05)
    report({"epoch": 1}, None)
    report.close()
    assert slow.got == [(1, None, True)]


def test_a_stop_from_tune_ends_the_trial_at_its_next_report_and_drops_the_rest():
    slow = SlowReport(fail_at=2, exc=SystemExit(0))
    report = PipelinedReport(slow)
    report({"epoch": 1}, None)
    report({"epoch": 2}, None)
    report({"epoch": 3}, None)
    time.sleep(5 * slow.delay)
    with pytest.raises(SystemExit):
        report({"epoch": 4}, None)
    report.close()
    assert [e for e, _, _ in slow.got] == [1, 2]  # 3 was queued behind the stop: dropped


def test_an_error_in_a_background_report_is_raised_by_close():
    slow = SlowReport(fail_at=1, exc=OSError("storage is gone"))
    report = PipelinedReport(slow)
    report({"epoch": 1}, None)
    with pytest.raises(OSError, match="storage is gone"):
        report.close()
    quiet = PipelinedReport(SlowReport(fail_at=1, exc=OSError("x")))
    quiet({"epoch": 1}, None)
    quiet.close(raise_failure=False)  # the trial's own error wins


def test_after_a_stop_nothing_more_reaches_tune():
    slow = SlowReport(fail_at=1, exc=SystemExit(0))
    report = PipelinedReport(slow)
    report({"epoch": 1}, None)
    time.sleep(5 * slow.delay)
    with pytest.raises(SystemExit):
        report({"epoch": 2}, None)
    report({"epoch": 3}, None)  # a trial that went on regardless: neither queued...
    report({"epoch": 4}, "ckpt")  # ...nor with a checkpoint
    report.close()
    assert [e for e, _, _ in slow.got] == [1]
