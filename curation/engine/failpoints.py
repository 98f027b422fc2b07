"""Named points where a test can kill the process for real (SIGKILL), to prove that a retry converges.

`failpoint("after_stage:dedup")` does nothing unless `CURATION_FAILPOINT` names that point; then the process
dies on the spot, as with a power cut or an OOM kill (no cleanup, no exception handler runs). The crash tests
(tests/test_exactly_once.py) set it in a child process; production runs never do.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    if os.environ.get("CURATION_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
