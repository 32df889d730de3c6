"""Connectors by kind and by configured name.

Each kind's module is imported only when a connector of that kind is built, so a process
that uses Zammad never imports the others. A connector is built once per process and kept
(``Registry``): its HTTP client keeps connections open between writes.
"""

from __future__ import annotations

import importlib
import threading

from connectors.base import Connector
from shared.config import Settings
from shared.errors import NotFoundError

# kind -> "module:Class"
KINDS: dict[str, str] = {
    "zammad": "connectors.zammad:ZammadConnector",
    "zendesk": "connectors.zendesk:ZendeskConnector",
    "freshdesk": "connectors.freshdesk:FreshdeskConnector",
    "chatwoot": "connectors.chatwoot:ChatwootConnector",
    "rt": "connectors.rt:RtConnector",
}


def connector_class(kind: str) -> type[Connector]:
    module, _, cls = KINDS[kind].partition(":")
    found: type[Connector] = getattr(importlib.import_module(module), cls)
    return found


def build(name: str, settings: Settings) -> Connector:
    """A new connector for the configured ``name``; ``NotFoundError`` when none is."""
    config = settings.connectors.get(name)
    if config is None:
        raise NotFoundError(f"no connector named {name!r} is configured")
    return connector_class(config.kind)(name, config)


class Registry:
    """The connectors of one process, built on first use and closed together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, Connector] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Connector:
        with self._lock:
            if name not in self._built:
                self._built[name] = build(name, self.settings)
            return self._built[name]

    def names(self) -> list[str]:
        return sorted(self.settings.connectors)

    def close(self) -> None:
        with self._lock:
            for connector in self._built.values():
                connector.close()
            self._built.clear()
