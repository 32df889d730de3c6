"""The real transformers engine on tiny random models built in the test (local-path loading)."""

from pathlib import Path

import pytest
import torch

from shared.config import load_settings
from shared.errors import ConfigError
from shared.taxonomy import load_taxonomy
from worker.engine.draft_model import DraftGenerator
from worker.engine.transformers_engine import TransformersEngine


@pytest.fixture(scope="module")
def engine(tiny_models: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    lm, enc = tiny_models
    s = load_settings(
        draft_model=str(lm),
        encoder_model=str(enc),
        device="cpu",
        max_new_tokens=6,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    return TransformersEngine(s)


def _drafter(
    lm: Path, max_new_tokens: int, repetition_penalty: float, max_seconds: float | None = None
) -> DraftGenerator:
    return DraftGenerator(
        str(lm), "unused", torch.device("cpu"), 64, max_new_tokens, repetition_penalty, max_seconds
    )


def test_classify_returns_taxonomy_labels_with_confidences(engine: TransformersEngine) -> None:
    tax = load_taxonomy()
    out = engine.classify(["My card was charged twice", "Hola, mi pedido no ha llegado todavía"])
    assert len(out) == 2
    for c in out:
        assert c.category.name in tax.categories and 0 < c.category.confidence <= 1
        assert c.priority.name in tax.priorities and c.sentiment.name in tax.sentiments
        assert len(c.alternatives["category"]) == 2
        assert c.category.confidence >= c.alternatives["category"][0].confidence
    assert out[1].language.name == "es" and out[1].language.confidence > 0.5


def test_batched_generation_equals_one_by_one(engine: TransformersEngine) -> None:
    """Left padding must not change greedy output: a padding bug shows up here."""
    chats = [
        [{"role": "user", "content": "short"}],
        [{"role": "user", "content": "a much longer ticket text about a refund request"}],
    ]
    batched = engine.draft(chats)
    single = [engine.draft([c])[0] for c in chats]
    assert batched == single
    assert all(isinstance(t, str) for t in batched)


def test_engine_info_names_models_and_instance(
    engine: TransformersEngine, tiny_models: tuple[Path, Path]
) -> None:
    info = engine.info
    assert info.draft_model == str(tiny_models[0]) and info.device == "cpu"
    assert info.classifier_version == "zero-shot" and len(info.instance_id) == 32


def test_embed_is_unit_length(engine: TransformersEngine) -> None:
    v = engine.embed(["hello"])[0]
    assert abs(sum(x * x for x in v) - 1) < 1e-4


def test_missing_local_model_path_is_a_clear_error(tmp_path: Path) -> None:
    s = load_settings(
        draft_model=str(tmp_path / "nope"),
        encoder_model=str(tmp_path / "nope"),
        device="cpu",
        data_dir=tmp_path,
    )
    with pytest.raises(ConfigError, match="does not exist"):
        TransformersEngine(s)


def test_long_ticket_is_shortened_in_the_middle_not_at_the_end(
    tiny_models: tuple[Path, Path],
) -> None:
    gen = _drafter(tiny_models[0], max_new_tokens=4, repetition_penalty=1.15)
    body = "start of the ticket " + "blah " * 500 + "end of the ticket </ticket>"
    chat = [{"role": "system", "content": "be nice"}, {"role": "user", "content": body}]
    text = gen.fit(chat)
    assert gen._count(text) <= 64
    assert text.startswith("[system] be nice") and text.endswith("[assistant] ")
    assert "start of the" in text and "[...]" in text and "end of the ticket </ticket>" in text
    assert gen.fit(chat[:1]) == gen._render(chat[:1])  # short chats are left alone


def test_a_begun_reply_is_continued_and_kept(engine: TransformersEngine) -> None:
    chat = [
        {"role": "user", "content": "My parcel is late"},
        {"role": "assistant", "content": "Dear Ana,\n\nThank you for contacting us."},
    ]
    text = engine.drafter.fit(chat)
    assert text.rstrip().endswith("Thank you for contacting us.")  # no new turn opened
    assert not text.rstrip().endswith("[assistant]")
    [draft] = engine.draft([chat])
    assert draft.startswith("Dear Ana,\n\nThank you for contacting us.")


@pytest.mark.parametrize(("device", "freed"), [("cuda", 1), ("cpu", 0)])
def test_out_of_memory_frees_the_gpu_cache_and_still_fails(
    engine: TransformersEngine, monkeypatch: pytest.MonkeyPatch, device: str, freed: int
) -> None:
    """The error must still reach the batcher (it retries item by item), with the cache freed."""
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(1))
    monkeypatch.setattr(engine, "device", torch.device(device))

    def oom(_chats: object) -> list[str]:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine.drafter, "generate", oom)
    with pytest.raises(torch.OutOfMemoryError):
        engine.draft([[{"role": "user", "content": "hi"}]])
    assert len(calls) == freed


def test_other_model_errors_do_not_touch_the_gpu_cache(
    engine: TransformersEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(1))
    monkeypatch.setattr(engine, "device", torch.device("cuda"))

    def broken(_texts: object) -> list[object]:
        raise ValueError("bad input")

    monkeypatch.setattr(engine.classifier, "classify", broken)
    with pytest.raises(ValueError, match="bad input"):
        engine.classify(["hello"])
    assert calls == []


def test_generation_stops_itself_after_draft_max_seconds(tiny_models: tuple[Path, Path]) -> None:
    """The threads pool cannot interrupt a task: a slow generate must end on its own."""
    gen = _drafter(tiny_models[0], max_new_tokens=4000, repetition_penalty=1.0, max_seconds=0.05)
    gen.model.generation_config.eos_token_id = None  # only the clock can end it early
    [draft] = gen.generate([[{"role": "user", "content": "My parcel is late"}]])
    assert 0 < gen._count(draft) < 4000 // 2


def test_engine_passes_the_draft_time_limit_from_settings(engine: TransformersEngine) -> None:
    assert engine.drafter.max_seconds == load_settings().task_time_limit_s / 2


def test_control_tokens_come_from_the_loaded_tokenizer(engine: TransformersEngine) -> None:
    """The tiny model reuses the MiniLM tokenizer: its tokens are BERT's, in no list of ours."""
    from worker.pipeline.triage import fence_for

    tokens = engine.control_tokens()
    assert {"[CLS]", "[SEP]", "[MASK]"} <= tokens
    assert fence_for(engine)("a [SEP] b [CLS]") == "a \u2045SEP\u2046 b \u2045CLS\u2046"
