"""Save and load named arrays (a model's state_dict) in the safetensors format. Never pickle.

The format (https://github.com/huggingface/safetensors): 8 bytes, the header's length N as a little-endian
unsigned 64-bit int; N bytes of UTF-8 JSON mapping each name to ``{"dtype", "shape", "data_offsets": [begin,
end]}`` (offsets into the data that follows; an optional ``"__metadata__"`` maps strings to strings); then the raw
little-endian bytes of every array in row-major order.

Writing goes through the ``safetensors`` package (the ``nn`` extra). Reading a file checks it twice before any
array is allocated: chainrule reads only the header (never the whole file) and checks every field against the
file's size, so a bad file raises ``SafetensorsError`` (a ValueError) naming the tensor and the field; then the
package's bounds-checked reader (``safe_open``) must accept it too. The arrays are then read straight into their
final buffers: a file costs its own size in memory, once (``safe_open`` copies each tensor out of a memory map,
which measured twice the file's size at peak).

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
import reprlib
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .engine import backends
from .errors import ChainruleError, require
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
MAX_DIMS = 32  # NumPy 1.x's limit (2.x allows 64); no real weight has more
MAX_BYTES = 2**62  # a shape describing more than this (zero dimensions counted as 1) is not a real array
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60  # crafted values can be huge or deeply nested: quote them briefly


class SafetensorsError(ChainruleError, ValueError):
    """A file that is not valid safetensors (truncated, corrupted or crafted), or values that cannot be saved."""


def _safetensors() -> Any:
    """The ``safetensors`` package (imported lazily), or an error naming the extra that provides it."""
    require("safetensors", "nn")
    import safetensors
    import safetensors.numpy

    return safetensors


# ---------------------------------------------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------------------------------------------
def _as_array(name: Any, value: Any) -> np.ndarray:
    if not isinstance(name, str):
        raise TypeError(f"save: keys must be strings, got {name!r} ({type(name).__name__})")
    if name == "__metadata__":
        raise SafetensorsError("save: '__metadata__' is reserved by the format; pass metadata=... instead")
    array = value.data if isinstance(value, Tensor) else value
    if isinstance(value, Tensor) and backends.is_foreign(array):
        array = backends.to_numpy(array)  # writing a file reads the values to the host: saving is the transfer
    if not isinstance(array, np.ndarray | np.generic):
        raise TypeError(f"save: value '{name}' is a {_type_name(value)}; expected a Tensor or a NumPy array"
                        + (" (wrap it: cr.tensor(x))" if backends.is_foreign(value) else ""))
    if isinstance(array, np.ma.MaskedArray):
        raise TypeError(f"save: value '{name}' is a masked array, whose mask safetensors cannot store (its hidden "
                        "values would be saved as if valid); save np.ma.filled(x, value), or the data and the mask "
                        "as two arrays")
    array = np.asarray(array)
    if array.dtype.newbyteorder("=") not in _NAMES:
        raise SafetensorsError(
            f"save: value '{name}' has dtype {array.dtype}, which safetensors cannot store; supported: "
            + ", ".join(str(d) for d in _NAMES)
        )
    # Little-endian and contiguous, as the format stores it; a copy only when the array is not already so.
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)


def _type_name(value: Any) -> str:
    """A type's name as users know it: ``torch.Tensor`` rather than ``Tensor`` for another library's."""
    kind = type(value)
    library = kind.__module__.partition(".")[0]
    return kind.__name__ if library in ("builtins", "numpy", "chainrule") else f"{library}.{kind.__name__}"


def _path(path: Any, function: str) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{function}: path must be a str or a pathlib.Path, got {type(path).__name__} {path!r:.60}")
    return Path(path)


def _checked(state_dict: Mapping[str, Any], metadata: Mapping[str, str] | None) -> dict[str, np.ndarray]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save expects a dict from names to arrays, not {type(state_dict).__name__}")
    if metadata and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("save: metadata must map strings to strings")
    return {name: _as_array(name, value) for name, value in state_dict.items()}


def serialize(state_dict: Any, metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``state_dict`` (names to Tensors or arrays, or a nested checkpoint as ``save``)."""
    state_dict, metadata = _flatten_if_nested(state_dict, metadata)
    arrays = _checked(state_dict, metadata)
    return bytes(_safetensors().numpy.save(arrays, metadata=dict(metadata) if metadata else None))


def save(state_dict: Any, path: PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``state_dict`` to ``path`` in the safetensors format: names to Tensors or arrays, or a checkpoint.

    A checkpoint is a nested dict of Tensors, arrays and plain values (None, bools, ints, floats, strings, and
    lists/tuples/dicts of them), e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``:
    its arrays are the file's tensors (named by their path, ``model.weight``) and its structure and plain values a
    JSON tree in the header's metadata (never pickle). A flat dict of arrays is written as plain safetensors, which
    PyTorch's ``safetensors.torch.load_file`` reads too.

    The file is written to a temporary file in the same directory, flushed to disk, then renamed over ``path``:
    an interrupted or failed save leaves any earlier file at ``path`` intact. ``metadata`` (strings to strings)
    goes into the header's ``__metadata__``.
    """
    state_dict, metadata = _flatten_if_nested(state_dict, metadata)
    arrays = _checked(state_dict, metadata)
    st = _safetensors()
    path = _path(path, "save")
    fd, temporary = _temporary_next_to(path)
    try:
        os.close(fd)
        st.numpy.save_file(arrays, temporary, metadata=dict(metadata) if metadata else None)
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def check_writable(path: PathLike) -> None:
    """Raise the error ``save(..., path)`` would raise for an unusable place (a missing directory or one that is a
    file, no permission, ``path`` a directory), without writing anything: create the temporary file ``save`` would
    use, and remove it. A long job calls this first, so a bad path fails at once instead of after the work."""
    fd, temporary = _temporary_next_to(_path(path, "save"))
    os.close(fd)
    os.unlink(temporary)


def _temporary_next_to(path: Path) -> tuple[int, str]:
    """A new hidden temporary file in ``path``'s directory (renamed over ``path`` once written), with errors that
    name ``path`` rather than the temporary file."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        found = "is a file, not a directory" if directory.exists() else "does not exist; create it first"
        raise FileNotFoundError(f"save: cannot write {path}: directory {directory} {found}")
    if path.is_dir():
        raise IsADirectoryError(f"save: cannot write {path}: it is a directory; give a file name")
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:  # no permission, a read-only file system...: OSError picks the matching subclass
        why = "no permission to create files in" if isinstance(exc, PermissionError) else "cannot create files in"
        raise OSError(exc.errno, f"save: cannot write {path}: {why} {directory} ({exc.strerror})",
                      str(path)) from None


def _file_mode(path: Path) -> int:
    """The permissions the saved file gets: those of the file it replaces, else the usual 0o666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ---------------------------------------------------------------------------------------------------------------
# Reading: every field is checked against the bytes available before anything is allocated.
# ---------------------------------------------------------------------------------------------------------------
def _fail(source: str, problem: str) -> SafetensorsError:
    return SafetensorsError(f"{source} is not a valid safetensors file: {problem}")


def _header_length(first: bytes, available: int, source: str) -> int:
    """The header's length from the first 8 bytes, checked against the ``available`` bytes of the file."""
    if available < 8:
        raise _fail(source, f"it has {available} bytes, fewer than the 8-byte header length")
    (size,) = struct.unpack("<Q", first[:8])
    if size > MAX_HEADER_BYTES:
        raise _fail(source, f"its header claims {size} bytes, more than the limit of {MAX_HEADER_BYTES}")
    if 8 + size > available:
        raise _fail(source, f"its header claims {size} bytes but only {available - 8} follow (truncated?)")
    return size


def _parse_header(text: bytes, source: str) -> tuple[dict[str, tuple], dict[str, str]]:
    """Parse and check the JSON header: ({name: (dtype, shape, begin, end)}, metadata)."""
    try:
        header = json.loads(text.decode("utf-8"))
    except RecursionError:
        raise _fail(source, "its header nests JSON too deeply (a real header nests 3 levels)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(source, f"its header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _fail(source, f"its header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise _fail(source, "its __metadata__ must map strings to strings")
    return {name: _entry(name, info, source) for name, info in header.items()}, metadata


def _entry(name: str, info: Any, source: str) -> tuple[np.dtype, tuple[int, ...], int, int]:
    label = f"entry {_REPR.repr(name)}"
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise _fail(source, f"{label} must be an object with exactly dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _fail(source, f"{label} has dtype {_REPR.repr(dtype)}; chainrule reads {', '.join(DTYPES)}")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise _fail(source, f"{label} has shape {_REPR.repr(shape)}; expected a list of non-negative ints")
    if len(shape) > MAX_DIMS:
        raise _fail(source, f"{label} has a shape of {len(shape)} dimensions; at most {MAX_DIMS} are read")
    itemsize = DTYPES[dtype].itemsize
    if math.prod(max(n, 1) for n in shape) * itemsize > MAX_BYTES:
        raise _fail(source, f"{label} has shape {_REPR.repr(shape)}, too large for any array "
                            f"(more than 2**62 bytes even with its zero dimensions counted as 1)")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise _fail(source, f"{label} has data_offsets {_REPR.repr(offsets)}; expected [begin, end], "
                            "0 <= begin <= end")
    expected = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != expected:
        raise _fail(source, f"{label} of dtype {dtype} and shape {tuple(shape)} needs {expected} bytes, but "
                            f"its data_offsets {offsets} span {offsets[1] - offsets[0]}")
    return DTYPES[dtype], tuple(shape), offsets[0], offsets[1]


def _check_tiling(entries: dict[str, tuple], data_size: int, source: str) -> None:
    """The arrays must tile the data exactly: no gaps, no overlaps, nothing left over, nothing past the end."""
    end = 0
    for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
        if begin != end:
            raise _fail(source, f"entry {_REPR.repr(name)} starts at byte {begin} of the data, expected {end} "
                                "(entries overlap or leave a gap)")
        end = stop
    if end != data_size:
        raise _fail(source, f"its entries cover {end} bytes of data but the file holds {data_size} "
                            f"({'truncated' if end > data_size else 'trailing bytes'})")


def deserialize(raw: bytes, source: str = "the data") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse safetensors bytes into (arrays, metadata), checking every field; never executes anything."""
    size = _header_length(raw[:8], len(raw), source)
    entries, metadata = _parse_header(raw[8 : 8 + size], source)
    data = memoryview(raw)[8 + size :]
    _check_tiling(entries, len(data), source)
    arrays = {}
    for name, (dtype, shape, begin, stop) in entries.items():
        array = np.frombuffer(data[begin:stop], dtype=dtype).reshape(shape)
        arrays[name] = array.astype(dtype.newbyteorder("="), copy=True)
    return _rebuild_if_nested(arrays, dict(metadata), source, True)


def _agrees_with_safetensors(path: Path, entries: dict[str, tuple], source: str) -> None:
    """The audited reader must accept the file and see the same names, dtypes and shapes as our checks."""
    st = _safetensors()
    try:
        with st.safe_open(str(path), framework="numpy") as file:
            seen = {name: (file.get_slice(name).get_dtype(), tuple(file.get_slice(name).get_shape()))
                    for name in file.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    except (st.SafetensorError, OSError, ValueError, TypeError) as exc:
        raise _fail(source, f"the safetensors reader refuses it ({exc})") from None
    ours = {name: (_NAMES[dtype.newbyteorder("=")], shape) for name, (dtype, shape, _, _) in entries.items()}
    if seen != ours:
        raise _fail(source, "the safetensors reader sees other tensors than its header describes")


def _read_into(file: Any, array: np.ndarray, source: str, name: str) -> None:
    """Fill ``array`` from the file's current position; a file that shrank meanwhile is reported as truncated."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        count = file.readinto(view[done:])
        if not count:
            raise _fail(source, f"entry {_REPR.repr(name)} ends after {done} of its {len(view)} bytes (truncated "
                                "while reading?)")
        done += count


def load(path: PathLike, with_metadata: bool = False) -> Any:
    """Read a safetensors file: a dict from names to NumPy arrays (writable copies, native byte order), or the
    nested checkpoint ``save`` wrote, rebuilt (Tensors as Tensors, arrays as arrays, tuples as tuples).

    ``model.load_state_dict(cr.load(path))`` restores a model saved with ``cr.save(model.state_dict(), path)``.
    With ``with_metadata=True`` returns ``(arrays, metadata)``. A truncated, corrupted or crafted file raises
    ``SafetensorsError`` naming the problem, after reading only its header.
    """
    path = _path(path, "load")
    if not path.is_file():
        if path.is_dir():
            raise FileNotFoundError(f"load: no file at {path} (it is a directory)")
        if path.exists():
            raise SafetensorsError(f"load: {path} is not a regular file (a device, pipe or socket); expected a "
                                   "safetensors file")
        raise FileNotFoundError(f"load: no file at {path}")
    source = f"'{path}'"
    with open(path, "rb") as file:
        available = os.fstat(file.fileno()).st_size
        size = _header_length(file.read(8), available, source)
        entries, metadata = _parse_header(file.read(size), source)
        _check_tiling(entries, available - 8 - size, source)
        _agrees_with_safetensors(path, entries, source)
        arrays = {}
        for name, (dtype, shape, begin, _) in sorted(entries.items(), key=lambda item: item[1][2]):
            array = np.empty(shape, dtype=dtype)
            file.seek(8 + size + begin)
            _read_into(file, array, source, name)
            arrays[name] = array if dtype.isnative else array.astype(dtype.newbyteorder("="))
    arrays = {name: arrays[name] for name in entries}  # the header's order
    return _rebuild_if_nested(arrays, dict(metadata), source, with_metadata)


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints: nested dicts of arrays and plain values. The arrays are the file's tensors; the structure is a JSON
# tree of tagged nodes in the metadata under CHECKPOINT_KEY: ["tensor", name], ["array", name], ["none"],
# ["bool", b], ["int", "digits"], ["float", "repr"] (exact, and inf/nan), ["str", s], ["list", [...]],
# ["tuple", [...]], ["dict", [[key node, value node], ...]] (keys may be strings, ints, floats, bools or None, so an
# optimizer's state {0: {...}} comes back with int keys).
# ---------------------------------------------------------------------------------------------------------------
CHECKPOINT_KEY = "chainrule.checkpoint"
MAX_DEPTH = 64
MAX_INT_DIGITS = 400  # an int of a checkpoint (an epoch, a step count) is never longer


def _is_flat(obj: Any) -> bool:
    return isinstance(obj, Mapping) and all(
        isinstance(k, str) and isinstance(v, Tensor | np.ndarray | np.generic) for k, v in obj.items())


def _flatten_if_nested(obj: Any, metadata: Mapping[str, str] | None) -> tuple[Any, Mapping[str, str] | None]:
    if _is_flat(obj) or not isinstance(obj, Mapping):
        return obj, metadata  # plain safetensors, as before (a non-dict gets _checked's message)
    if metadata and CHECKPOINT_KEY in metadata:
        raise SafetensorsError(f"save: the metadata key '{CHECKPOINT_KEY}' is chainrule's own; use another")
    arrays: dict[str, Any] = {}

    def where(path: list[Any]) -> str:
        return "".join(f"[{p!r}]" for p in path) or "the object"

    def encode(value: Any, path: list[Any]) -> list[Any]:
        if len(path) > MAX_DEPTH:
            raise SafetensorsError(f"save: {where(path[:3])}... nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, Tensor | np.ndarray):
            name = ".".join(str(p) for p in path) or "tensor"
            while name in arrays:  # paths like ["a.b"] and ["a", "b"] meet: keep both
                name += "'"
            arrays[name] = value
            return ["tensor" if isinstance(value, Tensor) else "array", name]
        if value is None:
            return ["none"]
        if isinstance(value, bool | np.bool_):
            return ["bool", bool(value)]
        if isinstance(value, int | np.integer):
            # A longer int would be written and then refused by load (a file that cannot be read back).
            text = str(int(value)) if int(value).bit_length() <= 4 * MAX_INT_DIGITS else ""
            if not text or len(text.lstrip("-")) > MAX_INT_DIGITS:
                raise SafetensorsError(f"save: the int at {where(path)} has more than {MAX_INT_DIGITS} digits, "
                                       "more than cr.load reads back; store it as a string")
            return ["int", text]
        if isinstance(value, float | np.floating):
            return ["float", repr(float(value))]
        if isinstance(value, str):
            return ["str", value]
        if isinstance(value, list | tuple):
            return ["tuple" if isinstance(value, tuple) else "list",
                    [encode(v, [*path, i]) for i, v in enumerate(value)]]
        if isinstance(value, Mapping):
            items = []
            for k, v in value.items():
                if not (k is None or isinstance(k, str | int | float | bool)):
                    raise TypeError(f"save: a key of {where(path)} is a {type(k).__name__}; keys must be strings, "
                                    "numbers, bools or None")
                items.append([encode(k, path), encode(v, [*path, k])])
            return ["dict", items]
        raise TypeError(f"save: the value at {where(path)} is a {_type_name(value)}; cr.save stores Tensors, "
                        "arrays, None, bools, numbers, strings, and lists/tuples/dicts of them (never pickle)")

    tree = encode(obj, [])
    return arrays, {**(metadata or {}), CHECKPOINT_KEY: json.dumps(tree, separators=(",", ":"))}


def _rebuild_if_nested(arrays: dict[str, np.ndarray], metadata: dict[str, str], source: str,
                       with_metadata: bool) -> Any:
    text = metadata.pop(CHECKPOINT_KEY, None)
    if text is None:
        return (arrays, metadata) if with_metadata else arrays
    try:
        tree = json.loads(text)
    except (ValueError, RecursionError):
        raise _fail(source, f"its '{CHECKPOINT_KEY}' metadata is not valid JSON") from None
    used: set[str] = set()

    def bad(problem: str) -> SafetensorsError:
        return _fail(source, f"its '{CHECKPOINT_KEY}' metadata {problem}")

    def decode(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise bad(f"nests deeper than {MAX_DEPTH} levels")
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise bad(f"has a node {_REPR.repr(node)} that is not a tagged list")
        tag, rest = node[0], node[1:]
        if tag == "none" and not rest:
            return None
        if len(rest) != 1:
            raise bad(f"has a {_REPR.repr(tag)} node with {len(rest)} values; expected 1")
        value = rest[0]
        if tag in ("tensor", "array"):
            if not isinstance(value, str) or value not in arrays:
                raise bad(f"names a tensor {_REPR.repr(value)} that the file does not hold")
            if value in used:
                raise bad(f"names tensor {_REPR.repr(value)} twice")
            used.add(value)
            return Tensor(arrays[value]) if tag == "tensor" else arrays[value]
        if tag == "bool" and isinstance(value, bool):
            return value
        if tag == "int" and isinstance(value, str) and len(value) <= MAX_INT_DIGITS + 1:  # with a sign
            with contextlib.suppress(ValueError):
                return int(value)
        if tag == "float" and isinstance(value, str) and len(value) <= 40:
            with contextlib.suppress(ValueError):
                return float(value)
        if tag == "str" and isinstance(value, str):
            return value
        if tag in ("list", "tuple") and isinstance(value, list):
            items = [decode(v, depth + 1) for v in value]
            return items if tag == "list" else tuple(items)
        if tag == "dict" and isinstance(value, list):
            out = {}
            for pair in value:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise bad("has a dict entry that is not a [key, value] pair")
                key = decode(pair[0], depth + 1)
                if not (key is None or isinstance(key, str | int | float | bool)):
                    raise bad(f"has a dict key of type {type(key).__name__}")
                out[key] = decode(pair[1], depth + 1)
            return out
        raise bad(f"has a node {_REPR.repr(node)} of unknown tag or bad value")

    obj = decode(tree, 0)
    if used != set(arrays):
        raise _fail(source, f"holds tensors its '{CHECKPOINT_KEY}' metadata does not place: "
                            f"{_REPR.repr(sorted(set(arrays) - used))}")
    return (obj, metadata) if with_metadata else obj


__all__ = ["DTYPES", "SafetensorsError", "check_writable", "deserialize", "load", "save", "serialize"]
