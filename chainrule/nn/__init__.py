"""Neural networks: Module and Parameter, layers, losses, initialisation (``cr.nn.init``), ``cr.nn.functional``.

>>> import chainrule as cr
>>> cr.nn.init.manual_seed(0)
>>> model = cr.nn.Sequential(cr.nn.Linear(64, 32), cr.nn.ReLU(), cr.nn.Linear(32, 10))
>>> sum(p.size for p in model.parameters())
2410
"""

from . import functional, init, utils
from .activation import GELU, SiLU, Softplus
from .attention import MultiheadAttention, TransformerEncoder, TransformerEncoderLayer
from .containers import Identity, ModuleDict, ModuleList
from .distance import CosineSimilarity, PairwiseDistance
from .layers import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    Unflatten,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import IncompatibleKeys, Module, Parameter, StateDictError
from .normalization import BatchNorm1d, BatchNorm2d, Embedding, GroupNorm, LayerNorm, RMSNorm
from .pointwise import (
    CELU,
    ELU,
    GLU,
    SELU,
    AlphaDropout,
    Dropout1d,
    Dropout2d,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU6,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)
from .recurrent import GRU, LSTM, RNN
from .sampling import (
    AdaptiveAvgPool1d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    CircularPad2d,
    ConstantPad2d,
    MaxPool1d,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad2d,
    ReplicationPad2d,
    Upsample,
    ZeroPad2d,
)

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "IncompatibleKeys",
    "LeakyReLU", "Linear", "MSELoss", "MaxPool2d", "Module", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "StateDictError", "Tanh", "Unflatten", "functional", "init",
]
__all__ += ["Identity", "ModuleDict", "ModuleList", "utils"]  # issue 12's containers and utilities
__all__ += [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Embedding",
    "GroupNorm",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "MultiheadAttention",
    "RMSNorm",
    "SiLU",
    "SmoothL1Loss",
    "Softplus",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]
__all__ += ["CosineSimilarity", "PairwiseDistance"]  # nn.distance, nn.pointwise, nn.sampling
__all__ += [
    "CELU", "ELU", "GLU", "SELU", "AlphaDropout", "Dropout1d", "Dropout2d", "Hardshrink", "Hardsigmoid", "Hardswish",
    "Hardtanh", "LogSigmoid", "LogSoftmax", "Mish", "PReLU", "ReLU6", "Softmin", "Softshrink", "Softsign",
    "Tanhshrink", "Threshold",
]
__all__ += [
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "CircularPad2d", "ConstantPad2d",
    "MaxPool1d", "PixelShuffle", "PixelUnshuffle", "ReflectionPad2d", "ReplicationPad2d", "Upsample", "ZeroPad2d",
]

# The recurrent cells, transposed convolutions, instance norms, parameter containers and the margin losses.
from . import cells as _cells  # noqa: E402
from . import layers_3d as _layers_3d  # noqa: E402
from . import layers_more as _layers_more  # noqa: E402
from . import losses_more as _losses_more  # noqa: E402
from .cells import *  # noqa: E402, F403
from .layers_3d import *  # noqa: E402, F403
from .layers_more import *  # noqa: E402, F403
from .losses_more import *  # noqa: E402, F403

__all__ += _cells.__all__ + _layers_more.__all__ + _losses_more.__all__
__all__ += _layers_3d.__all__  # the 3-D layers and the remaining shape layers

# The decoder and whole transformer, bags of embeddings, CTC and the other later losses, lazy layers, the random
# layers (more in the section "Neural networks" of the README).
from . import transformer as _transformer  # noqa: E402
from .adaptive_softmax import AdaptiveLogSoftmaxWithLoss  # noqa: E402
from .embedding_bag import EmbeddingBag  # noqa: E402
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyConv1d, LazyConv2d, LazyLinear  # noqa: E402
from .losses_extra import CTCLoss, MultiLabelMarginLoss, TripletMarginWithDistanceLoss  # noqa: E402
from .random_layers import FractionalMaxPool2d, RReLU  # noqa: E402
from .transformer import *  # noqa: E402, F403

__all__ += [
    "AdaptiveLogSoftmaxWithLoss", "CTCLoss", "EmbeddingBag", "FractionalMaxPool2d", "LazyBatchNorm1d",
    "LazyBatchNorm2d", "LazyConv1d", "LazyConv2d", "LazyLinear", "MultiLabelMarginLoss", "RReLU",
    "TripletMarginWithDistanceLoss",
]
__all__ += _transformer.__all__
