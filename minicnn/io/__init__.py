"""Reading and writing: checkpoints, and readers for pretrained weights."""
from .checkpoint import save, load  # noqa: F401

# Pretrained weights from other frameworks: readers (no torch import) and conversion to
# minicnn's layouts and names (PyTorch OIHW -> HWIO, Linear (out, in) -> (in, out)).
from .torch_pth import (load_pth, read_pth_state_dict, PthFormatError,  # noqa: F401
                        UnsafePickleError)
from .safetensors_io import (load_safetensors, save_safetensors,  # noqa: F401
                             read_safetensors_metadata, SafetensorsError)
from .keras_h5 import read_keras_h5, keras_h5_layers, KerasFormatError  # noqa: F401
from .convert import (convert_weights, load_into, rename, nchw_flatten_to_nhwc,  # noqa: F401
                      describe, WeightMismatchError)
