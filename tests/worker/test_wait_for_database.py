"""Start-up backoff: wait for a database that is down, never for one that is not migrated."""

import pytest
from sqlalchemy.exc import OperationalError

from worker.edge.runtime import MAX_START_BACKOFF_S, wait_for_database


def _down() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_waits_with_growing_backoff_until_the_database_answers() -> None:
    failures = [_down() for _ in range(7)]
    slept: list[float] = []

    def load() -> int:
        if failures:
            raise failures.pop()
        return 3

    assert wait_for_database(load, sleep=slept.append) == 3
    assert slept == [1, 2, 4, 8, 16, MAX_START_BACKOFF_S, MAX_START_BACKOFF_S]


def test_a_database_without_tables_is_not_waited_for() -> None:
    def load() -> int:
        raise OperationalError("SELECT", {}, Exception("no such table: kb_passage"))

    with pytest.raises(OperationalError, match="no such table"):
        wait_for_database(load, sleep=lambda _s: pytest.fail("must not wait"))
