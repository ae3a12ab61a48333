"""Save and load named arrays (a model's state_dict) in the safetensors format. Never pickle.

The format (https://github.com/huggingface/safetensors): 8 bytes, the header's length N as a little-endian
unsigned 64-bit int; N bytes of UTF-8 JSON mapping each name to ``{"dtype", "shape", "data_offsets": [begin,
end]}`` (offsets into the data that follows; an optional ``"__metadata__"`` maps strings to strings); then the raw
little-endian bytes of every array in row-major order. Reading it only parses JSON and copies bytes, so a crafted
file can execute nothing; every field is checked, and a bad file raises ``SafetensorsError`` (a ValueError).

This module reads and writes the format itself, so chainrule needs no extra package; files interoperate with the
``safetensors`` package (``safetensors.numpy.load_file`` / ``save_file``) and with PyTorch's loader.

>>> import os, tempfile, numpy as np, chainrule as cr
>>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
>>> cr.save({"w": np.arange(3, dtype=np.float32)}, path)
>>> cr.load(path)
{'w': array([0., 1., 2.], dtype=float32)}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ChainruleError
from .tensor import Tensor

PathLike = str | os.PathLike

#: safetensors dtype names and the NumPy dtypes they stand for (stored little-endian).
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {dtype.newbyteorder("="): name for name, dtype in DTYPES.items()}
MAX_HEADER_BYTES = 100_000_000  # as the reference implementation: a bigger header is not a real file


class SafetensorsError(ChainruleError, ValueError):
    """A file that is not valid safetensors (truncated, corrupted or crafted), or values that cannot be saved."""


# ---------------------------------------------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------------------------------------------
def _as_array(name: Any, value: Any) -> np.ndarray:
    if not isinstance(name, str):
        raise TypeError(f"save: keys must be strings, got {name!r} ({type(name).__name__})")
    if name == "__metadata__":
        raise SafetensorsError("save: '__metadata__' is reserved by the format; pass metadata=... instead")
    array = value.data if isinstance(value, Tensor) else value
    if not isinstance(array, np.ndarray | np.generic):
        raise TypeError(f"save: value '{name}' is a {type(value).__name__}; expected a Tensor or a NumPy array")
    array = np.asarray(array)
    if array.dtype.newbyteorder("=") not in _NAMES:
        raise SafetensorsError(
            f"save: value '{name}' has dtype {array.dtype}, which safetensors cannot store; supported: "
            + ", ".join(str(d) for d in _NAMES)
        )
    return array


def serialize(state_dict: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``state_dict`` (names to Tensors or arrays), names in sorted order."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save expects a dict from names to arrays, not {type(state_dict).__name__}")
    arrays = {name: _as_array(name, value) for name, value in state_dict.items()}
    header: dict[str, Any] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("save: metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name in sorted(arrays):
        array = arrays[name]
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NAMES[array.dtype.newbyteorder("=")], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad with spaces so the data starts 8-byte aligned, as the reference does
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save(state_dict: Mapping[str, Any], path: PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``state_dict`` (names to Tensors or arrays) to ``path`` in the safetensors format.

    The file is written to a temporary file in the same directory, flushed to disk, then renamed over ``path``:
    an interrupted or failed save leaves any earlier file at ``path`` intact. ``metadata`` (strings to strings)
    goes into the header's ``__metadata__``.
    """
    payload = serialize(state_dict, metadata)
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"save: directory {directory} does not exist; create it first")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _file_mode(path: Path) -> int:
    """The permissions the saved file gets: those of the file it replaces, else the usual 0o666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ---------------------------------------------------------------------------------------------------------------
# Reading.
# ---------------------------------------------------------------------------------------------------------------
def _fail(source: str, problem: str) -> SafetensorsError:
    return SafetensorsError(f"{source} is not a valid safetensors file: {problem}")


def _header(raw: bytes, source: str) -> tuple[dict[str, Any], int]:
    if len(raw) < 8:
        raise _fail(source, f"it has {len(raw)} bytes, fewer than the 8-byte header length")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > MAX_HEADER_BYTES:
        raise _fail(source, f"its header claims {size} bytes, more than the limit of {MAX_HEADER_BYTES}")
    if 8 + size > len(raw):
        raise _fail(source, f"its header claims {size} bytes but only {len(raw) - 8} follow (truncated?)")
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(source, f"its header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _fail(source, f"its header is a JSON {type(header).__name__}, not an object")
    return header, 8 + size


def _entry(name: str, info: Any, source: str) -> tuple[np.dtype, tuple[int, ...], int, int]:
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise _fail(source, f"entry '{name}' must be an object with exactly dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in DTYPES:
        raise _fail(source, f"entry '{name}' has dtype {dtype!r}; chainrule reads {', '.join(DTYPES)}")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise _fail(source, f"entry '{name}' has shape {shape!r}; expected a list of non-negative ints")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise _fail(source, f"entry '{name}' has data_offsets {offsets!r}; expected [begin, end], 0 <= begin <= end")
    expected = math.prod(shape) * DTYPES[dtype].itemsize
    if offsets[1] - offsets[0] != expected:
        raise _fail(source, f"entry '{name}' of dtype {dtype} and shape {tuple(shape)} needs {expected} bytes, but "
                            f"its data_offsets {offsets} span {offsets[1] - offsets[0]}")
    return DTYPES[dtype], tuple(shape), offsets[0], offsets[1]


def deserialize(raw: bytes, source: str = "the data") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse safetensors bytes into (arrays, metadata), checking every field; never executes anything."""
    header, start = _header(raw, source)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise _fail(source, "its __metadata__ must map strings to strings")
    data = memoryview(raw)[start:]
    entries = {name: _entry(name, info, source) for name, info in header.items()}
    # The arrays must tile the data exactly: no gaps, no overlaps, nothing left over.
    end = 0
    for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
        if begin != end:
            raise _fail(source, f"entry '{name}' starts at byte {begin} of the data, expected {end} "
                                "(entries overlap or leave a gap)")
        end = stop
    if end != len(data):
        raise _fail(source, f"its entries cover {end} bytes of data but the file holds {len(data)} "
                            f"({'truncated' if end > len(data) else 'trailing bytes'})")
    arrays = {}
    for name, (dtype, shape, begin, stop) in entries.items():
        array = np.frombuffer(data[begin:stop], dtype=dtype).reshape(shape)
        arrays[name] = array.astype(dtype.newbyteorder("="), copy=True)
    return arrays, dict(metadata)


def load(path: PathLike, with_metadata: bool = False) -> dict[str, np.ndarray] | tuple[dict, dict[str, str]]:
    """Read a safetensors file: a dict from names to NumPy arrays (writable copies, native byte order).

    ``model.load_state_dict(cr.load(path))`` restores a model saved with ``cr.save(model.state_dict(), path)``.
    With ``with_metadata=True`` returns ``(arrays, metadata)``. A truncated, corrupted or crafted file raises
    ``SafetensorsError`` naming the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {path}" + (" (it is a directory)" if path.is_dir() else ""))
    arrays, metadata = deserialize(path.read_bytes(), f"'{path}'")
    return (arrays, metadata) if with_metadata else arrays


__all__ = ["DTYPES", "SafetensorsError", "deserialize", "load", "save", "serialize"]
