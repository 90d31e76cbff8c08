"""The `minicnn` command, end to end on tiny runs."""
import json
import subprocess
import sys

import pytest

from minicnn.cli import main


def test_train_then_evaluate_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-progress",
                 "--batch-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "lenet5" in printed and "test accuracy" in printed
    for name in ("checkpoint.npz", "curves.png", "metrics.json"):
        assert (out / name).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"] == "lenet5" and len(metrics["history"]) == 1
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0

    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0
    evaluated = capsys.readouterr().out
    assert f"accuracy {metrics['test']['accuracy']:.4f}" in evaluated

    assert main(["train", "--epochs", "2", "--out", str(out), "--no-progress",
                 "--batch-size", "64", "--resume"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 2


def test_summary_and_info(capsys):
    assert main(["summary", "--model", "lenet5", "--input-shape", "32", "32", "1"]) == 0
    text = capsys.readouterr().out
    assert "61,706" in text or "61706" in text
    assert main(["info"]) == 0
    assert "numpy" in capsys.readouterr().out


def test_bad_dataset_name_is_a_clear_error():
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "cifar100"])


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "minicnn.cli", "info"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "minicnn" in r.stdout
