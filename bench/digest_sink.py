"""The SMTP sink of bench/digest.py: a local aiosmtpd server in its own process that writes
`recipient<TAB>message-id` per message it accepts, so the bench can count copies of each edition.

    python bench/digest_sink.py PORT OUT DELAY   (started by `start_sink`; stopped with SIGTERM)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def serve_sink(port: int, out: Path, delay: float = 0.0) -> None:
    """An SMTP sink (run in its own process): appends `recipient<TAB>message-id` per message, each
    after `delay` seconds (a relay that takes its time, as a real one does)."""
    import asyncio

    from aiosmtpd.controller import Controller

    fh = out.open("a", buffering=1)
    mid = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if delay:
                await asyncio.sleep(delay)  # other connections go on meanwhile
            head = envelope.content.split(b"\r\n\r\n", 1)[0]
            found = mid.search(head)
            for rcpt in envelope.rcpt_tos:
                fh.write(f"{rcpt}\t{found.group(1).decode() if found else '-'}\n")
            return "250 OK"

    # Blocked before the server thread starts, so that sigwait below (not the default action) gets them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def start_sink(out: Path, delay: float = 0.0) -> tuple[subprocess.Popen[bytes], int]:
    """Start the sink on a free port; returns the process and the port once it accepts connections."""
    from tests.digest_support import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, str(port), str(out), str(delay)], cwd=ROOT)
    deadline = time.monotonic() + 20
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


def stop_sink(proc: subprocess.Popen[bytes]) -> float:
    """Stop the sink; the CPU seconds it used (user + system)."""
    proc.terminate()
    try:
        _, _, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:
        proc.wait(10)
        return 0.0
    proc.returncode = 0
    return usage.ru_utime + usage.ru_stime


def received(out: Path) -> list[tuple[str, str]]:
    if not out.exists():
        return []
    return [tuple(line.split("\t", 1)) for line in out.read_text().splitlines() if "\t" in line]  # type: ignore[misc]


if __name__ == "__main__":
    serve_sink(int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
