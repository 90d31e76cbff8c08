"""Classic networks, each a function returning a :class:`minicnn.nn.Module`.

``get_model(name, num_classes=..., input_shape=...)`` builds one by name (what
``minicnn train --model NAME`` uses); ``list_models()`` lists the names.

Every model takes channels-last images ``(m, n_H, n_W, n_C)`` and returns logits
``(m, num_classes)`` (no softmax; ``cross_entropy`` applies it), except the course's
Keras ResNet-50, which returns probabilities like the assignment's model (the registry
builds it with ``softmax=False`` for training). ``googlenet()`` has its auxiliary
classifiers and returns ``(logits, aux1, aux2)`` in training mode (``GoogLeNet.loss``
combines them); ``get_model("googlenet")`` leaves them out unless ``aux_logits=True``, so
that a generic training loop gets one output.
"""
from __future__ import annotations

from ._common import count_parameters
from .alexnet import AlexNet, alexnet
from .efficientnet import (EfficientNet, build_efficientnet, compound_coefficients,
                           efficientnet_b0, efficientnet_b1, efficientnet_b2,
                           efficientnet_b3, efficientnet_b4, efficientnet_b5,
                           efficientnet_b6, efficientnet_b7, efficientnet_lite0,
                           efficientnet_scaled, load_efficientnet_lite_pth)
from .inception import GoogLeNet, googlenet
from .keras_course import CourseResNet50, course_resnet50, mobilenet_v2_base
from .lenet import LeNet5, lenet5
from .mobilenet import MobileNetV1, MobileNetV2, mobilenet_v1, mobilenet_v2
from .resnet import (ResNet, cifar_resnet, fashion_resnet, resnet18, resnet20, resnet34,
                     resnet50, resnet101, resnet152)
from .vgg import VGG, vgg16, vgg19

__all__ = ["get_model", "list_models", "count_parameters", "MODELS",
           "LeNet5", "lenet5", "AlexNet", "alexnet", "VGG", "vgg16", "vgg19",
           "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "cifar_resnet", "resnet20", "fashion_resnet", "GoogLeNet", "googlenet",
           "MobileNetV1", "MobileNetV2", "mobilenet_v1", "mobilenet_v2",
           "EfficientNet", "build_efficientnet", "efficientnet_scaled", "compound_coefficients",
           "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
           "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
           "efficientnet_lite0", "load_efficientnet_lite_pth",
           "CourseResNet50", "course_resnet50", "mobilenet_v2_base"]


def _course_resnet50(num_classes=6, input_shape=(64, 64, 3), **kwargs):
    kwargs.setdefault("softmax", False)
    return course_resnet50(input_shape, num_classes, **kwargs)


def _googlenet(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    kwargs.setdefault("aux_logits", False)      # a generic training loop wants one output
    return googlenet(num_classes, input_shape, **kwargs)


def _resnet_small(num_classes=10, input_shape=(28, 28, 1), **kwargs):
    """ResNet-8 with 16-32-64 channels: the Fashion-MNIST model of scripts/."""
    return cifar_resnet(8, num_classes, input_shape, **kwargs)


# name -> (builder, one-line description)
MODELS = {
    "lenet5": (lenet5, "LeNet-5, 61.7 K parameters at 32×32×1"),
    "alexnet": (alexnet, "AlexNet as in the course, 62.4 M"),
    "vgg16": (vgg16, "VGG-16, 138.4 M"),
    "vgg19": (vgg19, "VGG-19, 143.7 M"),
    "resnet18": (resnet18, "ResNet-18 (small stem below 64 px), 11.7 M"),
    "resnet34": (resnet34, "ResNet-34, 21.8 M"),
    "resnet50": (resnet50, "ResNet-50 (torchvision layout), 25.6 M"),
    "resnet101": (resnet101, "ResNet-101, 44.5 M"),
    "resnet152": (resnet152, "ResNet-152, 60.2 M"),
    "resnet20": (resnet20, "CIFAR ResNet-20 (16-32-64), 0.27 M"),
    "resnet8": (_resnet_small, "CIFAR-style ResNet-8 (16-32-64), 0.08 M"),
    "fashion_resnet": (fashion_resnet, "small ResNet for 28×28 images (32-64), 0.15 M"),
    "googlenet": (_googlenet, "GoogLeNet / Inception v1 (aux_logits=True for the side "
                              "classifiers)"),
    "mobilenet_v1": (mobilenet_v1, "MobileNet v1 (alpha, rho), 4.2 M"),
    "mobilenet_v2": (mobilenet_v2, "MobileNet v2, 3.5 M"),
    **{f"efficientnet_b{k}": (f, f"EfficientNet-B{k}") for k, f in enumerate(
        (efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3,
         efficientnet_b4, efficientnet_b5, efficientnet_b6, efficientnet_b7))},
    "efficientnet_lite0": (efficientnet_lite0, "EfficientNet-Lite0 (no SE, ReLU6), 4.65 M"),
    "course_resnet50": (_course_resnet50, "the course's Keras ResNet-50 (64×64×3, 6 classes)"),
}


def list_models():
    """The names ``get_model`` accepts, sorted."""
    return sorted(MODELS)


def get_model(name, num_classes=None, input_shape=None, **kwargs):
    """Build model ``name`` (see :func:`list_models`) with ``num_classes`` outputs for
    images of ``input_shape`` ``(n_H, n_W, n_C)``; None keeps the model's default.
    Other keyword arguments go to the model's function."""
    # "ResNet-18", "resnet_18", "efficientnet-b0" all name the same model
    squeeze = {k.replace("_", ""): k for k in MODELS}
    key = squeeze.get(str(name).lower().replace("-", "").replace("_", ""))
    if key is None:
        import difflib
        close = difflib.get_close_matches(str(name).lower().replace("-", "_"), MODELS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"get_model: unknown model {name!r}{hint}; choose one of "
                         f"{', '.join(list_models())}")
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    return MODELS[key][0](**kwargs)
