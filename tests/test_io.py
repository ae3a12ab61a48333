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
    with pytest.raises(TypeError, match=r"the value at \['x'\]\[1\] is a builtin_function_or_method; cr.save stores"):
        cr.save({"x": [1, print]}, path)  # lists of plain values are saved (checkpoints); functions never
    with pytest.raises(TypeError, match="a key of the object is a tuple; keys must be strings, numbers"):
        cr.save({(1, 2): np.zeros(1)}, path)
    with pytest.raises(TypeError, match="expects a dict from names to arrays, not list"):
        cr.save([np.zeros(1)], path)
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


# --- Hostile headers: the library's own error, naming the entry and the field, and nothing allocated. ---------
@pytest.mark.parametrize("entry, message", [
    ({"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}, r"entry 'x' has dtype \['F32'\]"),
    ({"dtype": {"a": 1}, "shape": [2], "data_offsets": [0, 8]}, "entry 'x' has dtype"),
    ({"dtype": "F32", "shape": [1] * 100, "data_offsets": [0, 4]}, "entry 'x' has a shape of 100 dimensions"),
    ({"dtype": "F32", "shape": [2**62, 2**62, 0], "data_offsets": [0, 0]}, "entry 'x' has shape .* too large"),
    ({"dtype": "F32", "shape": [10**30, 0], "data_offsets": [0, 0]}, "entry 'x' has shape .* too large"),
    ({"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}, "truncated"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [2**70, 2**70 + 8]}, "starts at byte"),
    ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "entry 'x' has shape"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, True]}, "entry 'x' has data_offsets"),
])
def test_crafted_fields_raise_safetensors_error_naming_entry_and_field(tmp_path, entry, message):
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(_file({"x": entry}, b"\0" * 8))
    with pytest.raises(SafetensorsError, match=message):
        cr.load(path)
    with pytest.raises(SafetensorsError, match=message):
        deserialize(path.read_bytes())


def test_deeply_nested_json_is_refused_without_recursion_error(tmp_path):
    text = b"[" * 100_000
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(SafetensorsError, match="nests JSON too deeply"):
        cr.load(path)


def _run_limited(code: str, limit_bytes: int) -> str:
    """Run ``code`` in a child Python whose address space is capped, with a wall-clock limit; its stdout."""
    import subprocess
    import sys
    prelude = ("import resource\n"
               f"resource.setrlimit(resource.RLIMIT_AS, ({limit_bytes}, {limit_bytes}))\n")
    result = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(cr.__file__))))
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_huge_file_with_a_garbage_header_is_refused_after_reading_the_header(tmp_path):
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", 16) + b"not json at all!")
        file.truncate(3 * 2**30)  # sparse: 3 GiB on paper, a few bytes on disk
    out = _run_limited(
        "import time, chainrule as cr\n"
        "start = time.perf_counter()\n"
        "try:\n"
        f"    cr.load({str(path)!r})\n"
        "except cr.io.SafetensorsError as exc:\n"
        "    print('refused', time.perf_counter() - start, exc)\n", 2**30)
    assert out.startswith("refused") and "not UTF-8 JSON" in out
    assert float(out.split()[1]) < 5


def test_a_valid_file_is_loaded_without_holding_it_twice(tmp_path):
    size = 160 * 2**20
    path = tmp_path / "big.safetensors"
    header = json.dumps({"w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(header)) + header)
        file.truncate(8 + len(header) + size)  # zeros, sparse on disk
    out = _run_limited(
        "import resource, chainrule as cr\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"w = cr.load({str(path)!r})['w']\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) * 1024, w.shape[0], int(w[::4096].sum()))\n", 3 * 2**30)
    grown, length, total = map(int, out.split())
    assert length == size and total == 0
    assert grown < 1.3 * size, f"loading a {size}-byte file grew the peak memory by {grown} bytes"


def test_missing_safetensors_package_names_the_extra(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"chainrule\[nn\]"):
        cr.save({"x": np.zeros(1)}, tmp_path / "x.safetensors")


def test_save_names_the_target_when_its_directory_is_unusable(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FileNotFoundError, match="is a file, not a directory"):
        cr.save({"x": np.zeros(1)}, blocker / "model.safetensors")

    def no_permission(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".model.safetensors.abc.tmp"))

    monkeypatch.setattr("tempfile.mkstemp", no_permission)
    with pytest.raises(PermissionError, match=r"cannot write .*model\.safetensors: no permission") as info:
        cr.save({"x": np.zeros(1)}, tmp_path / "model.safetensors")
    assert ".tmp" not in str(info.value)


def test_fuzzed_files_load_or_raise_safetensors_error(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as hs

    valid = serialize({"a": np.arange(3.0), "b": np.ones((2, 2), np.float32)}, metadata={"k": "v"})
    path = tmp_path / "fuzz.safetensors"

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hs.lists(hs.tuples(hs.integers(0, len(valid) - 1), hs.integers(0, 255)), max_size=6),
           hs.integers(0, len(valid)))
    def check(edits, cut):
        raw = bytearray(valid)
        for position, value in edits:
            raw[position] = value
        path.write_bytes(bytes(raw[:cut]))
        try:
            arrays = cr.load(path)
        except SafetensorsError:
            return
        assert all(isinstance(array, np.ndarray) for array in arrays.values())

    check()


def test_loading_a_device_says_it_is_not_a_regular_file():
    with pytest.raises(SafetensorsError, match="/dev/zero is not a regular file"):
        cr.load("/dev/zero")
