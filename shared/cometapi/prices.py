"""What each upstream call costs, in US dollars: read from the operation registry, where each price lives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.cometapi.operations import REGISTRY
from shared.errors import BadRequest


def price_for(operation: str, payload: Mapping[str, Any]) -> float:
    """The expected charge for one call: music with ``task: "extend"`` is an extend, other music a create."""
    found = REGISTRY.get(operation)
    if found is None:
        raise BadRequest(f"unknown operation {operation!r}", field="operation")
    return found.price_for(payload)


def price_table() -> dict[str, float]:
    """Every price as one flat table: ``<operation>``, or ``<operation>_create`` and ``<operation>_<task>`` for an
    operation whose ``task`` param changes its price."""
    table: dict[str, float] = {}
    for operation in REGISTRY.values():
        if not operation.task_prices:
            table[operation.name] = operation.price
            continue
        table[f"{operation.name}_create"] = operation.price
        table.update({f"{operation.name}_{task}": price for task, price in operation.task_prices.items()})
    return table


PRICES: dict[str, float] = price_table()  # the built-in operations' prices, for reports; price_for reads the registry
