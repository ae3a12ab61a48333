"""torch.optim's switches on every optimizer: maximize equal to torch's; foreach and fused (kernel choices) accepted;
capturable=True and differentiable=True refused with a message; Adam(decoupled_weight_decay=True) is AdamW."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from torch_steps import run_side_by_side

from chainrule import nn, optim

ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
       "Adafactor", "SparseAdam", "LBFGS"]


@pytest.mark.parametrize("name, settings", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("SGD", {"lr": 0.1}),
                                            ("Adam", {"lr": 0.01, "amsgrad": True}), ("AdamW", {"lr": 0.01}),
                                            ("RMSprop", {"centered": True}), ("Adagrad", {"lr": 0.1})])
def test_maximize_equals_torch(torch, name, settings):
    run_side_by_side(torch, name, {**settings, "maximize": True})
    run_side_by_side(torch, name, {**settings, "maximize": True}, dtype=np.complex128)


def test_adam_with_decoupled_weight_decay_is_adamw(torch):
    run_side_by_side(torch, "Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True})


@pytest.mark.parametrize("name", ALL)
def test_keywords_match_torch_and_kernel_choices_are_accepted(torch, name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    assert list(ours) == list(theirs)
    assert [(p.kind, p.default) for p in ours.values()] == [(p.kind, p.default) for p in theirs.values()]
    for flag in ("foreach", "fused"):
        if flag in ours:
            for value in (None, False, True):
                opt = getattr(optim, name)([nn.Parameter(np.ones(2))], **{flag: value})
                assert opt.param_groups[0][flag] is value


@pytest.mark.parametrize("name", [n for n in ALL if n not in ("LBFGS", "SparseAdam")])
def test_capturable_and_differentiable_are_refused(name):
    keywords = inspect.signature(getattr(optim, name)).parameters
    for flag in ("capturable", "differentiable"):
        if flag in keywords:
            with pytest.raises(ValueError, match=f"{flag}=True .* not supported"):
                getattr(optim, name)([nn.Parameter(np.ones(2))], **{flag: True})
    with pytest.raises(TypeError, match="maximize must be True or False"):
        getattr(optim, name)([nn.Parameter(np.ones(2))], maximize="yes")
