"""Optimizers and learning-rate schedules, with PyTorch's names, settings and update formulas.

>>> import chainrule as cr
>>> w = cr.nn.Parameter([3.0])
>>> opt = cr.optim.Adam([w], lr=0.1)
>>> for _ in range(100):
...     opt.zero_grad()
...     loss = ((w - 1.0) ** 2).sum()
...     loss.backward()
...     opt.step()
>>> abs(w.item() - 1.0) < 0.05
True
"""

from .adagrad import Adagrad
from .adam import Adam, AdamW, RMSprop
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR",
           "LinearLR", "MultiStepLR", "OneCycleLR", "Optimizer", "RMSprop", "ReduceLROnPlateau", "SequentialLR",
           "StepLR"]
