"""Reading and writing: checkpoints, and readers for pretrained weights."""
from .checkpoint import save, load  # noqa: F401
