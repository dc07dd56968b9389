"""The snapshot budget's two rules: when a requested snapshot is taken, and when a replaced checkpoint goes."""

from __future__ import annotations

from search.sweep.snapshots import SnapshotBudget


def test_a_requested_snapshot_waits_once_the_budget_is_spent_and_tunes_own_never_wait():
    budget = SnapshotBudget(share=0.05, allowance_s=1.0)
    assert budget.due(force=False, requested=True, period_due=False)  # within the allowance
    assert not budget.due(force=False, requested=False, period_due=False)  # nothing asked for
    budget.spent = 5.0  # far past 1 s + 5% of the time so far
    assert not budget.due(force=False, requested=True, period_due=False)
    assert budget.due(force=True, requested=False, period_due=False)  # Tune's final (forced) one
    assert budget.due(force=False, requested=False, period_due=True)  # Tune's periodic one
    budget.started -= 100.0  # 100 s later: 1 + 0.05 * 100 = 6 s allowed
    assert budget.due(force=False, requested=True, period_due=False)


def test_a_replaced_checkpoint_goes_only_once_a_snapshot_begun_after_it_is_written():
    budget = SnapshotBudget()
    budget.replace("fs", "a")  # Tune replaced checkpoint a
    budget.begin()  # snapshot 1 does not name a, but the folder's snapshot (0) may
    assert budget.end(0.1, written=False) == []  # snapshot 1 is uploading
    budget.replace("fs", "b")
    budget.begin()  # snapshot 2: Tune waited for snapshot 1's upload first
    assert budget.end(0.1, written=False) == [("fs", "a")]
    budget.replace("fs", "c")
    budget.begin()
    assert budget.end(0.1, written=True) == [("fs", "b"), ("fs", "c")]  # the final snapshot, waited for
    assert budget.snapshots == 3 and abs(budget.spent - 0.3) < 1e-9


def test_what_a_failed_snapshot_took_waits_for_the_next_one():
    budget = SnapshotBudget()
    budget.replace("fs", "a")
    budget.begin()
    budget.failed()
    budget.replace("fs", "b")
    budget.begin()
    assert budget.end(0.1, written=True) == [("fs", "a"), ("fs", "b")]
