"""The installed ticketflow version, from the package metadata.

pyproject.toml is the one place the version is written; the CLI's ``--version`` and the API's
OpenAPI document both read it from here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def ticketflow_version() -> str:
    """The version pip installed; a source tree that was never installed says so."""
    try:
        return version("ticketflow")
    except PackageNotFoundError:
        return "0+unknown (not installed: run make install)"
