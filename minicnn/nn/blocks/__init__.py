"""Blocks: the reusable pieces of the classic networks, each a ``Module``.

==========================  ==============================================  =================
block                       what                                            used by
==========================  ==============================================  =================
``ConvBNAct``               conv → BN → activation                          everything
``BasicBlock``              two 3×3 convs + shortcut                        ResNet-18/34
``Bottleneck``              1×1 → f×f → 1×1 + shortcut                      ResNet-50+
``IdentityBlock``           the course's bottleneck, identity shortcut      course ResNet-50
``ConvolutionalBlock``      the course's bottleneck, 1×1/s shortcut         course ResNet-50
``InceptionModule``         1×1 | 1×1→3×3 | 1×1→5×5 | pool→1×1, concat      GoogLeNet
``DepthwiseSeparableConv``  depthwise f×f + pointwise 1×1                   MobileNet v1
``InvertedResidual``        expand → depthwise → linear project (+ skip)    MobileNet v2
``SqueezeExcitation``       channel gates from the global average           EfficientNet
``MBConv``                  inverted residual + SE + stochastic depth       EfficientNet
==========================  ==============================================  =================
"""
from .common import ConvBNAct, StochasticDepth, Swish, block_padding, make_activation  # noqa: F401
from .residual import BasicBlock, Bottleneck, ConvolutionalBlock, IdentityBlock  # noqa: F401
from .inception import InceptionModule  # noqa: F401
from .mobile import (DepthwiseSeparableConv, InvertedResidual, MBConv,  # noqa: F401
                     SqueezeExcitation, make_divisible)

__all__ = ["ConvBNAct", "StochasticDepth", "Swish", "make_activation", "block_padding",
           "BasicBlock", "Bottleneck", "ConvolutionalBlock", "IdentityBlock",
           "InceptionModule", "DepthwiseSeparableConv", "InvertedResidual", "MBConv",
           "SqueezeExcitation", "make_divisible"]
