"""Differentiable ops: one ``Function`` class and one lowercase wrapper each.

``import minicnn.functional as F`` then ``F.relu(F.conv2d(x, W, b, padding="same"))``.
"""
from .math import *          # noqa: F401,F403
from .activation import *    # noqa: F401,F403
