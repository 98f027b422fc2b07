"""`python -m curation.stages.rewrite.llama_server --model F.gguf --host 127.0.0.1 --port N`: llama.cpp's own
OpenAI-compatible server (llama_cpp.server, unchanged), started after the AMX workaround of `llamacpp.py`.

On CPUs without AMX this is exactly `python -m llama_cpp.server`.
"""

from __future__ import annotations

import sys


def main() -> None:
    from curation.stages.rewrite.llamacpp import plain_cpu_buffers

    plain_cpu_buffers()
    from llama_cpp.server.__main__ import main as serve

    sys.argv[0] = "llama_cpp.server"
    serve()


if __name__ == "__main__":
    main()
