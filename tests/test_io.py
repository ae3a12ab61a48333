"""cr.save / cr.load: the safetensors format, bit-exact round trips, interop, bad files, and atomic saves."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import SafetensorsError, deserialize, serialize

rng = np.random.default_rng(0)
ARRAYS = {
    "w32": rng.standard_normal((3, 4)).astype(np.float32),
    "w64": rng.standard_normal(5),
    "steps": np.array([1, -2, 2**40], dtype=np.int64),
    "scalar": np.array(3.5),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "special": np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324], dtype=np.float64),
}


def test_round_trip_is_bit_exact(tmp_path):
    path = tmp_path / "model.safetensors"
    cr.save(ARRAYS, path)
    loaded = cr.load(path)
    assert set(loaded) == set(ARRAYS)
    for name, array in ARRAYS.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].tobytes() == array.tobytes(), name
        assert loaded[name].flags.writeable


def test_tensors_and_non_contiguous_arrays_are_saved(tmp_path):
    path = tmp_path / "t.safetensors"
    transposed = np.arange(6.0).reshape(2, 3).T
    cr.save({"t": cr.tensor([1.0, 2.0], requires_grad=True), "view": transposed}, path)
    loaded = cr.load(path)
    np.testing.assert_array_equal(loaded["t"], [1.0, 2.0])
    np.testing.assert_array_equal(loaded["view"], transposed)


def test_the_file_layout_follows_the_published_format(tmp_path):
    raw = serialize({"b": np.array([1.0, 2.0], np.float32), "a": np.array([7], np.int64)}, metadata={"k": "v"})
    (size,) = struct.unpack("<Q", raw[:8])
    assert size % 8 == 0
    header = json.loads(raw[8:8 + size])
    assert header["__metadata__"] == {"k": "v"}
    assert header["a"] == {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}
    assert header["b"] == {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}
    assert raw[8 + size:] == np.array([7], "<i8").tobytes() + np.array([1, 2], "<f4").tobytes()


def test_metadata_round_trip(tmp_path):
    cr.save({"x": np.zeros(2)}, tmp_path / "m.safetensors", metadata={"model": "mlp"})
    arrays, metadata = cr.load(tmp_path / "m.safetensors", with_metadata=True)
    assert metadata == {"model": "mlp"} and list(arrays) == ["x"]


def test_interop_with_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    ours = tmp_path / "ours.safetensors"
    cr.save(ARRAYS, ours, metadata={"source": "chainrule"})
    theirs = st.load_file(str(ours))
    for name, array in ARRAYS.items():
        assert theirs[name].tobytes() == array.tobytes() and theirs[name].dtype == array.dtype
    path = tmp_path / "theirs.safetensors"
    st.save_file(ARRAYS, str(path), metadata={"format": "np"})
    arrays, metadata = cr.load(path, with_metadata=True)
    assert metadata == {"format": "np"}
    for name, array in ARRAYS.items():
        assert arrays[name].tobytes() == array.tobytes()


def _file(header: dict, data: bytes = b"", size: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if size is None else size) + text + data


F32_2 = {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("raw, message", [
    (b"", "fewer than the 8-byte header length"),
    (b"\x01\x02", "fewer than the 8-byte header length"),
    (struct.pack("<Q", 2**62), "more than the limit"),
    (_file(F32_2, b"\0" * 8, size=500), "truncated"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not UTF-8 JSON"),
    (struct.pack("<Q", 5) + b"[1,2]", "a JSON list, not an object"),
    (_file(F32_2, b"\0" * 4), "truncated"),
    (_file(F32_2, b"\0" * 12), "trailing bytes"),
    (_file({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "needs 12 bytes"),
    (_file({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype 'C64'"),
    (_file({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8), "non-negative ints"),
    (_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8), "data_offsets"),
    (_file({"x": {"dtype": "F32", "shape": [2]}}, b"\0" * 8), "exactly dtype, shape and data_offsets"),
    (_file({**F32_2, "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), "overlap"),
    (_file({**F32_2, "__metadata__": {"a": 1}}, b"\0" * 8), "__metadata__ must map strings to strings"),
    (_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "__class__": "os.system"}}, b"\0" * 8),
     "exactly dtype, shape and data_offsets"),
])
def test_corrupted_crafted_or_truncated_files_raise_a_clear_value_error(tmp_path, raw, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(SafetensorsError, match=message) as info:
        cr.load(path)
    assert isinstance(info.value, ValueError) and "bad.safetensors" in str(info.value)


def test_a_pickle_is_rejected_and_never_run(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(SafetensorsError):
        cr.load(path)
    assert not (tmp_path / "pwned").exists()


def test_every_truncation_of_a_valid_file_is_detected():
    raw = serialize({"a": np.arange(3.0), "b": np.ones((2, 2), np.float32)})
    for cut in range(len(raw)):
        with pytest.raises(SafetensorsError):
            deserialize(raw[:cut])


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        cr.load(tmp_path / "nothing.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cr.save({"x": np.zeros(1)}, tmp_path / "no" / "such" / "dir.safetensors")


def test_unsaveable_values_raise_before_touching_the_file(tmp_path):
    path = tmp_path / "good.safetensors"
    cr.save({"x": np.arange(3.0)}, path)
    before = path.read_bytes()
    with pytest.raises(SafetensorsError, match="dtype complex128"):
        cr.save({"x": np.zeros(2, dtype=complex)}, path)
    with pytest.raises(TypeError, match="expected a Tensor or a NumPy array"):
        cr.save({"x": [1, 2]}, path)
    with pytest.raises(TypeError, match="keys must be strings"):
        cr.save({1: np.zeros(1)}, path)
    with pytest.raises(SafetensorsError, match="reserved"):
        cr.save({"__metadata__": np.zeros(1)}, path)
    assert path.read_bytes() == before


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    cr.save({"x": np.arange(3.0)}, path)
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        cr.save({"x": np.arange(1000.0)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_save_keeps_the_replaced_files_permissions(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    cr.save({"x": np.zeros(1)}, path)
    assert path.stat().st_mode & 0o777 == 0o640
