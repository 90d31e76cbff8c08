"""The course assignments' functions, with the assignments' exact signatures.

NumPy arrays in, NumPy arrays out, so that a learner can compare their own code with these
line by line; each is a thin adapter over the framework's ops. ``minicnn.course.loops``
keeps the assignments' explicit-loop versions, the reference the tests check the ops with.
"""
from .conv import *      # noqa: F401,F403  convolution and pooling, step by step
from .face import *      # noqa: F401,F403  face recognition
from .style import *     # noqa: F401,F403  neural style transfer
from . import loops      # noqa: F401
from .resnet import ResNet50, convolutional_block, identity_block  # noqa: F401  residual networks
