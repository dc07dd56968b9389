"""The cluster launcher file, `configs/cluster.yaml`: valid for `ray up`, with Ray's token on every node."""

import yaml
from conftest import ROOT


def test_the_cluster_launcher_file_is_valid_for_ray_up():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "configs" / "cluster.yaml").read_text())
    validate_config(prepare_config(config))  # what `ray up` checks before it touches a machine
    commands = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert "ray start --head --port=6379" in commands and "ray start --address=$RAY_HEAD_IP:6379" in commands
    assert commands.count("RAY_AUTH_MODE=token") == 2 and config["file_mounts"]["~/.ray/auth_token"]  # the token
