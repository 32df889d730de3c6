"""Versioned classifier artifacts on disk.

Layout: ``<heads_dir>/<version>/heads.pt`` (one Head per field), ``meta.json`` and optionally
``encoder/`` (a fine-tuned encoder with its tokenizer). ``<heads_dir>/LATEST`` names the
version to use. A version is written in a hidden temporary directory, renamed into place whole,
and only then named in LATEST (itself replaced atomically), so a worker polling LATEST never
sees a half-written artifact.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from shared.errors import ConfigError
from worker.engine.classifier.heads import Head

LATEST = "LATEST"
HEADS_FILE = "heads.pt"
META_FILE = "meta.json"
ENCODER_DIR = "encoder"


def new_version() -> str:
    """Sortable and unique: UTC time to the second plus a random suffix."""
    return f"v{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def latest_version(heads_dir: Path) -> str | None:
    """The version LATEST names, or None when there is none (or it points nowhere).

    Raises ``ConfigError`` when LATEST holds something that is not a version name.
    """
    try:
        version = (heads_dir / LATEST).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{heads_dir / LATEST} is unreadable: {err}") from None
    if not version:
        return None
    if "/" in version or "\x00" in version or version.startswith("."):
        raise ConfigError(f"{heads_dir / LATEST} names no version ({version[:40]!r})")
    return version if (heads_dir / version / HEADS_FILE).exists() else None


def list_versions(heads_dir: Path) -> list[str]:
    """Complete versions on disk, oldest first."""
    if not heads_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in heads_dir.iterdir()
        if not p.name.startswith(".") and (p / HEADS_FILE).exists()
    )


def load_artifact(
    heads_dir: Path, version: str
) -> tuple[dict[str, Head], dict[str, Any], Path | None]:
    """Heads per field, the metadata, and the fine-tuned encoder dir if the version has one."""
    vdir = heads_dir / version
    if not (vdir / HEADS_FILE).exists():
        raise FileNotFoundError(f"no classifier version {version!r} in {heads_dir}")
    # What a truncated or overwritten file raises: torch's unpickler or zip reader, the JSON
    # parser, or Head.from_dict on a dict of the wrong shape. torch's own message suggests
    # weights_only=False, which is not the way out, so it is not repeated.
    try:
        raw = torch.load(vdir / HEADS_FILE, map_location="cpu", weights_only=True)
        heads = {field: Head.from_dict(d) for field, d in raw.items()}
    except (pickle.UnpicklingError, EOFError, RuntimeError, OSError) as err:
        raise _unreadable(
            heads_dir, version, f"{HEADS_FILE} is corrupt ({type(err).__name__})"
        ) from err
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise _unreadable(heads_dir, version, f"{HEADS_FILE} holds no heads ({err!r})") from err
    try:
        meta = json.loads((vdir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise _unreadable(heads_dir, version, f"{META_FILE}: {err}") from None
    if not isinstance(meta, dict):
        raise _unreadable(heads_dir, version, f"{META_FILE} is not a JSON object")
    encoder_dir = vdir / ENCODER_DIR
    return heads, meta, encoder_dir if encoder_dir.exists() else None


def _unreadable(heads_dir: Path, version: str, why: str) -> ConfigError:
    return ConfigError(
        f"classifier version {version!r} in {heads_dir} is unreadable: {why}; "
        "point LATEST at another version or delete this one"
    )


def check_writable(heads_dir: Path) -> None:
    """Fail before a long training run, not after it, when versions cannot be saved here."""
    try:
        heads_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=heads_dir, prefix=".write-check-"):
            pass
    except OSError as err:
        raise ConfigError(
            f"cannot write classifier versions to {heads_dir} ({err.strerror or err}); "
            "set TICKETFLOW_CLASSIFIER_DIR to a writable directory"
        ) from None


def publish(heads_dir: Path, version: str) -> None:
    """Point LATEST at ``version`` with one atomic rename."""
    if not (heads_dir / version / HEADS_FILE).exists():
        raise FileNotFoundError(f"cannot publish {version!r}: not a complete version")
    tmp = heads_dir / f".{LATEST}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp"
    tmp.write_text(version, encoding="utf-8")
    os.replace(tmp, heads_dir / LATEST)


def save_artifact(
    heads_dir: Path,
    version: str,
    heads: dict[str, Head],
    meta: dict[str, Any],
    publish_now: bool = True,
    write_encoder: Callable[[Path], None] | None = None,
) -> Path:
    """Write a version whole (``write_encoder`` fills ``encoder/``), then optionally publish."""
    heads_dir.mkdir(parents=True, exist_ok=True)
    final = heads_dir / version
    if final.exists():
        raise FileExistsError(f"classifier version {version!r} exists already in {heads_dir}")
    tmp = heads_dir / f".tmp-{version}"
    tmp.mkdir()
    try:
        torch.save({f: h.to_dict() for f, h in heads.items()}, tmp / HEADS_FILE)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        if write_encoder is not None:
            write_encoder(tmp / ENCODER_DIR)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if publish_now:
        publish(heads_dir, version)
    return final
