"""``cr.nn.functional`` (import it as ``F``, as in PyTorch): the functions behind the layers and losses.

``core`` holds most of them and the argument checks they share; the later modules build on it: ``bags``
(embedding_bag), ``ctc_and_margins`` (ctc_loss and two margin losses), ``random`` (rrelu, gumbel_softmax,
fractional max pooling) and ``sampling_grid`` (affine_grid, grid_sample, pdist). The layers (``cr.nn``) sit above
and import from here, never the reverse.
"""

from . import core
from .bags import embedding_bag
from .core import *  # noqa: F403
from .ctc_and_margins import ctc_loss, multilabel_margin_loss, triplet_margin_with_distance_loss
from .random import fractional_max_pool2d, gumbel_softmax, rrelu
from .sampling_grid import affine_grid, grid_sample, pdist

__all__ = [*core.__all__, "affine_grid", "ctc_loss", "embedding_bag", "fractional_max_pool2d", "grid_sample",
           "gumbel_softmax", "multilabel_margin_loss", "pdist", "rrelu", "triplet_margin_with_distance_loss"]
