"""Dataset readers. All offline: a missing file raises ``FileNotFoundError`` saying where
to get it. Images come back channels-last ``(m, n_H, n_W, n_C)``, float32 in [0, 1]
(``raw=True``: the stored uint8), labels int64."""
from ._common import Labelled, TrainTest  # noqa: F401
from .digits import load_digits  # noqa: F401
from .idx import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, load_fashion_mnist,  # noqa: F401
                  load_mnist, read_idx)
from .h5 import load_h5_dataset, load_happy_house, load_signs  # noqa: F401
from .image_folder import load_image_folder  # noqa: F401
from .olivetti import load_olivetti, olivetti_search_path  # noqa: F401
