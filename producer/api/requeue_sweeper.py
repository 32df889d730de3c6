"""The API's background sweep: tickets stored while Redis was down get sent once it is back.

Without it a ticket that missed the queue waited for someone to run ``ticketflow requeue``.
Every API replica may sweep; a ticket sent twice still gets one result.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from producer.enqueue import Enqueuer
from producer.intake import requeue_unsent
from shared.config import Settings
from shared.db import get_engine

log = logging.getLogger(__name__)
# A ticket stored this recently is left to the producer that is sending it.
UNSENT_GRACE_S = 30


class RequeueSweeper:
    def __init__(self, settings: Settings, enqueuer: Enqueuer) -> None:
        self.settings = settings
        self.enqueuer = enqueuer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """One pass; errors are logged, not raised: the next pass tries again."""
        try:
            engine = get_engine(self.settings.resolved_database_url)
            with Session(engine, expire_on_commit=False) as session:
                sent = requeue_unsent(
                    session, self.enqueuer, self.settings.requeue_after_s, UNSENT_GRACE_S
                )
        except SQLAlchemyError as err:
            log.warning("requeue sweep skipped, database unavailable: %s", err)
            return 0
        if sent:
            log.info("requeue sweep re-sent %d ticket(s)", sent)
        return sent

    def start(self) -> None:
        if self.settings.requeue_interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="requeue-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sweep()
            self._stop.wait(self.settings.requeue_interval_s)
