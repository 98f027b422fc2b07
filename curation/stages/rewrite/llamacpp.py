"""Work around a llama.cpp crash on CPUs with AMX: keep weights out of the AMX/repack buffer types.

llama-cpp-python built with GGML_NATIVE on a CPU that advertises AMX (Sapphire Rapids and later) routes
quantised matmuls to `ggml_backend_amx_mul_mat`, which segfaults where the OS or hypervisor does not grant
the AMX tile state (seen on this project's build machines: a crash in the first decode). llama.cpp's
model parameter `use_extra_bufts=false` keeps weights in plain CPU buffers (AVX2/AVX-512 kernels still
run); llama-cpp-python does not expose it, so we set it on the default model parameters it starts from.
Without AMX nothing is changed. A build with `CMAKE_ARGS="-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"` is the
permanent fix.
"""

from __future__ import annotations

import os
from functools import cache


@cache
def cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_tile" in line.split()
    except OSError:
        pass
    return False


def plain_cpu_buffers(force: bool | None = None) -> bool:
    """Make every later llama_cpp.Llama(...) load weights without extra buffer types. Returns True if applied.

    force=None applies it only on AMX CPUs (env CURATION_LLAMA_EXTRA_BUFTS=1 keeps llama.cpp's default)."""
    if force is None:
        force = cpu_has_amx() and os.environ.get("CURATION_LLAMA_EXTRA_BUFTS") != "1"
    if not force:
        return False
    import llama_cpp.llama_cpp as C

    if getattr(C.llama_model_default_params, "_curation_plain", False):
        return True
    original = C.llama_model_default_params

    def params():  # noqa: ANN202  (a ctypes struct)
        p = original()
        p.use_extra_bufts = False
        return p

    params._curation_plain = True  # type: ignore[attr-defined]
    C.llama_model_default_params = params
    return True
