"""Model loading failures are one clear ConfigError, not a traceback from the hub client."""

from pathlib import Path

import pytest
import torch

from shared.errors import ConfigError
from worker.classifier.encoder import SentenceEncoder
from worker.draft_model import DraftGenerator

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
