"""A small English text for language models, and a character-level tokenizer.

>>> text = load_text()
>>> text[:25]
"A Midsummer Night's Dream"
>>> tok = CharTokenizer(text)
>>> tok.decode(tok.encode("to be")) == "to be"
True
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["CharTokenizer", "load_text"]

TEXT_FILE = "shakespeare.txt.gz"


def load_text() -> str:
    """Three plays by Shakespeare (A Midsummer Night's Dream, Macbeth, Twelfth Night; public domain), as one str of
    309,381 ASCII characters, read from the package (no download). Source and licence: data/TEXT_LICENSE.txt."""
    data = resources.files("chainrule.data").joinpath(TEXT_FILE).read_bytes()
    return gzip.decompress(data).decode("utf-8")


class CharTokenizer:
    """Characters to integer ids and back; the vocabulary is the sorted set of characters of ``text``.

    ``encode(s)`` gives an int64 array (an unknown character is a KeyError naming it); ``decode(ids)`` takes
    ids as a list, array or Tensor. ``vocab_size`` is the number of distinct characters.

    >>> tok = CharTokenizer("hello")
    >>> tok.vocab_size, tok.encode("hole").tolist(), tok.decode([3, 0])
    (4, [1, 3, 2, 0], 'oe')
    """

    def __init__(self, text: str | Iterable[str]) -> None:
        if isinstance(text, str):
            chars = set(text)
        elif isinstance(text, bytes | bytearray) or not isinstance(text, Iterable):
            hint = "; decode it first, e.g. text.decode('utf-8')" if isinstance(text, bytes | bytearray) else ""
            raise TypeError(f"CharTokenizer expects text (a str or strings), got {type(text).__name__}{hint}")
        else:
            chars = set()
            for piece in text:
                if not isinstance(piece, str):
                    raise TypeError(f"CharTokenizer expects text (a str or strings), got a {type(piece).__name__}")
                chars.update(piece)
        if not chars:
            raise ValueError("CharTokenizer needs a non-empty text to build its vocabulary from")
        self.chars = sorted(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The id of each character of ``text``, as an int64 array."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode expects a str, got a {type(text).__name__}")
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise KeyError(f"CharTokenizer.encode: character {exc.args[0]!r} is not in the vocabulary of "
                           f"{self.vocab_size} characters") from None

    def decode(self, ids: Any) -> str:
        """The characters of ``ids`` (a list, an array or a Tensor of ints), as a str."""
        array = np.asarray(getattr(ids, "data", ids)) if not isinstance(ids, list) else np.asarray(ids)
        if array.dtype.kind not in "iu" and array.size:
            raise TypeError(f"CharTokenizer.decode expects integer ids, got dtype {array.dtype}")
        flat = array.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.vocab_size):
            raise ValueError(f"CharTokenizer.decode: ids must be in [0, {self.vocab_size}), got "
                             f"{int(flat.min())}..{int(flat.max())}")
        return "".join(self.chars[i] for i in flat.tolist())

    def state_dict(self) -> dict[str, Any]:
        """The vocabulary as plain values (for ``cr.save`` next to a model)."""
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> CharTokenizer:
        return cls(state["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
