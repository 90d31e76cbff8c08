"""Optimisers, learning-rate schedules and gradient clipping (``import minicnn.optim as optim``)."""
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .lr_scheduler import LRScheduler, StepLR, CosineAnnealingLR, LinearWarmup  # noqa: F401
from .clip import clip_grad_norm_, clip_grad_value_  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
