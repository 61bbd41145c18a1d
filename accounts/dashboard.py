"""Dashboard cards, contributed by each app.

Apps register a function ``(user) -> list[Card]`` in their ``AppConfig.ready``;
the dashboard shows every card in registration order. This keeps dependencies
pointing one way: accounts knows no other app, the others plug in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    count: int
    url: str = ""
    detail: str = ""


_providers: list[Callable[[Any], list[Card]]] = []


def register(provider: Callable[[Any], list[Card]]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def cards_for(user: Any) -> list[Card]:
    return [card for provider in _providers for card in provider(user)]
