"""An IMAP mailbox as a mail source: unprocessed messages out, flag/move after commit.

Messages are fetched with BODY.PEEK so reading does not mark them; the processed flag (and
the move to a processed folder, if any) is set only by ``ack``, which ingestion calls after
the mail's ticket is committed. A crash in between means the mail is read again next time,
and Message-ID deduplication turns that into a harmless duplicate.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError

from producer.email.sources import RawMail
from shared.config import default
from shared.errors import SourceError

log = logging.getLogger(__name__)

Security = Literal["ssl", "starttls", "plain"]


@dataclass(frozen=True)
class ImapConfig:
    host: str
    user: str
    password: str
    port: int | None = None
    security: Security = "ssl"
    folder: str = default("imap_folder")
    processed_flag: str = default("imap_processed_flag")
    processed_folder: str | None = None
    ca_file: Path | None = None
    timeout_s: float = 30.0

    @property
    def resolved_port(self) -> int:
        return self.port or (993 if self.security == "ssl" else 143)

    @property
    def label(self) -> str:
        return f"imap://{self.user}@{self.host}:{self.resolved_port}/{self.folder}"

    @property
    def search_criteria(self) -> str:
        """Messages not yet carrying the processed flag."""
        system = {"\\seen": "UNSEEN", "\\flagged": "UNFLAGGED", "\\answered": "UNANSWERED"}
        return system.get(self.processed_flag.lower(), f"UNKEYWORD {self.processed_flag}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_config(config: ImapConfig) -> None:
    """Refuse settings that would leak the password, before any mail is read."""
    if config.security == "plain" and not is_loopback(config.host):
        raise SourceError(
            f"refusing to send the IMAP password unencrypted to {config.host}; "
            "use --ssl or --starttls (--plain is for loopback test servers)"
        )


class ImapSource:
    """A logged-in connection to one folder; use as a context manager, one per poll."""

    def __init__(self, config: ImapConfig) -> None:
        check_config(config)
        self.config = config
        self._box: BaseMailBox | None = None

    def __enter__(self) -> ImapSource:
        cfg = self.config
        try:
            box = self._connect()
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as err:
            msg = f"cannot reach IMAP server {cfg.host}:{cfg.resolved_port}: {err}"
            raise SourceError(msg) from err
        try:
            box.login(cfg.user, cfg.password, initial_folder=None)
            if not box.folder.exists(cfg.folder):
                raise SourceError(f"IMAP folder {cfg.folder!r} does not exist on {cfg.host}")
            box.folder.set(cfg.folder)
            if cfg.processed_folder and not box.folder.exists(cfg.processed_folder):
                box.folder.create(cfg.processed_folder)
        except MailboxLoginError:
            _close(box)
            raise SourceError(f"IMAP login failed for {cfg.user!r} on {cfg.host}") from None
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as err:
            _close(box)
            raise SourceError(f"IMAP error on {cfg.host}: {err}") from err
        except SourceError:
            _close(box)
            raise
        self._box = box
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._box is not None:
            _close(self._box, logout=True)
            self._box = None

    def _connect(self) -> BaseMailBox:
        cfg = self.config
        port, timeout = cfg.resolved_port, cfg.timeout_s
        if cfg.security == "plain":
            return MailBoxUnencrypted(cfg.host, port, timeout=timeout)
        context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
        if cfg.security == "starttls":
            return MailBoxStartTls(cfg.host, port, timeout=timeout, ssl_context=context)
        return MailBox(cfg.host, port, timeout=timeout, ssl_context=context)

    def pending(self) -> Iterator[RawMail]:
        """Unprocessed messages, oldest first, each with an ack that marks it processed."""
        box = self._require_box()
        try:
            uids = box.uids(self.config.search_criteria)
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as err:
            raise SourceError(f"IMAP search failed on {self.config.label}: {err}") from err
        for uid in uids:
            raw = self._fetch(box, uid)
            if raw is not None:
                yield RawMail(raw, f"{self.config.label};UID={uid}", partial(self._ack, uid))

    def _fetch(self, box: BaseMailBox, uid: str) -> bytes | None:
        try:
            typ, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
        except (OSError, imaplib.IMAP4.error) as err:
            raise SourceError(f"IMAP fetch of UID {uid} failed: {err}") from err
        for item in data if typ == "OK" else []:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        log.warning("UID %s vanished from %s before it was read", uid, self.config.label)
        return None

    def _ack(self, uid: str) -> None:
        box = self._require_box()
        try:
            box.flag(uid, self.config.processed_flag, True)
            if self.config.processed_folder:
                box.move(uid, self.config.processed_folder)
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as err:
            # The mail is stored; next run reads it again and counts it as a duplicate.
            log.warning("could not mark UID %s processed on %s: %s", uid, self.config.label, err)

    def _require_box(self) -> BaseMailBox:
        if self._box is None:
            raise RuntimeError("ImapSource used outside its 'with' block")
        return self._box


def _close(box: BaseMailBox, logout: bool = False) -> None:
    try:
        if logout:
            box.logout()
        else:
            box.client.shutdown()
    except Exception:  # the connection may already be gone; nothing left to clean up
        pass
