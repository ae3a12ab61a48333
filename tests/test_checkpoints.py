"""cr.save / cr.load of nested checkpoints (model, optimizer, scheduler, plain values) in one safetensors file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import CHECKPOINT_KEY, SafetensorsError

safetensors = pytest.importorskip("safetensors.numpy")


def test_nested_checkpoint_round_trip_keeps_types_and_values(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 2, seed=1))
    opt = optim.Adam(net.parameters(), lr=0.01, betas=(0.8, 0.9))
    net(cr.ones(2, 3, dtype="float32")).sum().backward()
    opt.step()
    sched = optim.ReduceLROnPlateau(opt)
    checkpoint = {
        "model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3,
        "history": [0.5, 0.25, math.inf, -0.0], "note": "run 7 \u00e9\u00e8", "flags": (True, None, 2**70),
        "raw": np.arange(6, dtype=np.int32).reshape(2, 3), "nested": {"a.b": np.zeros(1), "a": {"b": np.ones(1)}},
        1.5: "float key", 7: [["deep", [1]]],
    }
    path = tmp_path / "ckpt.safetensors"
    cr.save(checkpoint, path)
    back = cr.load(path)
    assert list(back) == list(checkpoint)
    assert back["epoch"] == 3 and back["note"] == checkpoint["note"] and back["flags"] == (True, None, 2**70)
    assert back["history"][:3] == [0.5, 0.25, math.inf] and math.copysign(1, back["history"][3]) == -1
    assert back[1.5] == "float key" and back[7] == [["deep", [1]]]
    for key, value in checkpoint["model"].items():
        assert isinstance(back["model"][key], cr.Tensor) and back["model"][key].dtype == np.float32
        np.testing.assert_array_equal(back["model"][key].numpy(), value.numpy())
    assert isinstance(back["raw"], np.ndarray) and back["raw"].dtype == np.int32
    np.testing.assert_array_equal(back["nested"]["a"]["b"], [1.0])
    np.testing.assert_array_equal(back["nested"]["a.b"], [0.0])  # the same dotted name, kept apart
    state = back["optimizer"]["state"]
    assert sorted(state) == [0, 1, 2, 3] and state[0]["step"] == 1  # int keys and values come back as ints
    np.testing.assert_array_equal(state[0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert back["scheduler"]["best"] == math.inf

    # the file is plain safetensors: the tensors by path, the structure as JSON in the metadata
    arrays = safetensors.load_file(str(path))
    assert "model.0.weight" in arrays and "optimizer.state.0.exp_avg" in arrays
    _, metadata = cr.load(path, with_metadata=True)
    assert CHECKPOINT_KEY not in metadata


def test_flat_state_dicts_are_written_as_before_and_still_load(tmp_path):
    path = tmp_path / "flat.safetensors"
    state = {"w": np.arange(3, dtype=np.float32), "b": cr.tensor([1.0])}
    cr.save(state, path, metadata={"format": "np"})
    arrays, metadata = cr.load(path, with_metadata=True)
    assert metadata == {"format": "np"} and sorted(arrays) == ["b", "w"]
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    reference = safetensors.save({"w": np.arange(3, dtype=np.float32), "b": np.array([1.0])},
                                 metadata={"format": "np"})
    assert path.read_bytes() == reference  # byte for byte what the safetensors package writes


def crafted(tmp_path, tree, arrays=None):
    path = tmp_path / "crafted.safetensors"
    arrays = {"x": np.zeros(2)} if arrays is None else arrays
    path.write_bytes(safetensors.save(arrays, metadata={CHECKPOINT_KEY: tree if isinstance(tree, str)
                                                        else json.dumps(tree)}))
    return path


@pytest.mark.parametrize("tree, message", [
    ("{not json", "is not valid JSON"),
    (["dict", [[["str", "a"], ["tensor", "y"]]]], "names a tensor 'y' that the file does not hold"),
    (["list", [["tensor", "x"], ["array", "x"]]], "names tensor 'x' twice"),
    (["dict", []], "holds tensors its 'chainrule.checkpoint' metadata does not place"),
    (["int", "12x"], "unknown tag or bad value"),
    (["pickle", "cos\nsystem"], "unknown tag or bad value"),
    (["dict", [[["list", []], ["tensor", "x"]]]], "has a dict key of type list"),
    ("[" * 5000 + "]" * 5000, "not valid JSON|nests deeper"),
    (["list", [["list", [["tensor", "x"]]]] * 1], None),
])
def test_crafted_checkpoint_structure_is_refused(tmp_path, tree, message):
    path = crafted(tmp_path, tree)
    if message is None:
        np.testing.assert_array_equal(cr.load(path)[0][0].numpy(), np.zeros(2))
        return
    with pytest.raises(SafetensorsError, match=message):
        cr.load(path)
