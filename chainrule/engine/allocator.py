"""The C heap's settings for large arrays (glibc only), applied once when chainrule is imported.

Why. NumPy takes an array's memory from ``malloc``. glibc hands memory back to the system whenever the free space at
the top of its heap exceeds a trim threshold, which by default adapts to twice the largest freed ``mmap`` block
(8 MB once a 4 MB array was freed). A backward pass ends by freeing its saved values and temporaries together, often
more than that, so the heap shrinks after every step and the next step touches fresh pages again: on W3 (1e6 float32
values) about 5,000 minor page faults per step, and twice the time of the same arithmetic on warm memory.

What. Two ``mallopt`` settings, the same for the whole process:

- ``M_MMAP_THRESHOLD`` = 32 MiB, glibc's own ceiling for its adaptive threshold, now fixed: blocks below it come from
  the heap (so they can be reused), larger ones are mapped and unmapped as before;
- ``M_TRIM_THRESHOLD`` = 256 MiB: up to that much free memory stays in the heap for the next step.

The cost is memory the process already used and freed staying resident (at most 256 MiB of it). NumPy code of
the same process only gains: it faults no more pages than before, usually fewer.

Opt out with ``CHAINRULE_MALLOC=0`` in the environment. chainrule also leaves the allocator alone when the user chose
its settings (any ``MALLOC_*_`` variable or ``GLIBC_TUNABLES``), or when the C library is not glibc.
"""

from __future__ import annotations

import os

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h

_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_",
                  "GLIBC_TUNABLES")

#: What ``tune_heap`` did: "tuned", or why it left the allocator alone.
state = "not run"


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


def tune_heap(environ: os._Environ | dict[str, str] = os.environ, mmap_threshold: int = MMAP_THRESHOLD,
              trim_threshold: int = TRIM_THRESHOLD) -> str:
    """Apply the settings above (see the module's docstring); returns and records what happened. A job that knows
    its arrays are larger (``chainrule train --model charlm``) may raise both thresholds."""
    global state
    if environ.get("CHAINRULE_MALLOC", "1").strip().lower() in ("0", "off", "false", "no"):
        state = "off: CHAINRULE_MALLOC=0"
    elif any(name in environ for name in _USER_SETTINGS):
        state = "left alone: the environment sets glibc's malloc"
    elif not _glibc():
        state = "left alone: the C library is not glibc"
    else:
        import ctypes

        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            state = "left alone: mallopt not found"
            return state
        done = mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
        state = "tuned" if done else "left alone: mallopt refused the settings"
    return state
