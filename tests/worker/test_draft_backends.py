"""Drafting backends (issue 19): dtype by hardware, batching modes, threads, the vLLM adapter."""

from __future__ import annotations

import logging
import os
import sys
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
import torch

from shared.config import load_settings
from shared.errors import ConfigError
from worker.engine.device import cpu_flags, pick_dtype
from worker.engine.draft_model import DraftGenerator
from worker.engine.drafters import build_drafter, pick_batching
from worker.engine.generation import GenerationParams, continuous_generate, unsupported
from worker.threads import OMP_ENV, set_wait_policy

CPU = torch.device("cpu")
CHATS = [
    [{"role": "user", "content": "My card was charged twice this month."}],
    [
        {"role": "user", "content": "Where is my parcel? It is a week late."},
        {"role": "assistant", "content": "Dear Ana,"},
    ],
]


def test_auto_dtype_is_bf16_only_on_cpus_with_bf16_units(tmp_path: Path) -> None:
    assert pick_dtype(CPU, "auto", frozenset({"avx512f", "avx512_bf16"})) == torch.bfloat16
    assert pick_dtype(CPU, "auto", frozenset({"amx_bf16"})) == torch.bfloat16
    assert pick_dtype(CPU, "auto", frozenset({"avx2", "avx512f"})) == torch.float32
    assert pick_dtype(CPU, "float32", frozenset({"amx_bf16"})) == torch.float32
    assert pick_dtype(CPU, "bfloat16", frozenset()) == torch.bfloat16
    with pytest.raises(ConfigError, match="TICKETFLOW_DTYPE"):
        pick_dtype(CPU, "int4")
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16 amx_tile\n")
    assert cpu_flags(info) == {"fpu", "sse2", "avx512_bf16", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_dtype_setting_is_validated_with_its_name() -> None:
    with pytest.raises(ConfigError, match="TICKETFLOW_DTYPE"):
        load_settings(dtype="fp8")
    with pytest.raises(ConfigError, match="TICKETFLOW_DRAFT_BACKEND"):
        load_settings(draft_backend="llama.cpp")


@pytest.mark.parametrize(
    ("device", "penalty", "setting", "expected"),
    [
        ("cpu", 1.0, "auto", "static"),  # measured slower on CPUs
        ("cuda", 1.15, "auto", "static"),  # would drop the penalty: drafts would change
        ("cuda", 1.0, "auto", "continuous"),
        ("cpu", 1.15, "continuous", "continuous"),  # asked for explicitly: honoured, said
    ],
)
def test_auto_batching_picks_continuous_only_where_it_changes_nothing(
    device: str, penalty: float, setting: str, expected: str
) -> None:
    s = load_settings(repetition_penalty=penalty, draft_batching=setting)
    assert pick_batching(s, torch.device(device)) == expected


def test_what_continuous_batching_cannot_honour_is_named() -> None:
    params = GenerationParams(128, repetition_penalty=1.15, max_seconds=30)
    assert unsupported("static", params) == []
    gaps = unsupported("continuous", params)
    assert any("repetition_penalty=1.15 is NOT applied" in g for g in gaps)
    assert any("time limit is NOT applied" in g for g in gaps)
    assert unsupported("continuous", GenerationParams(128)) == []


def test_continuous_drafter_says_at_start_what_it_drops(
    tiny_models: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="worker.engine.draft_model"):
        gen = DraftGenerator(
            str(tiny_models[0]), "unused", CPU, 64, 4, 1.15, 20.0, "auto", "continuous"
        )
    assert gen.unsupported and "repetition_penalty=1.15 is NOT applied" in caplog.text


def test_continuous_batching_drafts_what_static_batches_draft(
    tiny_models: tuple[Path, Path],
) -> None:
    """Greedy, no penalty, fp32: both paths give the same tokens."""
    static = DraftGenerator(str(tiny_models[0]), "unused", CPU, 64, 5, 1.0, None, "float32")
    cont = DraftGenerator(
        str(tiny_models[0]), "unused", CPU, 64, 5, 1.0, None, "float32", "continuous"
    )
    assert cont.generate_ids(CHATS) == static.generate_ids(CHATS)
    assert cont.generate(CHATS)[1].startswith("Dear Ana,")


@contextmanager
def _counting(seen: list[int]) -> Iterator[Callable[[int], AbstractContextManager[None]]]:
    @contextmanager
    def watch(texts: int) -> Iterator[None]:
        seen.append(texts)
        yield

    yield watch


def test_the_continuous_stream_drafts_ticket_by_ticket_what_static_batches_draft(
    tiny_models: tuple[Path, Path],
) -> None:
    """The worker's continuous path: one transformers manager for the worker's life, each
    ticket adding its own request from its own thread and getting its own draft back."""
    static = DraftGenerator(str(tiny_models[0]), "unused", CPU, 64, 5, 1.0, None, "float32")
    cont = DraftGenerator(
        str(tiny_models[0]), "unused", CPU, 64, 5, 1.0, None, "float32", "continuous", 4
    )
    assert static.stream(lambda n: nullcontext()) is None  # static batches: micro-batched
    seen: list[int] = []
    with _counting(seen) as watch:
        stream = cont.stream(watch)
    assert stream is not None
    try:
        chats = CHATS * 3
        with ThreadPoolExecutor(len(chats)) as pool:
            got = list(pool.map(lambda c: stream.submit(c, 120), chats))
        assert got == static.generate(chats)
        assert got[1].startswith("Dear Ana,")
        assert seen == [1] * len(chats)  # each ticket's wait is timed by the watchdog
    finally:
        stream.close()
    with pytest.raises(RuntimeError, match="stopping"):
        stream.submit(CHATS[0], 5)


def test_a_lost_continuous_request_fails_the_batch_instead_of_vanishing() -> None:
    class HalfModel:
        device = CPU
        generation_config = types.SimpleNamespace(eos_token_id=2)

        def generate_batch(self, inputs: list[list[int]], **_: Any) -> dict[str, Any]:
            # generate_batch logs a failure and returns what it has.
            return {"req_0": types.SimpleNamespace(generated_tokens=[5, 2], error=None)}

    with pytest.raises(RuntimeError, match="returned 1 of 2"):
        continuous_generate(HalfModel(), [[1, 2], [3, 4]], GenerationParams(4), 0)


def test_bf16_drafts_come_out_on_a_cpu(tiny_models: tuple[Path, Path]) -> None:
    gen = DraftGenerator(str(tiny_models[0]), "unused", CPU, 64, 4, 1.15, None, "bfloat16")
    assert gen.model.dtype == torch.bfloat16
    drafts = gen.generate(CHATS)
    assert len(drafts) == 2 and drafts[1].startswith("Dear Ana,")


def test_wait_policy_goes_into_the_environment_before_torch_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(OMP_ENV, "ACTIVE")
    monkeypatch.delitem(sys.modules, "torch")  # as in `ticketflow worker` before the import
    assert set_wait_policy("passive")
    assert os.environ[OMP_ENV] == "PASSIVE"


def test_wait_policy_after_torch_loaded_is_a_warning_not_a_silent_no_op(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(OMP_ENV, "ACTIVE")
    with caplog.at_level(logging.WARNING, logger="worker.threads"):
        assert not set_wait_policy("passive")
    assert "comes too late" in caplog.text
    assert os.environ[OMP_ENV] == "ACTIVE"
    assert set_wait_policy("default")


class FakeLLM:
    """vLLM's offline ``LLM``, as far as the adapter uses it (vLLM itself is an optional extra
    that this CI does not install)."""

    def __init__(self, tokenizer_dir: str, **kwargs: Any) -> None:
        from transformers import AutoTokenizer

        self.kwargs = kwargs
        self.tok = AutoTokenizer.from_pretrained(tokenizer_dir)
        self.calls: list[Any] = []

    def get_tokenizer(self) -> Any:
        return self.tok

    def generate(self, prompts: list[dict[str, Any]], params: Any, use_tqdm: bool) -> list[Any]:
        self.calls.append((prompts, params))
        out = types.SimpleNamespace(text=" we are on it.", token_ids=[1, 2, 3])
        return [types.SimpleNamespace(outputs=[out]) for _ in prompts]


def test_vllm_backend_gets_the_same_prompts_and_greedy_settings(
    tiny_models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[FakeLLM] = []

    def llm(model: str, **kwargs: Any) -> FakeLLM:
        made.append(FakeLLM(model, **kwargs))
        return made[-1]

    fake = types.ModuleType("vllm")
    fake.LLM = llm  # type: ignore[attr-defined]
    fake.SamplingParams = lambda **kw: kw  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)
    s = load_settings(
        draft_backend="vllm",
        draft_model=str(tiny_models[0]),
        data_dir=tmp_path,
        max_input_tokens=64,
        max_new_tokens=7,
        dtype="bfloat16",
    )
    drafter = build_drafter(s, CPU)
    # Every setting honoured: the time limit by the worker's stream (test_vllm_stream.py).
    assert drafter.backend == "vllm" and drafter.unsupported == []
    drafts = drafter.generate(CHATS)
    assert drafts == ["we are on it.", "Dear Ana, we are on it."]
    [(prompts, params)] = made[0].calls
    assert made[0].kwargs["dtype"] == "bfloat16"
    # On a CPU: a fixed KV cache (not a share of the RAM) and no minutes-long compile.
    assert made[0].kwargs["kv_cache_memory_bytes"] == 1 << 30
    assert made[0].kwargs["enforce_eager"] is True
    assert "gpu_memory_utilization" not in made[0].kwargs
    assert params == {
        "temperature": 0.0,
        "max_tokens": 7,
        "repetition_penalty": 1.15,
        "skip_special_tokens": True,
    }
    reference = DraftGenerator(str(tiny_models[0]), "unused", CPU, 64, 7, 1.15)
    assert [p["prompt_token_ids"] for p in prompts] == [reference.prompt_ids(c) for c in CHATS]


def test_vllm_engine_arguments_by_device() -> None:
    from worker.engine.vllm_drafter import engine_kwargs

    gpu = engine_kwargs(torch.device("cuda", 0), torch.bfloat16, 2176, 0.85, 1.0, None)
    assert gpu == {
        "dtype": "bfloat16",
        "max_model_len": 2176,
        "seed": 0,
        "gpu_memory_utilization": 0.85,
        "enforce_eager": False,  # CUDA graphs and torch.compile: worth their start time
    }
    cpu = engine_kwargs(CPU, torch.float32, 2176, 0.85, 0.5, False)
    assert cpu["kv_cache_memory_bytes"] == 1 << 29 and cpu["enforce_eager"] is False
    assert "gpu_memory_utilization" not in cpu


def test_vllm_backend_without_vllm_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails
    s = load_settings(draft_backend="vllm", data_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"ticketflow\[vllm\]"):
        build_drafter(s, CPU)
