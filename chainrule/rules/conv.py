"""Image patches: ``unfold`` (im2col) and its adjoint ``fold`` (col2im), the two linear primitives of convolution.

``unfold`` cuts every ``kh × kw`` window out of a (zero-padded) NCHW image and lays the windows out as columns:
the result has shape (N, C·kh·kw, L), L = OH·OW windows, the layout of ``torch.nn.functional.unfold``. Row
``(c, i, j)`` holds pixel (i, j) of channel c's window. A convolution is then one matrix product of the reshaped
weight with these columns, and max pooling a max over each window, so neither needs a rule of its own. The same two
entries serve (N, C, L) and (N, C, D, H, W) input, with one kernel size, stride and padding per spatial axis.

Both ops are linear, and each is the other's transpose: the vjp of ``unfold`` is ``fold`` (every patch element
is added back to the pixel it was copied from — overlapping windows add up) and the vjp of ``fold`` is ``unfold``.
So derivatives of any order come from these two entries. Same naming as the rest of the table: ``x`` the input,
``y`` the output, ``g`` the upstream gradient.
"""

from __future__ import annotations

import numpy as np

from .numpy_math import fold, unfold
from .registry import LINEAR, Rule, Sample, register

register(Rule(
    name="unfold", forward=unfold, kind=LINEAR, arity=1, args=("x",),
    vjps=(lambda g, x, y, m, kernel_size, stride, padding:
          m.fold(g, np.shape(x)[2:], kernel_size, stride=stride, padding=padding),), shape_only=("x",),
    text=("fold g: add each patch element back to the pixel it came from",), tex=(r"\operatorname{fold}(g)",),
    display=r"\operatorname{unfold}(x)",
    samples=(Sample(((2, 3, 5, 5),), {"kernel_size": (3, 3), "stride": (1, 1), "padding": (1, 1)}),
             Sample(((1, 2, 5, 6),), {"kernel_size": (2, 3), "stride": (2, 2), "padding": (0, 1)}),
             Sample(((2, 2, 7),), {"kernel_size": (3,), "stride": (2,), "padding": (1,)}),
             Sample(((1, 2, 3, 4, 5),), {"kernel_size": (2, 2, 3), "stride": (1, 2, 2), "padding": (0, 1, 1)})),
    note="overlapping windows add their gradients",
))
register(Rule(
    name="fold", forward=fold, kind=LINEAR, arity=1, args=("x",),
    vjps=(lambda g, x, y, m, output_size, kernel_size, stride, padding:
          m.unfold(g, kernel_size, stride=stride, padding=padding),),
    text=("unfold g: the patches of g",), tex=(r"\operatorname{unfold}(g)",), display=r"\operatorname{fold}(x)",
    samples=(Sample(((2, 12, 9),), {"output_size": (4, 4), "kernel_size": (2, 2), "stride": (1, 1),
                                    "padding": (0, 0)}),
             Sample(((1, 18, 6),), {"output_size": (5, 6), "kernel_size": (3, 3), "stride": (2, 2),
                                    "padding": (1, 0)}),
             Sample(((1, 24, 18),), {"output_size": (3, 4, 5), "kernel_size": (2, 2, 3), "stride": (1, 2, 2),
                                     "padding": (0, 1, 1)})),
))
