"""The start marker that makes a re-process run resumable.

A re-process run re-queues only tickets whose current revision was enqueued before the run
started. That start time is saved under ``data_dir``, keyed by the run's filters, queue and
database, so running the same command again after a crash or Ctrl-C resumes with the same
marker instead of re-queueing what the first attempt did. It is removed once the run completes;
the next run after that is a new run with a new marker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shared.errors import InputError


def marker_key(parts: dict[str, object]) -> str:
    """Same filters, queue and database -> same marker; a hash keeps credentials off disk."""
    canonical = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class RunMarker:
    path: Path
    started_at: datetime
    resumed: bool  # True when an earlier, unfinished run with the same filters left it

    @classmethod
    def open(cls, state_dir: Path, key: str, now: datetime) -> RunMarker:
        """The unfinished run's marker under ``key``, or a new one starting ``now``."""
        path = state_dir / f"reprocess-{key}.json"
        if not path.exists():
            return cls(path, now, resumed=False)
        try:
            started_at = datetime.fromisoformat(json.loads(path.read_text())["started_at"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(
                f"{path}: unreadable run marker ({err}); delete it to start over"
            ) from None
        return cls(path, started_at, resumed=True)

    def save(self, info: dict[str, object]) -> None:
        """Write the marker (with ``info`` for people) before the first ticket is touched."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        payload = {"started_at": self.started_at.isoformat(), "run": info}
        tmp.write_text(json.dumps(payload, indent=2, default=str))
        tmp.replace(self.path)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
