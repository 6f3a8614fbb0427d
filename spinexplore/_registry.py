"""The one plugin pattern: a named registry of factories.

Executors, surrogates, strategies and samplers are each looked up by name in a
:class:`Registry` (``BACKENDS``, ``SURROGATES``, ``STRATEGIES``, ``SAMPLERS``), a mapping
``name -> factory`` in registration order, and extended with a ``register_*`` function that
calls :meth:`Registry.register`. Validation, the documentation and the command line's choices
all read the same registry, so a plugin registered before a run is accepted everywhere.

The registry is an ``OrderedDict``: iterating it gives the names in order (so
``list(SAMPLERS)`` and ``"lhs" in SAMPLERS`` behave as they did when these were tuples), and
hypothesis can sample from it. It imports nothing heavier than :mod:`spinexplore._validation`,
so worker processes can use it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from spinexplore._validation import InputError, InputTypeError

__all__ = ["Registry"]


class Registry(OrderedDict):
    """Plugins of one kind, by name.

    Parameters
    ----------
    kind : str
        The parameter a name is passed as (``"backend"``, ``"surrogate"``, ``"strategy"``,
        ``"method"``); it starts every error message.
    entries : mapping or iterable of (name, factory), optional
        The built-in plugins, in the order they are listed.

    Examples
    --------
    >>> shapes = Registry("shape", {"circle": dict})
    >>> shapes.register("square", list)
    >>> list(shapes)
    ['circle', 'square']
    >>> shapes.check("hexagon")
    Traceback (most recent call last):
    ...
    spinexplore._validation.InputError: shape must be one of ['circle', 'square']; got 'hexagon'
    """

    def __init__(self, kind: str, entries: Any = ()) -> None:
        super().__init__()
        self.kind = kind
        for name, factory in dict(entries).items():
            self.register(name, factory)

    def register(self, name: str, factory: Callable[..., Any]) -> None:
        """Add ``factory`` under ``name``; an existing name is replaced in place."""
        if not isinstance(name, str) or not name:
            raise InputTypeError(f"name must be a non-empty string; got {name!r}")
        if not callable(factory):
            raise InputTypeError(
                f"factory for {self.kind} {name!r} must be callable; got {factory!r} "
                f"({type(factory).__name__})"
            )
        self[name] = factory

    def check(self, name: Any, parameter: str | None = None, extra: str = "") -> str:
        """Return ``name`` if it is registered, else raise :class:`InputError` listing the names.

        ``parameter`` overrides the parameter named in the message; ``extra`` is appended to
        the list of allowed values (``"or a function ..."``).
        """
        if isinstance(name, str) and name in self:
            return name
        what = f"one of {list(self)}{extra}"
        raise InputError(f"{parameter or self.kind} must be {what}; got {name!r}")

    def create(self, name: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered under ``name`` (checked first) with the arguments."""
        return self[self.check(name)](*args, **kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self)})"

    def __reduce__(self) -> Any:  # pickles as kind + entries (OrderedDict's reduce drops kind)
        return (type(self), (self.kind, list(self.items())))
