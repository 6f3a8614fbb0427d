"""The one plugin pattern: a named registry of factories.

Executors, surrogates, strategies and samplers are each looked up by name in a
:class:`Registry` (``BACKENDS``, ``SURROGATES``, ``STRATEGIES``, ``SAMPLERS``), a mapping
``name -> factory`` in registration order, and extended with a ``register_*`` function that
calls :meth:`Registry.register`. Validation, the documentation and the command line's choices
all read the same registry (:meth:`Registry.names`), so a plugin registered before a run is
accepted everywhere. A plugin that needs an optional package says so when it is registered
(``requires=``, ``extra=``); :meth:`Registry.check_available` (called by
:meth:`Registry.create`, and by the command line before any work) refuses it with the
``pip install`` line while the package is missing.

Each plugin kind has the same two modules: ``base.py`` (what a plugin is) and ``registry.py``
(the registry, its ``register_*`` function and the function that builds a plugin by name):
``execution/``, ``surrogates/``, ``strategies/`` and ``samplers/``.

The registry is an ``OrderedDict``: iterating it gives the names in order (so
``list(SAMPLERS)`` and ``"lhs" in SAMPLERS`` behave as they did when these were tuples), and
hypothesis can sample from it. It imports nothing heavier than :mod:`spinexplore._validation`,
so worker processes can use it.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from collections.abc import Callable, Sequence
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

    def __init__(self, kind: str, entries: Any = (), requires: Any = ()) -> None:
        super().__init__()
        self.kind = kind
        #: name -> (modules the plugin imports, the ``pip install spinexplore[extra]`` extra)
        self.requires: dict[str, tuple[tuple[str, ...], str | None]] = {}
        needs = dict(requires)
        for name, factory in dict(entries).items():
            modules, extra = needs.get(name, ((), None))
            self.register(name, factory, requires=modules, extra=extra)

    def register(self, name: str, factory: Callable[..., Any], *, requires: Sequence[str] = (),
                 extra: str | None = None) -> None:
        """Add ``factory`` under ``name``; an existing name is replaced in place.

        ``requires``: the optional modules the plugin needs (top-level import names, e.g.
        ``("distributed",)``), checked by :meth:`check_available` without importing them;
        ``extra``: the ``pip install spinexplore[extra]`` that provides them.
        """
        if not isinstance(name, str) or not name:
            raise InputTypeError(f"name must be a non-empty string; got {name!r}")
        if not callable(factory):
            raise InputTypeError(
                f"factory for {self.kind} {name!r} must be callable; got {factory!r} "
                f"({type(factory).__name__})"
            )
        if isinstance(requires, str) or not all(isinstance(m, str) and m for m in requires):
            raise InputTypeError(f"requires of {self.kind} {name!r} must be a sequence of module names; "
                                 f"got {requires!r}")
        self[name] = factory
        if requires:
            self.requires[name] = (tuple(requires), extra)
        else:
            self.requires.pop(name, None)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self.requires.pop(name, None)

    def pop(self, name: str, *default: Any) -> Any:
        self.requires.pop(name, None)
        return super().pop(name, *default)

    def clear(self) -> None:
        super().clear()
        self.requires.clear()

    def names(self) -> list[str]:
        """The registered names, in order (what error messages and the command line list)."""
        return list(self)

    def missing(self, name: str) -> list[str]:
        """The optional modules ``name`` needs that are not installed (found without importing them)."""
        modules, _ = self.requires.get(name, ((), None))
        return [m for m in modules if importlib.util.find_spec(m) is None]

    def check_available(self, name: Any, parameter: str | None = None) -> str:
        """:meth:`check`, then an ``ImportError`` naming the missing modules and the ``pip
        install`` line when a module the plugin needs is not installed."""
        self.check(name, parameter)
        absent = self.missing(name)
        if absent:
            extra = self.requires[name][1]
            hint = f": pip install spinexplore[{extra}]" if extra else ""
            raise ImportError(f"the {name!r} {self.kind} needs {', '.join(absent)}{hint}")
        return name

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
        """Call the factory registered under ``name`` (checked first, with its optional
        modules) with the arguments."""
        return self[self.check_available(name)](*args, **kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self)})"

    def __reduce__(self) -> Any:  # pickles as kind + entries (OrderedDict's reduce drops kind)
        return (type(self), (self.kind, list(self.items()), dict(self.requires)))
