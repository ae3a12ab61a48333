"""Utilities, as ``torch.nn.utils``: gradient clipping and norms, parameters as one vector, weight and spectral norm
(hooks and parametrizations), parametrizations, batch-norm fusion, ``functional_call`` and sequences
(``cr.nn.utils.rnn``). The gradient clipping functions change ``.grad`` in place:

>>> import chainrule as cr
>>> w = cr.nn.Parameter([3.0, 4.0])
>>> w.grad = cr.tensor([3.0, 4.0])
>>> round(cr.nn.utils.clip_grad_norm_([w], max_norm=1.0).item(), 6)
5.0
>>> [round(v, 4) for v in w.grad.tolist()]
[0.6, 0.8]
"""

from . import parametrizations, parametrize, rnn, stateless
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .init import skip_init
from .stateless import functional_call
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "functional_call", "fuse_conv_bn_eval",
    "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "get_total_norm",
    "parameters_to_vector", "parametrizations", "parametrize", "remove_spectral_norm", "remove_weight_norm", "rnn",
    "skip_init", "spectral_norm", "stateless", "vector_to_parameters", "weight_norm",
]
