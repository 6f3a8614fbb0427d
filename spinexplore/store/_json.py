"""The JSON codec of the store (exact ints, Python's float repr) and text HDF5 can hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["decode_json", "encode_json", "storable_text"]


def _plain(obj: Any, where: str) -> Any:
    """``obj`` with numpy scalars/arrays turned into Python ones; non-str keys rejected."""
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has key {key!r} of type {type(key).__name__}; JSON keys must be str. "
                    f"Convert it with str() before storing"
                )
            out[key] = _plain(value, f"{where}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist(), where)
    raise TypeError(
        f"{where} holds {obj!r:.60} of type {type(obj).__name__}, which JSON cannot store; "
        f"allowed: dict (str keys), list, tuple, str, int, float, bool, None and numpy scalars/arrays"
    )


def encode_json(obj: Any, name: str) -> str:
    """Encode a JSON-able mapping exactly (ints of any size stay ints, floats use ``repr``).

    Raises
    ------
    TypeError
        If ``obj`` is not a mapping or holds something JSON cannot represent.
    """
    if not isinstance(obj, Mapping):
        raise TypeError(f"{name} must be a mapping (a JSON-able dict); got {type(obj).__name__} {obj!r:.60}")
    plain = _plain(obj, name)
    try:
        return json.dumps(plain, allow_nan=True, separators=(",", ":"))
    except ValueError as exc:  # circular reference
        raise TypeError(f"{name} cannot be encoded as JSON: {exc}") from None


def decode_json(text: str) -> dict[str, Any]:
    """Inverse of :func:`encode_json` (a fresh object on each call)."""
    return json.loads(text)


def storable_text(value: Any) -> str:
    """``str(value)`` as HDF5 can hold it: NUL -> U+FFFD, unencodable surrogates -> '?'."""
    return str(value).replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
