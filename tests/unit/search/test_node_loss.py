"""Which trial failures are a lost node's (`search.sweep.node_loss`), and Tune's failure count leaving them out
(through `search.sweep._compat`'s wrap of `Trial.handle_error`): real Ray exceptions and a real Tune `Trial`,
no Ray instance. The loss of a node on a real cluster is `tests/integration/test_cluster.py`."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from ray.core.generated.common_pb2 import ActorDiedErrorContext
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

from search.sweep.node_loss import NOT_COUNTED, answers, forgive_node_losses, node_lost

WORKER = {"NodeManagerAddress": "10.0.0.3", "NodeManagerPort": 40000, "Alive": True}


def _died_on(ip: str) -> ActorDiedError:
    """What Ray raises when a trial's worker process died on the node at `ip`."""
    context = ActorDiedErrorContext(class_name="ImplicitFunc", actor_id=bytes(16), pid=123, node_ip_address=ip)
    context.error_message = "The actor is dead because its worker process has died."
    return ActorDiedError(context)


def test_an_unreachable_actor_is_a_lost_node():
    # its process is gone and no raylet reported it: Ray has not yet marked its node dead
    assert node_lost(ActorUnavailableError("RpcError: Socket closed", bytes(16)), nodes=[])


def test_a_worker_dying_on_a_node_that_still_answers_is_the_trial_own_failure():
    assert not node_lost(_died_on("10.0.0.3"), nodes=[WORKER], probe=lambda host, port: True)


def test_a_worker_dying_on_a_node_that_no_longer_answers_or_that_ray_marked_dead_is_a_lost_node():
    probed = []

    def probe(host: str, port: int) -> bool:
        probed.append((host, port))
        return False

    assert node_lost(_died_on("10.0.0.3"), nodes=[WORKER], probe=probe)
    assert probed == [("10.0.0.3", 40000)]
    assert node_lost(_died_on("10.0.0.3"), nodes=[{**WORKER, "Alive": False}], probe=lambda host, port: True)


def test_an_exception_in_the_trial_or_an_unknown_node_is_the_trial_own_failure():
    assert not node_lost(RuntimeError("boom"), nodes=[])
    assert not node_lost(_died_on("10.0.0.9"), nodes=[WORKER], probe=lambda host, port: False)  # not in Ray's list
    wrapped = RayTaskError("train", "Traceback ...", ValueError("boom"))
    assert not node_lost(wrapped, nodes=[])


def test_a_raylet_must_answer_throughout_the_window():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        started = time.monotonic()
        assert answers("127.0.0.1", port, window=0.5, every=0.1)
        assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    assert not answers("127.0.0.1", port, window=0.5, every=0.1)  # closed: refused at once
    assert time.monotonic() - started < 0.5


@pytest.fixture
def trial(tmp_path):
    """A real Tune trial (a stub: no trainable), no retry of its own, writing its error.txt in `tmp_path` (the
    one storage attribute `handle_error` reads: Ray's own storage needs a running Ray)."""
    from types import SimpleNamespace

    from ray.tune.experiment import Trial

    trial = Trial("stub", stub=True, max_failures=0)
    trial.storage = SimpleNamespace(trial_driver_staging_path=str(tmp_path))
    return trial


def test_tune_leaves_a_lost_node_out_of_the_failure_count_and_counts_the_trial_own(trial):
    assert forgive_node_losses() and forgive_node_losses()  # idempotent
    trial.handle_error(ActorUnavailableError("RpcError: Socket closed", bytes(16)))
    assert trial.num_failures == 0 and trial.should_recover()
    trial.handle_error(RuntimeError("boom"))
    assert trial.num_failures == 1 and not trial.should_recover()
    errors = Path(trial.error_file).read_text().splitlines()
    assert "Socket closed" in errors[1] and errors[2] == NOT_COUNTED  # the loss is kept, marked as not counted
    assert errors[3].startswith("Failure # 1") and errors[4:] == ["boom"]
