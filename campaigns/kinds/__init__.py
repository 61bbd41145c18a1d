"""The campaign kinds: one module per kind in this package.

Each module defines ``KIND``, an instance of a ``base.Kind`` subclass. They are
found when this package is imported, so adding a kind is adding one module —
no registration elsewhere, no migration (``Campaign.kind`` stores the name).
"""

from __future__ import annotations

import importlib
import pkgutil

from campaigns.kinds.base import Kind

_REGISTRY: dict[str, Kind] = {}


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        kind = importlib.import_module(f"{__name__}.{info.name}").KIND
        if kind.name in _REGISTRY:
            raise RuntimeError(f"two campaign kinds are named {kind.name!r}")
        _REGISTRY[kind.name] = kind


def get(name: str) -> Kind:
    """The kind called ``name``; KeyError for a name no module defines."""
    return _REGISTRY[name]


def all_kinds() -> list[Kind]:
    """Every kind, in the order they are offered (``Kind.order``)."""
    return sorted(_REGISTRY.values(), key=lambda kind: (kind.order, kind.name))


def choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in all_kinds()]


_discover()
