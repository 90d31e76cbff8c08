"""The training loop: it learns, it resumes exactly, it stops with a name on NaN."""
import json

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn import functional as F, optim
from minicnn.autograd import Tensor
from minicnn.data import DataLoader, TensorDataset, load_digits
from minicnn.train import EarlyStopping, NonFiniteError, Trainer, fit


def mlp(n_in=2, hidden=8, n_out=2, p_drop=0.0):
    layers = [nn.Linear(n_in, hidden), nn.Tanh()]
    if p_drop:
        layers.append(nn.Dropout(p_drop))
    return nn.Sequential(*layers, nn.Linear(hidden, n_out))


def test_two_layer_net_learns_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    model = mlp()
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    history = fit(model, loader, optim.Adam(model.parameters(), lr=0.05), epochs=150,
                  progress=False, log=None)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.05


def test_lenet5_overfits_a_batch_of_digits():
    from minicnn.cli.datasets import fit_to_shape
    from minicnn.models import get_model
    X, y = load_digits()
    X = fit_to_shape(X[:64], (32, 32, 1))
    model = get_model("lenet5", num_classes=10, input_shape=(32, 32, 1))
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=3e-3), progress=False, log=None)
    trainer.fit(DataLoader(TensorDataset(X, y[:64]), batch_size=64), epochs=60)
    assert trainer.evaluate(DataLoader(TensorDataset(X, y[:64]), batch_size=64))["accuracy"] == 1.0


def _run(epochs, stop_after=None, path=None):
    """Train with dropout, shuffling and a schedule, so every random stream matters."""
    minicnn.manual_seed(3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = mlp(4, 16, 2, p_drop=0.3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)
    trainer = Trainer(model, opt, scheduler=sched, progress=False, log=None)
    if stop_after is None:
        trainer.fit(loader, epochs)
        return trainer
    trainer.fit(loader, stop_after)
    trainer.save(path)
    # A fresh process would rebuild everything from scratch, with another seed even.
    minicnn.manual_seed(99)
    model2 = mlp(4, 16, 2, p_drop=0.3)
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    loader2 = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)
    trainer2 = Trainer(model2, opt2, scheduler=optim.StepLR(opt2, step_size=2, gamma=0.5),
                       progress=False, log=None).load(path, loader2)
    trainer2.fit(loader2, epochs)
    return trainer2


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    full = _run(6)
    resumed = _run(6, stop_after=3, path=tmp_path / "ckpt.npz")
    assert full.history["loss"] == resumed.history["loss"]
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_in_forward_names_the_layer():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[2].W.data[:] = np.inf
    loader = DataLoader(TensorDataset(np.ones((4, 3), np.float32), np.zeros(4, np.int64)),
                        batch_size=4)
    with pytest.raises(NonFiniteError, match=r"layer '2' \(Linear\) from finite inputs"):
        fit(model, loader, optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
            log=None)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_gradient_names_the_parameter():
    class Boom(minicnn.Function):
        def forward(self, x):
            return x

        def backward(self, dy):
            return dy * np.nan

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return Boom()(self.fc(x))

    model = Net()
    loader = DataLoader(TensorDataset(np.ones((4, 3), np.float32), np.zeros(4, np.int64)),
                        batch_size=4)
    with pytest.raises(NonFiniteError, match="fc.W"):
        fit(model, loader, optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
            log=None)


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)          # pure noise: validation loss soon rises
    model = mlp(3, 32, 2)
    train = DataLoader(TensorDataset(X[:20], y[:20]), batch_size=20)
    val = DataLoader(TensorDataset(X[20:], y[20:]), batch_size=20)
    stopper = EarlyStopping(patience=3)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.05), callbacks=[stopper],
                      progress=False, log=None)
    history = trainer.fit(train, epochs=200, val_loader=val)
    assert len(history) < 200 and stopper.stopped_epoch is not None
    best_epoch, best = history.best("val_loss")
    assert trainer.evaluate(val)["loss"] == pytest.approx(best, rel=1e-5)


def test_history_plot_and_json(tmp_path):
    X = np.zeros((8, 2), np.float32)
    y = np.zeros(8, np.int64)
    model = mlp()
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    history = fit(model, loader, optim.SGD(model.parameters(), lr=0.1), epochs=3,
                  val_loader=loader, progress=False, log=None)
    history.plot(tmp_path / "curves.png")
    history.to_json(tmp_path / "h.json")
    assert (tmp_path / "curves.png").stat().st_size > 1000
    rows = json.loads((tmp_path / "h.json").read_text())
    assert len(rows) == 3 and {"loss", "accuracy", "val_loss", "lr"} <= set(rows[0])


def test_parameters_and_gradients_stay_float32():
    model = mlp()
    X = Tensor(np.ones((4, 2), np.float32))
    F.cross_entropy(model(X), Tensor(np.zeros(4, np.int64))).backward()
    for p in model.parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
