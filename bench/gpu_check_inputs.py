"""Writes ``bench/gpu_inputs.json`` for ``bench/gpu_check.py``: the benchmark's 32 prompts as
SmolLM2 token ids (built and fitted exactly as the worker does), and the model shapes to test.

The GPU machine has no network, no pydantic/SQLModel and room for 64 MiB of files, so neither
the prompt-building code nor the 98 MB GGUF can travel; token ids and shapes can.

    python bench/gpu_check_inputs.py [--tickets 32] [--data-dir .ticketflow]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from draft_engines_prompts import build_prompts  # noqa: E402

# Llama-family shapes: the bundled model, its 1.7B sibling, and a 7B (LLaMA-2-7B's shape).
SHAPES = {
    "smollm2-135m": {
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
    },
    "smollm2-1.7b": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 24,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
    },
    "llama-7b-shape": {
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=32)
    ap.add_argument("--data-dir", type=Path, default=Path(".ticketflow"))
    ap.add_argument("--out", type=Path, default=BENCH / "gpu_inputs.json")
    args = ap.parse_args()
    import torch

    from shared.config import BUNDLED_DRAFT_MODEL, default
    from worker.engine.draft_model import DraftGenerator

    with tempfile.TemporaryDirectory() as tmp:
        chats_file = Path(tmp) / "chats.json"
        build_prompts(args.tickets, chats_file, args.data_dir)
        chats = json.loads(chats_file.read_text())
    gen = DraftGenerator(
        BUNDLED_DRAFT_MODEL,
        str(args.data_dir / "models"),
        torch.device("cpu"),
        default("max_input_tokens"),
        default("max_new_tokens"),
        default("repetition_penalty"),
    )
    prompts = [gen.prompt_ids(c) for c in chats]
    common = {
        "vocab_size": gen.model.config.vocab_size,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 2,
        "rms_norm_eps": 1e-5,
    }
    out = {
        "pad_id": gen.tokenizer.pad_token_id,
        "common": common,
        "shapes": SHAPES,
        "max_new_tokens": default("max_new_tokens"),
        "prompts": prompts,
    }
    args.out.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(
        f"{len(prompts)} prompts, {sum(map(len, prompts)) / len(prompts):.0f} tokens on "
        f"average -> {args.out}"
    )


if __name__ == "__main__":
    main()
