"""Versioned classifier artifacts on disk.

Layout: ``<heads_dir>/<version>/heads.pt`` (one Head per field), ``meta.json`` and optionally
``encoder/`` (a fine-tuned encoder). ``<heads_dir>/LATEST`` names the version to use; it is
written last, atomically, so a worker never sees a half-written artifact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from worker.classifier.heads import Head

LATEST = "LATEST"


def latest_version(heads_dir: Path) -> str | None:
    marker = heads_dir / LATEST
    if not marker.exists():
        return None
    version = marker.read_text(encoding="utf-8").strip()
    return version if (heads_dir / version / "heads.pt").exists() else None


def load_artifact(heads_dir: Path, version: str) -> tuple[dict[str, Head], dict[str, Any], Path | None]:
    """Heads per field, the metadata, and the fine-tuned encoder dir if the version has one."""
    vdir = heads_dir / version
    raw = torch.load(vdir / "heads.pt", map_location="cpu", weights_only=True)
    heads = {field: Head.from_dict(d) for field, d in raw.items()}
    meta = json.loads((vdir / "meta.json").read_text(encoding="utf-8"))
    encoder_dir = vdir / "encoder"
    return heads, meta, encoder_dir if encoder_dir.exists() else None


def save_artifact(heads_dir: Path, version: str, heads: dict[str, Head], meta: dict[str, Any],
                  publish: bool = True) -> Path:
    """Write a version's files, then (if ``publish``) point LATEST at it atomically."""
    vdir = heads_dir / version
    vdir.mkdir(parents=True, exist_ok=True)
    torch.save({f: h.to_dict() for f, h in heads.items()}, vdir / "heads.pt")
    (vdir / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    if publish:
        tmp = heads_dir / f".{LATEST}.tmp"
        tmp.write_text(version, encoding="utf-8")
        os.replace(tmp, heads_dir / LATEST)
    return vdir
