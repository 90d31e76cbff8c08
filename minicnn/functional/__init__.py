"""Differentiable ops: one ``Function`` class and one lowercase wrapper each.

``import minicnn.functional as F`` then ``F.relu(F.conv2d(x, W, b, padding="same"))``.
"""
from .math import *          # noqa: F401,F403
from .activation import *    # noqa: F401,F403
from .conv import *          # noqa: F401,F403
from .norm import *          # noqa: F401,F403
from .loss import *          # noqa: F401,F403
from .face_loss import *   # noqa: F401,F403
from .pool import *          # noqa: F401,F403
from .upsample import *      # noqa: F401,F403
from .style_loss import *    # noqa: F401,F403
