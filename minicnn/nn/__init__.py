"""Layers, blocks and containers (``import minicnn.nn as nn``)."""
from .module import Module, ModuleList, Parameter, Sequential  # noqa: F401
