"""The command line: fast help, and the error boundary (one line, exit 2, nothing written), in-process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import HPSEARCH, ROOT, clinical_frame


@pytest.mark.parametrize("module", ["search.cli.app", "search.api"])
def test_help_and_the_python_api_do_not_import_ray_or_tensorflow(module):
    code = (
        f"import sys, {module}\n"
        "heavy = [m for m in ('ray', 'tensorflow', 'keras', 'optuna', 'sklearn') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    result = subprocess.run([*HPSEARCH, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and "run" in result.stdout


def _refused(result, expected: str) -> None:
    assert result.exit_code == 2, result.stderr
    lines = result.error_lines()
    assert len(lines) == 1 and lines[0].startswith("hpsearch: error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--trials", "0"], "`search.trials`"),
        (["--max-epochs", "-1"], "`train.max_epochs`"),
        (["--pack", "0"], "`search.pack`: must be auto or a number of configurations >= 1, got 0"),
        (["--data", "{tmp}/missing.npy"], "missing.npy: data file not found"),
        (["--data", "{tmp}/bad.npy"], "bad.npy: expected a 2-D array"),
        (["--data", "{tmp}/t.csv"], "t.csv: a table needs a label column"),
        (["{tmp}/bad.yaml"], "bad.yaml: unknown key `search.trails`"),
        (["--data", "builtin:nope"], "unknown built-in dataset"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, args, expected):
    np.save(tmp_path / "bad.npy", np.arange(5.0))
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.yaml").write_text("search:\n  trails: 3\n")
    results = tmp_path / "results"
    _refused(cli("run", *[a.format(tmp=tmp_path) for a in args], "--results-dir", results), expected)
    assert not results.exists()


def _bad_files(tmp):
    """name -> (how to write the file, its name, the expected message, the target column)."""
    ok = clinical_frame(60).drop(columns=["patient_id"]).dropna()

    def with_text(f):
        return f.astype({"crp": object}).assign(crp=lambda g: g["crp"].where(g.index != g.index[3], "<0.5"))

    return {
        "missing_file": (lambda p: None, "absent.csv", "absent.csv: data file not found", "outcome"),
        "corrupt_parquet": (
            lambda p: p.write_bytes(b"PAR1 this is not parquet"),
            "bad.parquet",
            "bad.parquet: cannot read the file",
            "outcome",
        ),
        "pickled_npy": (
            lambda p: np.save(p, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True),
            "obj.npy",
            "obj.npy: holds pickled Python objects",
            None,
        ),
        "empty_file": (lambda p: p.write_text(""), "empty.csv", "empty.csv: the file is empty", "outcome"),
        "header_only": (
            lambda p: p.write_text("age,sex,outcome\n"),
            "header.csv",
            "header.csv: has a header but no data rows",
            "outcome",
        ),
        "too_few_rows": (
            lambda p: ok.head(6).to_csv(p, index=False),
            "few.csv",
            "too few rows for a stratified",
            "outcome",
        ),
        "single_class": (
            lambda p: ok.assign(outcome="died").to_csv(p, index=False),
            "one.csv",
            "single class",
            "outcome",
        ),
        "missing_target": (
            lambda p: ok.to_csv(p, index=False),
            "t.csv",
            "target column `label` not found; columns are: age, crp, sex, stage, smoker, outcome",
            "label",
        ),
        "text_in_numeric": (
            lambda p: with_text(ok).to_csv(p, index=False),
            "text.csv",
            "column `crp` holds numbers but also text, e.g. '<0.5'",
            "outcome",
        ),
        "infinite": (
            lambda p: ok.assign(age=lambda f: f["age"].where(f.index != f.index[0], np.inf)).to_csv(p, index=False),
            "inf.csv",
            "column `age` has 1 infinite value",
            "outcome",
        ),
        "one_d_array": (lambda p: np.save(p, np.arange(20.0)), "flat.npy", "flat.npy: expected a 2-D array", None),
        "unsupported": (lambda p: p.write_text("x"), "data.xlsx", "unsupported file type `.xlsx`", "outcome"),
        "continuous_target": (
            lambda p: ok.assign(outcome=np.linspace(0, 1, len(ok))).to_csv(p, index=False),
            "cont.csv",
            "looks continuous",
            "outcome",
        ),
    }


@pytest.mark.parametrize("name", list(_bad_files(None)))
def test_a_bad_data_file_fails_cleanly(cli, tmp_path, name):
    write, filename, expected, target = _bad_files(tmp_path)[name]
    path = tmp_path / filename
    write(path)
    results = tmp_path / "results"
    _refused(cli("run", "--data", path, *(["--target", target] if target else []), "--results-dir", results), expected)
    assert not results.exists()


TWO = [{"metric": "val_loss", "mode": "min"}, {"metric": "n_params", "mode": "min"}]


@pytest.mark.parametrize(
    "objectives, message",
    [
        (
            [{"metric": "val_loss", "mode": "max"}, TWO[1]],
            "`search.objectives.0`: val_loss is optimised with mode min, got max",
        ),
        ([TWO[0], TWO[0]], "`search`: objectives must name distinct metrics, got val_loss, val_loss"),
        ([{"metric": "size", "mode": "min"}, TWO[1]], "`search.objectives.0.metric`: Input should be"),
    ],
)
def test_bad_objectives_are_refused_in_one_line(cli, tmp_path, objectives, message):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"search": {"objectives": objectives}}))
    _refused(cli("run", config, "--results-dir", tmp_path / "r"), message)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["leaderboard", "{tmp}/nope"], "results directory not found"),
        (["report", "{tmp}/nope"], "results directory not found"),
        (["pick", "{tmp}/nope"], "results directory not found"),
        (["export", "{tmp}/nope", "--out", "{tmp}/out"], "results directory not found"),
        (["predict", "{tmp}/nope", "{tmp}/rows.csv"], "model directory not found"),
        (["predict", "{tmp}", "{tmp}/rows.csv", "--out", "{tmp}/p.txt"], "unsupported output type `.txt`"),
    ],
)
def test_review_commands_refuse_bad_paths_in_one_line(cli, tmp_path, args, expected):
    _refused(cli(*[a.format(tmp=tmp_path) for a in args]), expected)
    assert not (tmp_path / "out").exists()


def test_the_mlflow_flag_without_mlflow_installed_is_refused_in_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails, as in an install without the extra
    results = tmp_path / "results"
    _refused(
        cli("run", "--trials", "1", "--results-dir", results, "--mlflow", f"sqlite:///{tmp_path / 'm.db'}"),
        "uv sync --extra mlflow",
    )
    assert not results.exists()  # nothing written


def test_an_id_like_column_is_refused_before_anything_is_written_and_a_config_can_keep_it(cli, tmp_path):
    from search.config.load import load_config

    frame = clinical_frame(1200, seed=5).dropna()
    frame["patient_id"] = [f"P{i // 4:04d}" for i in frame.index]  # 300 patients of 4 rows each
    path, results = tmp_path / "visits.csv", tmp_path / "results"
    frame.to_csv(path, index=False)
    _refused(
        cli("run", "--data", path, "--target", "outcome", "--results-dir", results),
        "column `patient_id` looks like an ID (300 distinct values in",
    )
    assert not results.exists()
    config = tmp_path / "keep.yaml"
    keep = {"source": str(path), "target": "outcome", "keep_id_like": ["patient_id"]}
    config.write_text(yaml.safe_dump({"data": keep}))
    assert "patient_id" in load_config(config).load_data().feature_names  # kept on purpose: the same check passes
