"""The `minicnn` command, end to end on tiny runs."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minicnn.cli import main
from minicnn.cli.train import _model_for


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


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


def test_a_model_that_needs_32_pixels_trains_on_fashion_mnist(tmp_path, capsys):
    """The issue's command on the real files: MobileNet v1 downsamples by 32, so the
    28×28 images are padded to 32×32 (and the checkpoint remembers that size)."""
    from minicnn.data import FASHION_MNIST_DIR
    if not Path(FASHION_MNIST_DIR).is_dir():
        pytest.skip(f"Fashion-MNIST not found in {FASHION_MNIST_DIR} (Debian package "
                    "dataset-fashion-mnist)")
    out = tmp_path / "run"
    assert main(["train", "--model", "mobilenet_v1", "--dataset", "fashion-mnist",
                 "--data-dir", str(FASHION_MNIST_DIR), "--epochs", "1", "--limit", "64",
                 "--batch-size", "32", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "28×28 images are brought to 32×32" in printed
    assert "58 train, 6 validation, 64 test images of (32, 32, 1)" in printed
    metrics = _metrics(out)
    assert metrics["config"]["input_shape"] == [32, 32, 1] and metrics["config"]["limit"] == 64
    assert metrics["config"]["num_classes"] == 10 and len(metrics["history"]) == 1


def test_efficientnet_lite0_trains_on_signs_from_the_shared_folder(tmp_path, capsys,
                                                                   shared_data):
    signs = shared_data / "signs"
    out = tmp_path / "run"
    assert main(["train", "--model", "efficientnet_lite0", "--dataset", "signs",
                 "--data-dir", str(signs), "--epochs", "1", "--limit", "24",
                 "--batch-size", "12", "--val-fraction", "0", "--no-progress",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "24 train, 0 validation, 24 test images of (64, 64, 3)" in printed
    metrics = _metrics(out)
    assert metrics["config"]["num_classes"] == 6 and metrics["config"]["input_shape"] == [64, 64, 3]
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0


def test_the_model_is_built_for_the_smallest_input_it_takes(capsys):
    model, shape = _model_for("alexnet", 6, (64, 64, 3))
    assert shape == (67, 67, 3)
    assert "alexnet takes images of at least 67×67" in capsys.readouterr().out
    assert model(np.zeros((1,) + shape, np.float32)).shape == (1, 6)
    _, shape = _model_for("lenet5", 10, (32, 32, 1))           # big enough: unchanged
    assert shape == (32, 32, 1) and capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="input_shape must be one image's"):
        _model_for("vgg16", 10, (0, 32, 3))                    # other errors still raise


def test_limit_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--limit", "0"])
    assert "--limit: expected a positive integer, got '0'" in capsys.readouterr().err


def test_a_too_small_input_shape_given_by_hand_is_an_error():
    """--input-shape is the user's choice: not silently enlarged, but refused with the
    size the model needs."""
    with pytest.raises(SystemExit, match=r"--input-shape 28 28 1: mobilenet_v1 needs images "
                                         r"of at least 32×32"):
        main(["train", "--model", "mobilenet_v1", "--input-shape", "28", "28", "1",
              "--epochs", "1", "--no-progress"])


def test_resume_refuses_a_run_with_other_data(tmp_path, capsys):
    """Resuming with another --limit (or batch size, model, …) would replay the loader's
    position and the schedule on different data: refused, naming what differs."""
    out = tmp_path / "run"
    base = ["train", "--epochs", "1", "--out", str(out), "--no-progress", "--limit", "200"]
    assert main(base + ["--batch-size", "50"]) == 0
    with pytest.raises(SystemExit, match=r"--resume: .* was written by a different run "
                                         r"\(batch_size: 50 in the checkpoint, 40 now\)"):
        main(base + ["--batch-size", "40", "--resume"])
    assert main(base + ["--batch-size", "50", "--resume", "--epochs", "2"]) == 0
    assert "resumed from" in capsys.readouterr().out
