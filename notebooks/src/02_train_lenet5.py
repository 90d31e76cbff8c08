# %% [markdown]
# # Training LeNet-5 on handwritten digits
#
# LeNet-5 (LeCun et al., 1998) is the first network of the course's classic-networks lecture:
# two convolution + average-pooling stages, a third convolution, two dense layers. This
# notebook builds it from `minicnn.nn` layers, checks it against `minicnn.models.lenet5`,
# trains it on scikit-learn's handwritten digits, first with the training loop written out
# (forward, cost, backward, update) and then with `minicnn.train.Trainer`, plots the curves,
# looks at the digits it gets wrong, and saves and reloads a checkpoint.
#
# **Sizes.** Every layer follows n_H = ⌊(n_H_prev + 2p − f) / s⌋ + 1 (convolutions with
# p = 0, s = 1; pooling with f = 2, s = 2). The parameters of a convolution are
# (f · f · n_C_prev + 1) · n_C: a weight per filter entry plus a bias per filter.
#
# | layer | what | output `(m, n_H, n_W, n_C)` | parameters |
# |---|---|---|---|
# | C1 | 5 × 5 conv, 6 filters, tanh | (m, 28, 28, 6) | (5·5·1 + 1)·6 = 156 |
# | S2 | 2 × 2 average pool, s = 2 | (m, 14, 14, 6) | 0 |
# | C3 | 5 × 5 conv, 16 filters, tanh | (m, 10, 10, 16) | (5·5·6 + 1)·16 = 2,416 |
# | S4 | 2 × 2 average pool, s = 2 | (m, 5, 5, 16) | 0 |
# | C5 | 5 × 5 conv, 120 filters, tanh | (m, 1, 1, 120) | (5·5·16 + 1)·120 = 48,120 |
# | F6 | dense 84, tanh | (m, 84) | (120 + 1)·84 = 10,164 |
# | output | dense 10 (logits) | (m, 10) | (84 + 1)·10 = 850 |
#
# `EPOCHS` below sets how many epochs `Trainer` runs after the hand-written one (the
# notebook's test sets it low through the environment variable `MINICNN_NB_EPOCHS`).

# %%
import os

import numpy as np
import matplotlib.pyplot as plt

import minicnn
import minicnn.functional as F
from minicnn import nn, optim
from minicnn.data import DataLoader, TensorDataset, load_digits
from minicnn.models import lenet5
from minicnn.train import Trainer

EPOCHS = int(os.environ.get("MINICNN_NB_EPOCHS", 3))
minicnn.manual_seed(0)          # the same weights and batches on every run

# %% [markdown]
# ## 1. The data
#
# 1,797 digits of 8 × 8 pixels, shipped with scikit-learn (no download).
# `load_digits(test_size=0.2)` splits them the same way on every machine and returns
# channels-last float32 images in [0, 1], `(m, 8, 8, 1)`, with int64 labels `(m,)`.
#
# LeNet-5 expects 32 × 32 images (32 → 28 → 14 → 10 → 5 → 1), so each pixel is repeated
# into a 4 × 4 block (nearest-neighbour upsampling): 8 × 8 → 32 × 32.

# %%
digits = load_digits(test_size=0.2, seed=0)

def upsample(X, k=4):
    """(m, n_H, n_W, n_C) -> (m, k·n_H, k·n_W, n_C), every pixel a k × k block."""
    return X.repeat(k, axis=1).repeat(k, axis=2)

X_train, y_train = upsample(digits.X_train), digits.y_train
X_test, y_test = upsample(digits.X_test), digits.y_test
print("X_train", X_train.shape, X_train.dtype, "  y_train", y_train.shape, y_train.dtype)
print("X_test ", X_test.shape, "  classes:", digits.classes)

fig, axes = plt.subplots(1, 10, figsize=(12, 1.6))
for ax, image, label in zip(axes, X_train, y_train):
    ax.imshow(image[:, :, 0], cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. LeNet-5 from layers
#
# Each layer is a `minicnn.nn.Module`; `nn.Sequential` calls them in order. `nn.Conv2d(n_C_prev,
# n_C, f)` holds `W` `(f, f, n_C_prev, n_C)` and `b` `(n_C,)`; `nn.Linear(n_in, n_out)` holds
# `W` `(n_in, n_out)` and `b`. The weights are drawn with Glorot's initialiser, the one made
# for tanh units (the layers' default, He's, is made for ReLU).

# %%
def build_lenet5(num_classes=10):
    glorot = "glorot_uniform"
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, init=glorot), nn.Tanh(), nn.AvgPool2d(2, 2),     # C1, S2: 32 → 28 → 14
        nn.Conv2d(6, 16, 5, init=glorot), nn.Tanh(), nn.AvgPool2d(2, 2),    # C3, S4: 14 → 10 → 5
        nn.Conv2d(16, 120, 5, init=glorot), nn.Tanh(),                      # C5: 5 → 1
        nn.Flatten(),                                                       # (m, 1, 1, 120) → (m, 120)
        nn.Linear(120, 84, init=glorot), nn.Tanh(),                         # F6
        nn.Linear(84, num_classes, init=glorot),                            # logits
    )

model = build_lenet5()
print(model)

# %% [markdown]
# `minicnn.summary(model, input_shape)` runs one random example through the network and
# tabulates each layer's output shape, parameters and FLOPs (per example; a multiply-add
# counts as 2). `input_shape` is one example's shape, without the batch axis.

# %%
table = minicnn.summary(model, (32, 32, 1))
assert table.total_params == 61_706

# %% [markdown]
# `minicnn.models.lenet5` is the same network, with its layers grouped into `features` and
# `classifier`. Copying our weights into it, in order, must give the same outputs.

# %%
reference = lenet5(num_classes=10, input_shape=(32, 32, 1))
ours, theirs = list(model.state_dict().items()), list(reference.state_dict().items())
assert len(ours) == len(theirs)
for (name, W), (ref_name, ref_W) in zip(ours, theirs):
    assert W.shape == ref_W.shape
    print(f"{name:5s} {str(W.shape):18s} -> {ref_name}")
reference.load_state_dict({ref_name: W for (_, W), (ref_name, _) in zip(ours, theirs)})

X_batch = minicnn.tensor(X_test[:16])
with minicnn.no_grad():
    assert np.allclose(model(X_batch).numpy(), reference(X_batch).numpy(), atol=1e-6)
print("same outputs")

# %% [markdown]
# ## 3. Batches: `TensorDataset` and `DataLoader`
#
# A `DataLoader` cuts the training set into mini-batches of `batch_size` examples, in a new
# random order every epoch (`shuffle=True`; `seed` makes the order reproducible). Each batch
# is a pair of `Tensor`s: images `(batch_size, 32, 32, 1)` float32 and labels `(batch_size,)`.

# %%
train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True, seed=0)
test_loader = DataLoader(TensorDataset(X_test, y_test), batch_size=256)
X_batch, y_batch = next(iter(train_loader))
print(f"{len(train_loader)} batches per epoch; X_batch {X_batch.shape} {X_batch.dtype}, "
      f"y_batch {y_batch.shape} {y_batch.dtype}")

# %% [markdown]
# ## 4. One epoch, written out
#
# For each mini-batch:
#
# 1. **forward propagation**: the logits z = model(X), `(m, 10)`;
# 2. **cost**: the softmax cross-entropy J = −(1/m) Σᵢ log softmax(z⁽ⁱ⁾)[y⁽ⁱ⁾];
# 3. **backward propagation**: `optimizer.zero_grad()` clears the previous batch's gradients
#    (they accumulate otherwise), then `J.backward()` fills `p.grad` = ∂J/∂p for every
#    parameter p;
# 4. **update**: `optimizer.step()` moves every parameter against its gradient (Adam:
#    with running means of the gradients and of their squares).

# %%
optimizer = optim.Adam(model.parameters(), lr=2e-3)
costs = []
for X_batch, y_batch in train_loader:
    logits = model(X_batch)                     # forward propagation
    J = F.cross_entropy(logits, y_batch)        # cost
    optimizer.zero_grad()
    J.backward()                                # backward propagation
    optimizer.step()                            # update the parameters
    costs.append(J.item())
print(f"{len(costs)} steps: cost {costs[0]:.3f} on the first batch, {costs[-1]:.3f} on the last")

# %% [markdown]
# Accuracy on the test set. `model.eval()` switches layers like dropout and batch norm to
# their test-time behaviour (LeNet-5 has none, but it is the habit), and `minicnn.no_grad()`
# records no graph, since nothing will be differentiated.

# %%
model.eval()
correct = 0
with minicnn.no_grad():
    for X_batch, y_batch in test_loader:
        correct += int((model(X_batch).numpy().argmax(axis=1) == y_batch.numpy()).sum())
model.train()
print(f"test accuracy after one epoch: {correct / len(y_test):.3f}")

# %% [markdown]
# ## 5. More epochs with `Trainer`
#
# `Trainer` runs the same four steps and adds what a real run needs: running loss and
# accuracy, evaluation on `val_loader` after every epoch, a table, learning-rate schedules,
# gradient clipping, callbacks, and a stop naming the layer if a NaN or Inf appears. The model
# continues from where the hand-written epoch left it.

# %%
trainer = Trainer(model, optimizer, progress=False)
history = trainer.fit(train_loader, epochs=EPOCHS, val_loader=test_loader)

# %% [markdown]
# `history["loss"]`, `history["val_accuracy"]` ... hold one value per epoch.

# %%
epochs = np.arange(1, len(history) + 1) + 1       # the Trainer's epochs follow epoch 1
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
axes[0].plot(costs)
axes[0].set(title="epoch 1, by hand: cost per batch", xlabel="step", ylabel="J")
axes[1].plot(epochs, history["loss"], "-o", label="train")
axes[1].plot(epochs, history["val_loss"], "-s", label="test")
axes[1].set(title="Trainer: cost", xlabel="epoch")
axes[2].plot(epochs, history["accuracy"], "-o", label="train")
axes[2].plot(epochs, history["val_accuracy"], "-s", label="test")
axes[2].set(title="Trainer: accuracy", xlabel="epoch")
for ax in axes[1:]:
    ax.set_xticks(epochs)
    ax.legend()
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The digits it gets wrong
#
# `trainer.predict(X)` returns the logits as a NumPy array; the predicted class is the
# arg-max. The confusion matrix counts, for each true digit (row), the predicted ones (column).

# %%
predicted = trainer.predict(X_test).argmax(axis=1)
wrong = np.flatnonzero(predicted != y_test)
print(f"test accuracy {np.mean(predicted == y_test):.3f}: {len(wrong)} of {len(y_test)} wrong")

confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, predicted), 1)
print("confusion matrix (rows: true digit, columns: predicted)\n", confusion)

shown = wrong[:10]
if len(shown):
    fig, axes = plt.subplots(1, len(shown), figsize=(1.2 * len(shown), 1.8), squeeze=False)
    for ax, i in zip(axes[0], shown):
        ax.imshow(X_test[i, :, :, 0], cmap="gray_r")
        ax.set_title(f"{y_test[i]} → {predicted[i]}", fontsize=9)
        ax.axis("off")
    fig.suptitle("true → predicted", fontsize=9)
    plt.show()

# %% [markdown]
# ## 7. Saving and loading a checkpoint
#
# `minicnn.save(obj, path)` writes a nested dict of arrays and numbers to an ordinary
# `.npz` file, atomically (a crash while writing never destroys the previous file), and
# `minicnn.load(path)` gives the same dict back. A model's `state_dict()` maps parameter
# names to arrays; `load_state_dict` copies them into a model of the same shape.
# (`trainer.save(path)` / `trainer.load(path)` keep everything needed to resume training
# exactly: the optimiser's state, the data order, the random generator.)

# %%
path = "lenet5_digits.npz"
minicnn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
              "epochs": 1 + trainer.epoch}, path)
print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB; the first arrays inside:",
      np.load(path).files[:4])

checkpoint = minicnn.load(path)
restored = build_lenet5()
restored.load_state_dict(checkpoint["model"])
restored.eval()
with minicnn.no_grad():
    restored_predicted = restored(minicnn.tensor(X_test)).numpy().argmax(axis=1)
assert np.array_equal(restored_predicted, predicted)
print(f"restored after {checkpoint['epochs']} epochs: the same {len(predicted)} predictions")
