from pathlib import Path

import pytest
from conftest import ROOT

from search.config.load import DEFAULT_CONFIG, load_config
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
    cfg = load_config(ROOT / "configs" / "seed_mlp.yaml")
    assert cfg.search.trials == 1 and cfg.search.seed_trial and cfg.train.max_epochs == 10
    assert not cfg.search.early_stopping.enabled


@pytest.mark.parametrize(
    "text, expected",
    [
        ("serch:\n  trials: 3\n", "unknown key `serch`"),
        ("search:\n  trails: 3\n", "unknown key `search.trails`"),
        ("search:\n  trials: many\n", "`search.trials`"),
        ("search:\n  trials: 0\n", "`search.trials`"),
        (
            "data:\n  val_fraction: 0.6\n  test_fraction: 0.5\n",
            "val_fraction + test_fraction must be < 1, got 0.6 + 0.5",
        ),
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


def test_the_models_carry_no_defaults_of_their_own():
    """Every default lives in the YAML: a key missing from a config tree is refused, not filled in."""
    import yaml

    from search.config.schema import Config

    tree = yaml.safe_load(load_config().to_yaml())
    assert Config.model_validate(tree) == load_config()
    for section, key in (("search", "sampler"), ("search", "objectives"), ("data", "seed"), ("export", "n_boot")):
        broken = {**tree, section: {k: v for k, v in tree[section].items() if k != key}}
        with pytest.raises(Exception, match=f"{section}.{key}"):
            Config.model_validate(broken)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"export.threshold": "target_sensitivity"}, "needs export.target_sensitivity"),
        ({"export.target_sensitivity": 0.9}, "set export.threshold: target_sensitivity"),
        ({"export.threshold": "target_sensitivity", "export.target_sensitivity": 1.5}, "`export.target_sensitivity`"),
        ({"export.threshold": "f1"}, "`export.threshold`"),
        ({"pick.repeats": 0}, "`pick.repeats`"),
        ({"export.baseline_grid.logistic_regression.C": [0.0, 1.0]}, "`export.baseline_grid.logistic_regression.C`"),
        ({"export.baseline_grid.gradient_boosting.learning_rate": []}, "`export.baseline_grid.gradient_boosting"),
        ({"export.baseline_grid.gradient_boosting.max_leaf_nodes": [1]}, "max_leaf_nodes must be >= 2, got [1]"),
    ],
)
def test_export_and_pick_settings_are_validated(overrides, expected):
    with pytest.raises(HpsearchError) as info:
        load_config(None, overrides)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_default_export_settings():
    cfg = load_config()
    assert cfg.export.threshold == "youden" and cfg.export.target_sensitivity is None
    assert cfg.export.n_boot >= 1000 and cfg.pick.top_k == 5 and cfg.pick.repeats == 3


def test_objectives_replace_the_metric():
    from search.config.ranking import Ranking

    cfg = load_config(
        None,
        {
            "search.metric": "val_accuracy",
            "search.objectives": [{"metric": "n_params", "mode": "min"}, {"metric": "val_auroc", "mode": "max"}],
        },
    )
    assert cfg.search.metric == "val_auroc" and cfg.search.ranking.multi  # the best epoch: by val_auroc
    assert load_config(None, {}).search.ranking == Ranking("val_loss")


@pytest.mark.parametrize("share, ok", [(0, True), (0.25, True), (1, True), (2, True), (1.5, False), (-1, False)])
def test_gpus_per_trial_is_a_fraction_of_one_gpu_or_whole_gpus(share, ok):
    if ok:
        assert load_config(None, {"train.gpus_per_trial": share}).train.gpus_per_trial == share
    else:
        with pytest.raises(HpsearchError, match="train.gpus_per_trial"):
            load_config(None, {"train.gpus_per_trial": share})
