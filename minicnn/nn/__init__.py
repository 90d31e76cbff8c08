"""Layers, blocks and containers (``import minicnn.nn as nn``).

Every layer is channels-last: images are ``(m, n_H, n_W, n_C)``, kernels
``(f_H, f_W, n_C_prev, n_C)``. Weights are named as in the course (``W``, ``b``;
BatchNorm's ``gamma``, ``beta``), float32, drawn by :mod:`minicnn.nn.init` from the
seeded host generator on the default device; ``model.to("cuda")`` moves them.
"""
from .module import Module, ModuleList, Parameter, Sequential  # noqa: F401
from . import init  # noqa: F401
from .linear import Linear  # noqa: F401
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose2d, DepthwiseConv2d  # noqa: F401
from .pooling import (AvgPool1d, AvgPool2d, AvgPool3d, GlobalAvgPool2d,  # noqa: F401
                      GlobalMaxPool2d, MaxPool1d, MaxPool2d, MaxPool3d)
from .norm import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .shape import Flatten, Identity, Upsample, ZeroPad2d  # noqa: F401
from .activation import LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, Softmax, Tanh  # noqa: F401
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss  # noqa: F401
from .summary import Summary, SummaryRow, summary  # noqa: F401
from .blocks import *  # noqa: F401,F403  residual, inception and mobile blocks (blocks/)
