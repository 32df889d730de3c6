"""Local mail sources: mbox files, Maildir folders and .eml files, as raw bytes.

Each mail comes with an origin (where a person finds it again) and an ``ack`` callback that
ingestion calls once the mail's outcome is committed. Local sources are read-only, so their
ack does nothing: a re-run is made harmless by Message-ID deduplication instead.
"""

from __future__ import annotations

import mailbox
import re
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


# An mbox separator ("postmark"): "From " + sender + an asctime date, e.g.
# "From ana@example.com Fri Jul  8 12:08:34 2011" or Thunderbird's "From - Sat Jan  1 ...".
_POSTMARK = re.compile(
    rb"^From \S*\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
    rb"Nov|Dec) [ \d]?\d \d{1,2}:\d\d"
)
_QUOTED_FROM = re.compile(rb"^>(>*From )")


def _mbox(path: Path) -> Iterator[RawMail]:
    """Split an mbox at postmark lines that follow a blank line (or start the file), and undo
    mboxrd quoting (">From " -> "From "). Python's ``mailbox.mbox`` splits at every line that
    starts with "From ", so an unquoted body line ("From now on ...") cut a mail in two."""
    try:
        fh = path.open("rb")
    except OSError as err:
        raise SourceError(f"cannot read mbox {path}: {err}") from err
    with fh:
        current: list[bytes] = []
        index = -1  # -1: content before the first postmark
        previous_blank = True
        try:
            for line in fh:
                if previous_blank and _POSTMARK.match(line):
                    yield from _finish(current, index, path)
                    current, index = [], index + 1
                    previous_blank = False
                    continue
                previous_blank = not line.strip()
                current.append(_QUOTED_FROM.sub(rb"\1", line) if index >= 0 else line)
        except OSError as err:
            raise SourceError(f"cannot read mbox {path}: {err}") from err
        yield from _finish(current, index, path)


def _finish(lines: list[bytes], index: int, path: Path) -> Iterator[RawMail]:
    if index < 0:
        if b"".join(lines).strip():  # a lone .eml passed as --mbox, or junk
            yield RawMail(b"".join(lines), f"mbox:{path}#before-first-From-line")
        return
    if lines and not lines[-1].strip():
        lines = lines[:-1]  # the blank line that separates it from the next postmark
    yield RawMail(b"".join(lines), f"mbox:{path}#{index}")


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
