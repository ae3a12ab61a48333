"""The examples in the docstrings of cr.nn, cr.optim, cr.save/cr.load and the training job run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["chainrule.nn", "chainrule.nn.module", "chainrule.nn.layers", "chainrule.nn.losses",
           "chainrule.nn.functional.core", "chainrule.nn.init", "chainrule.optim", "chainrule.optim.sgd",
           "chainrule.optim.lr_scheduler", "chainrule.io", "chainrule.cli.train",
           "chainrule.nn.containers", "chainrule.nn.utils", "chainrule.optim.adagrad", "chainrule.data.loader",
           "chainrule.data.text"]
MODULES += ["chainrule.nn.activation", "chainrule.nn.normalization", "chainrule.nn.attention", "chainrule.nn.recurrent"]
MODULES += ["chainrule.nn.pointwise", "chainrule.nn.sampling", "chainrule.nn.distance"]
MODULES += ["chainrule.nn.cells", "chainrule.nn.layers_more", "chainrule.nn.losses_more"]
MODULES += ["chainrule.nn.functional.bags", "chainrule.nn.functional.ctc_and_margins"]
MODULES += ["chainrule.nn.layers_3d"]
MODULES += ["chainrule.nn.hooks", "chainrule.nn.utils.rnn", "chainrule.nn.utils.parametrize",
            "chainrule.nn.utils.parametrizations", "chainrule.nn.utils.stateless", "chainrule.nn.utils.fusion",
            "chainrule.nn.utils.convert_parameters"]
MODULES += ["chainrule.nn.transformer", "chainrule.nn.embedding_bag", "chainrule.nn.lazy",
            "chainrule.nn.adaptive_softmax", "chainrule.nn.random_layers", "chainrule.nn.utils.clip_grad"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
