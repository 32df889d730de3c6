"""CPU threads for torch: how many, and what an idle OpenMP thread does.

Measured on the 2-core CPU this project runs on (issue 19): torch's default, one OpenMP thread
per core with the default wait policy, is 1.4-1.6x faster than one thread on a quiet machine
but 6-18x SLOWER as soon as anything else is busy (another worker, the API, a build): idle
OpenMP threads spin waiting for the next parallel region and fight the neighbour for the core.
With ``OMP_WAIT_POLICY=PASSIVE`` idle threads sleep, and the same contention costs nothing.

The wait policy is read once, when the OpenMP runtime loads (at ``import torch``), so it must
be in the environment before that: the worker CLI calls ``set_wait_policy`` first thing, and a
process that imports torch earlier gets a warning instead of a silent no-op. This module does
not import torch.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

OMP_ENV = "OMP_WAIT_POLICY"


def set_wait_policy(policy: str) -> bool:
    """Put ``policy`` (passive|active) in the environment for the OpenMP runtime; ``default``
    leaves the environment alone. Returns False (and warns) where torch is already loaded."""
    if policy == "default":
        return True
    if "torch" in sys.modules:
        current = os.environ.get(OMP_ENV, "unset")
        if current.upper() != policy.upper():
            log.warning(
                "TICKETFLOW_OMP_WAIT_POLICY=%s comes too late: torch is already loaded with "
                "OMP_WAIT_POLICY=%s; set it in the environment before the process starts",
                policy,
                current,
            )
        return current.upper() == policy.upper()
    # Writing (not reading) the environment: it is the OpenMP runtime's only input.
    os.environ[OMP_ENV] = policy.upper()
    return True


def set_torch_threads(threads: int) -> int:
    """Intra-op threads for this process; 0 keeps torch's default (one per core).

    Returns the number in effect, for the start-up log and the benchmark.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
