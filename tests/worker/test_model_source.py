"""Model loading failures are one clear ConfigError, not a traceback from the hub client."""

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from shared.errors import ConfigError
from worker.engine.classifier.encoder import SentenceEncoder
from worker.engine.draft_model import DraftGenerator
from worker.engine.model_source import check_local_or_hub

CPU = torch.device("cpu")
NOT_FOUND = "not a local path, not in the Hugging Face cache, and the hub could not be reached"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: an uncached hub id fails at once instead of after retries."""
    import huggingface_hub.constants as hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)  # read once, when the library is imported


def test_an_uncached_hub_id_for_the_encoder_is_a_config_error(offline: None) -> None:
    with pytest.raises(ConfigError, match=NOT_FOUND) as err:
        SentenceEncoder("org/does-not-exist", CPU)
    assert "\n" not in str(err.value) and "'org/does-not-exist'" in str(err.value)


def test_an_uncached_hub_id_for_the_draft_model_is_a_config_error(
    offline: None, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=NOT_FOUND):
        DraftGenerator("org/does-not-exist", str(tmp_path), CPU, 256, 16, 1.0)


def test_a_local_directory_that_holds_no_model_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(ConfigError, match=r"could not be loaded from .*empty-model"):
        SentenceEncoder(str(tmp_path / "empty-model"), CPU)


def test_a_local_model_still_loads(tiny_models: tuple[Path, Path], offline: None) -> None:
    assert SentenceEncoder(str(tiny_models[1]), CPU).embed(["hello"]).shape == (1, 32)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Point the hub client at a local server answering ``status`` to everything (or, for
    status 0, at a closed port), with an empty cache."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    servers: list[ThreadingHTTPServer] = []

    def start(status: int) -> str:
        if status == 0:
            with socket.socket() as s:  # bound, then closed: nothing listens there
                s.bind(("127.0.0.1", 0))
                url = f"http://127.0.0.1:{s.getsockname()[1]}"
        else:

            class Answer(BaseHTTPRequestHandler):
                def do_GET(self) -> None:
                    self.send_response(status)
                    self.end_headers()

                def log_message(self, *_: object) -> None:
                    pass

            server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            url = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setattr(constants, "ENDPOINT", url)
        return url

    yield start
    for server in servers:
        server.shutdown()


def test_an_unreachable_hub_fails_before_the_libraries_retry(
    hub: Callable[[int], str],
) -> None:
    hub(0)
    with pytest.raises(ConfigError, match=f"{NOT_FOUND}: ConnectError") as err:
        SentenceEncoder("org/not-cached", CPU)  # without the probe: ~50 s of retries, then
    assert "encoder 'org/not-cached'" in str(err.value)  # the library's own wording


def test_a_hub_that_answers_is_left_to_the_loader(hub: Callable[[int], str]) -> None:
    hub(404)
    check_local_or_hub("org/missing", "encoder")  # the hub answered: no probe error


def test_a_cached_hub_id_needs_no_hub(hub: Callable[[int], str], tmp_path: Path) -> None:
    hub(0)
    snapshot = tmp_path / "hub-cache/models--org--cached/snapshots/abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "hub-cache/models--org--cached/refs").mkdir()
    (tmp_path / "hub-cache/models--org--cached/refs/main").write_text("abc123")
    check_local_or_hub("org/cached", "encoder")
    with pytest.raises(ConfigError, match="hub could not be reached"):
        check_local_or_hub("org/other", "encoder")
