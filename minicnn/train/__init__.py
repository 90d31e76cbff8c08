"""Training: ``Trainer``/``fit``, the history and its plot, callbacks, NaN checks."""
from .callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint  # noqa: F401
from .checks import NonFiniteError  # noqa: F401
from .history import History  # noqa: F401
from .trainer import METRICS, Trainer, accuracy, fit  # noqa: F401
