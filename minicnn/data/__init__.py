"""Datasets, batching, augmentation and dataset readers.

::

    from minicnn.data import DataLoader, TensorDataset, load_digits, transforms as T
    X, y = load_digits()                                  # (1797, 8, 8, 1) float32, (1797,) int64
    train = TensorDataset(X, y, transform=T.RandomRotation(10))
    for X_batch, y_batch in DataLoader(train, batch_size=64, shuffle=True, seed=0): ...
"""
from .dataset import Dataset, Subset, TensorDataset, random_split  # noqa: F401
from .collate import default_collate  # noqa: F401
from .loader import DataLoader  # noqa: F401
from . import transforms  # noqa: F401
from .transforms import (ColorShift, Compose, Normalize, PCAColorAugmentation,  # noqa: F401
                         RandomCrop, RandomErasing, RandomHorizontalFlip, RandomRotation,
                         ToFloat)
from .readers import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Labelled, TrainTest,  # noqa: F401
                      load_digits, load_fashion_mnist, load_h5_dataset, load_happy_house,
                      load_image_folder, load_mnist, load_olivetti, load_signs, read_idx)
