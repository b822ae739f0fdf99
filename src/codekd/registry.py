"""One small generic registry used for every concept (tasks, students, methods, metrics, ...).

>>> from codekd.registry import Registry
>>> colours = Registry("colour")
>>> @colours.register("red")
... def red():
...     return "#f00"
>>> colours.get("red")()
'#f00'
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with helpful errors for unknown names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None, *, overwrite: bool = False):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""

        def _add(o: T) -> T:
            key = name.lower()
            if key in self._items and not overwrite:
                raise RegistryError(f"{self.kind} {name!r} is already registered (pass overwrite=True to replace it)")
            self._items[key] = o
            return o

        if obj is None:
            return _add
        return _add(obj)

    def unregister(self, name: str) -> None:
        self._items.pop(name.lower(), None)

    def get(self, name: str) -> T:
        key = name.lower()
        if key not in self._items:
            close = difflib.get_close_matches(key, list(self._items), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        return self._items[key]

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def describe(self, name: str) -> str:
        obj = self.get(name)
        desc = getattr(obj, "description", None) or (obj.__doc__ or "").strip().splitlines()[:1]
        if isinstance(desc, list):
            desc = desc[0] if desc else ""
        return f"{name}: {desc}"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


def make_decorator(registry: Registry[T]) -> Callable[[str], Callable[[T], T]]:
    return lambda name: registry.register(name)
