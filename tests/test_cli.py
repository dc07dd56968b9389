"""The command line: fast help, and the error boundary (one line, exit 2, nothing written)."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import HPSEARCH, ROOT


def hpsearch(*args, cwd=None):
    return subprocess.run([*HPSEARCH, *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=120)


def test_help_does_not_import_ray_or_tensorflow():
    code = (
        "import sys, search.cli\n"
        "heavy = [m for m in ('ray', 'tensorflow', 'keras', 'optuna', 'sklearn') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    result = hpsearch("--help")
    assert result.returncode == 0 and "run" in result.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--trials", "0"], "`search.trials`"),
        (["--max-epochs", "-1"], "`train.max_epochs`"),
        (["--data", "{tmp}/missing.npy"], "missing.npy: data file not found"),
        (["--data", "{tmp}/bad.npy"], "bad.npy: expected a 2-D array"),
        (["--data", "{tmp}/t.csv"], "t.csv: a table needs a label column"),
        (["{tmp}/bad.yaml"], "bad.yaml: unknown key `search.trails`"),
        (["--data", "builtin:nope"], "unknown built-in dataset"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, expected):
    np.save(tmp_path / "bad.npy", np.arange(5.0))
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.yaml").write_text("search:\n  trails: 3\n")
    results = tmp_path / "results"
    argv = ["run", *[a.format(tmp=tmp_path) for a in args], "--results-dir", str(results)]
    result = hpsearch(*argv)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hpsearch: error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not results.exists()


def test_leaderboard_of_a_missing_folder_is_a_clear_error(tmp_path):
    result = hpsearch("leaderboard", str(tmp_path / "nope"))
    assert result.returncode == 2 and "results directory not found" in result.stderr
