"""Tiny random Hugging Face models saved to disk, to test the real loading and generation code.

They reuse the bundled MiniLM tokenizer (no download), give it a chat template, and pair it
with a Llama-style causal LM and a BERT encoder of a few hundred thousand parameters.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel, LlamaConfig, LlamaForCausalLM

from shared.config import BUNDLED_ENCODER
from worker.engine.model_source import resolve_encoder

CHAT_TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)


def build_tiny_models(root: Path) -> tuple[Path, Path]:
    """Returns (causal_lm_dir, encoder_dir)."""
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_encoder(BUNDLED_ENCODER))
    lm_dir, enc_dir = root / "tiny-llama", root / "tiny-bert"
    lm = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            bos_token_id=tok.cls_token_id,
            eos_token_id=tok.sep_token_id,
            pad_token_id=tok.pad_token_id,
        )
    )
    lm.save_pretrained(lm_dir)
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(lm_dir)
    enc = BertModel(
        BertConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    )
    enc.save_pretrained(enc_dir)
    tok.save_pretrained(enc_dir)
    return lm_dir, enc_dir
