"""Fail when a process the test suite started outlives it (issue #11).

    python3 .ci/leftovers.py RUN_ID

`make test` runs pytest with SUITE_RUN_ID=RUN_ID in its environment; every process the suite
starts inherits it (servers, workers, uvicorn's spawned children, multiprocessing's resource tracker,
PostgreSQL, chromium). Once pytest has exited, any process still carrying RUN_ID is a leftover: this
script names each one (pid, parent, command line), kills it so the machine is left clean, and exits 1.
Processes that exit within GRACE_SECONDS (a SIGKILLed child being reaped) do not count.

Linux only (/proc); stdlib only, so it runs before or without the virtualenv.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

# Not PAPERTREND_…: several tests hand their processes the environment without those (#11).
ENV = "SUITE_RUN_ID"
GRACE_SECONDS = 5.0


def _ancestors() -> set[int]:
    """This process and its parents (make, the shell): they carry the marker but are not leftovers."""
    found = set()
    pid = os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        # The command name may hold spaces and parentheses: the fields after its last ")" are fixed.
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def _marked(run_id: str) -> dict[int, str]:
    """pid → "ppid command line" of every process whose environment holds ENV=run_id."""
    marker = f"{ENV}={run_id}".encode()
    skip = _ancestors()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cmdline:  # zombies have none: their parent is the leftover, and it is listed
            found[int(entry.name)] = f"parent {ppid}: {cmdline[:300]}"
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1]:
        print(f"usage: {argv[0]} RUN_ID (the {ENV} value the suite ran with)", file=sys.stderr)
        return 2
    deadline = time.monotonic() + GRACE_SECONDS
    left = _marked(argv[1])
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _marked(argv[1])
    if not left:
        print("leftovers.py: no process of the suite outlived it")
        return 0
    print(f"leftovers.py: {len(left)} process(es) started by the suite still run after it:", file=sys.stderr)
    for pid, what in sorted(left.items()):
        print(f"  {pid} ({what})", file=sys.stderr)
        with contextlib.suppress(OSError):  # gone meanwhile
            os.kill(pid, signal.SIGKILL)
    print("leftovers.py: killed them; the test that started them must stop them itself", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
