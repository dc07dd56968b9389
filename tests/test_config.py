from pathlib import Path

import pytest

from search.config import DEFAULT_CONFIG, load_config
from trainable.errors import HpsearchError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_come_from_the_default_yaml():
    cfg = load_config()
    assert DEFAULT_CONFIG.name == "breast_cancer.yaml"
    assert cfg.name == "breast_cancer"
    assert cfg.data.source == "builtin:breast_cancer"
    assert (cfg.data.val_fraction, cfg.data.test_fraction) == (0.15, 0.15)
    assert cfg.search.metric == "val_loss" and cfg.search.mode == "min"  # a proper scoring rule ranks
    assert cfg.search.cv.folds == "auto"
    assert cfg.space.n_layers.low == 1 and cfg.space.n_layers.high == 4


def test_user_file_merges_over_defaults_and_overrides_win(tmp_path):
    path = write(tmp_path, "name: mine\nsearch:\n  trials: 5\n")
    cfg = load_config(path, {"search.trials": 7, "train.max_epochs": 3, "data.target": None})
    assert cfg.name == "mine"
    assert cfg.search.trials == 7  # flag beats file
    assert cfg.train.max_epochs == 3
    assert cfg.search.metric == "val_loss"  # untouched default


def test_seed_mlp_config_is_the_article_baseline():
    cfg = load_config(Path(__file__).parent.parent / "configs" / "seed_mlp.yaml")
    assert cfg.search.trials == 1 and cfg.search.seed_trial and cfg.train.max_epochs == 10
    assert not cfg.search.early_stopping.enabled


@pytest.mark.parametrize(
    "text, expected",
    [
        ("serch:\n  trials: 3\n", "unknown key `serch`"),
        ("search:\n  trails: 3\n", "unknown key `search.trails`"),
        ("search:\n  trials: many\n", "`search.trials`"),
        ("search:\n  trials: 0\n", "`search.trials`"),
        ("data:\n  val_fraction: 0.6\n  test_fraction: 0.5\n", "val_fraction + test_fraction must be < 1, got 0.6 + 0.5"),
        ("space:\n  units: {low: 64, high: 8}\n", "low must be <= high, got low=64, high=8"),
        ("space:\n  l2: {low: 0.0, high: 0.1, log: true}\n", "log range needs low > 0"),
        ("space:\n  optimizer: [adam, lbfgs]\n", "`space.optimizer.1`"),
        ("search:\n  metric: f1\n", "`search.metric`"),
        ("search:\n  cv:\n    folds: 1\n", "`search.cv.folds`: must be auto, 0 (one validation split) or >= 2, got 1"),
        ("search:\n  cv:\n    folds: five\n", "`search.cv.folds`"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("search: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_configs_are_refused_with_one_line_naming_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(HpsearchError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert expected in message


def test_missing_config_file(tmp_path):
    with pytest.raises(HpsearchError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_a_sweep_saved_before_cross_validation_keeps_its_validation_split(tmp_path):
    import yaml

    from search.config import load_saved_config

    tree = yaml.safe_load(load_config().to_yaml())
    assert tree["search"]["cv"] == {"folds": "auto"}
    (tmp_path / "now.yaml").write_text(yaml.safe_dump(tree))
    assert load_saved_config(tmp_path / "now.yaml").search.cv.folds == "auto"
    del tree["search"]["cv"]  # what an earlier hpsearch saved
    (tmp_path / "before.yaml").write_text(yaml.safe_dump(tree))
    assert load_saved_config(tmp_path / "before.yaml").search.cv.folds == 0
