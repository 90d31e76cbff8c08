"""Neural style transfer (Gatys et al. 2015; the course's last assignment).

======================  ==========================================================
module                  what it holds
======================  ==========================================================
``images``              load / resize / save images (Pillow), the demo images
``weights``             finding and reading pretrained VGG weights, preprocessing
``vgg``                 ``VGGFeatures``: chosen layers' activations in one pass
``transfer``            ``stylize``: the optimisation loop (Adam or L-BFGS)
``cli``                 ``minicnn stylize``
======================  ==========================================================

The costs themselves are in :mod:`minicnn.functional.style_loss`.
"""
from .images import default_content_image, default_style_path, load_image, save_image  # noqa: F401
from .transfer import (DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, StyleCost,  # noqa: F401
                       StyleResult, stylize)
from .vgg import VGGFeatures, layer_names, load_vgg_features  # noqa: F401
from .weights import (MissingWeightsError, find_default_weights, load_vgg_weights,  # noqa: F401
                      save_vgg_weights)
