"""Local mail sources: mbox files, Maildir folders and .eml files, as raw bytes.

Each mail comes with an origin (where a person finds it again) and an ``ack`` callback that
ingestion calls once the mail's outcome is committed. Local sources are read-only, so their
ack does nothing: a re-run is made harmless by Message-ID deduplication instead.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import SourceError


def _noop() -> None:
    return None


@dataclass(frozen=True)
class RawMail:
    raw: bytes
    origin: str
    ack: Callable[[], None] = field(default=_noop)


def iter_mbox(path: Path) -> Iterator[RawMail]:
    """Each message of an mbox file, in file order; a missing file fails here, not later."""
    if not path.is_file():
        raise SourceError(f"no mbox file at {path}")
    return _mbox(path)


def _leading_content(path: Path) -> bytes:
    """What precedes the first "From " line: mailbox.mbox skips it without a word."""
    lines: list[bytes] = []
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"From "):
                break
            lines.append(line)
    return b"".join(lines)


def _mbox(path: Path) -> Iterator[RawMail]:
    try:
        leading = _leading_content(path)
    except OSError as err:
        raise SourceError(f"cannot read mbox {path}: {err}") from err
    if leading.strip():  # a lone .eml passed as --mbox, or junk: ingested or quarantined
        yield RawMail(leading, f"mbox:{path}#before-first-From-line")
    box = mailbox.mbox(path, create=False)
    try:
        for index, key in enumerate(box.iterkeys()):
            yield RawMail(box.get_bytes(key), f"mbox:{path}#{index}")
    except (OSError, mailbox.Error) as err:
        raise SourceError(f"cannot read mbox {path}: {err}") from err
    finally:
        box.close()


def iter_maildir(path: Path) -> Iterator[RawMail]:
    """Each message of a Maildir (new/ and cur/), oldest file name first."""
    if not (path / "cur").is_dir() and not (path / "new").is_dir():
        raise SourceError(f"no Maildir at {path} (expected cur/ and new/ inside)")
    return _maildir(path)


def _maildir(path: Path) -> Iterator[RawMail]:
    box = mailbox.Maildir(path, factory=None, create=False)
    try:
        for key in sorted(box.iterkeys()):
            yield RawMail(box.get_bytes(key), f"maildir:{path}/{key}")
    except (OSError, mailbox.Error) as err:
        raise SourceError(f"cannot read Maildir {path}: {err}") from err
    finally:
        box.close()


def iter_eml(paths: list[Path]) -> Iterator[RawMail]:
    """Each given .eml file, and every *.eml below each given folder, in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.eml") if p.is_file())
            if not found:
                raise SourceError(f"no .eml files in the folder {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(f"no .eml file or folder at {path}")
    return _eml(files)


def _eml(files: list[Path]) -> Iterator[RawMail]:
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError as err:
            raise SourceError(f"cannot read {file}: {err}") from err
        yield RawMail(raw, f"eml:{file}")
