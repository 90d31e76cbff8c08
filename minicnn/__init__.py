"""minicnn: convolutional networks from scratch on NumPy (CPU) and CuPy (GPU).

Channels-last activations ``(m, n_H, n_W, n_C)``, kernels ``(f_H, f_W, n_C_prev, n_C)``,
and the names of the course notes throughout.
"""
__version__ = "0.1.0"

from .backend import (DeviceError, cuda_available, get_array_module, get_device,  # noqa: F401
                      manual_seed, set_device, to_device, to_numpy)
from .autograd import (Function, Tensor, as_tensor, enable_grad, is_grad_enabled,  # noqa: F401
                       no_grad, tensor)
from .factory import zeros, ones, full, randn, rand, arange, zeros_like, ones_like  # noqa: F401
from .gradcheck import GradcheckError, gradcheck  # noqa: F401
from . import functional  # noqa: F401
from .functional.math import concatenate, stack, split, where, maximum, minimum  # noqa: F401
from .io.checkpoint import save, load  # noqa: F401
from . import nn, optim  # noqa: F401,E402
from .nn.summary import summary  # noqa: F401,E402
from .profiler import Profile, profile  # noqa: F401,E402
from .threads import get_num_threads, set_num_threads  # noqa: F401,E402
