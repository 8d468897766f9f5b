"""Run one command as a child process and measure it from outside: wall time, peak RSS,
and how busy the rest of the machine was meanwhile.

The child writes to a pseudo-terminal, as in a user's terminal, so that a live
progress display costs what it costs there (and not less, as it would into a pipe).
"""

from __future__ import annotations

import os
import pty
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TAIL = 4000  # characters of the child's output kept for error messages


@dataclass
class Measurement:
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # the child's user + system time
    others_busy: float  # share of the machine's CPU used by other processes meanwhile
    returncode: int
    output_tail: str


def busy_and_total_seconds() -> tuple[float, float]:
    """CPU seconds spent busy, and in total, by all cores since boot (/proc/stat)."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / tick, sum(fields) / tick


def run(command: list[str], cwd: Path, env: dict[str, str]) -> Measurement:
    """Start `command`, wait for it, and measure it (os.wait4 gives the child's own peak RSS)."""
    controller, terminal = pty.openpty()
    busy_before, total_before = busy_and_total_seconds()
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(controller, chunks), daemon=True)
    reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    busy_after, total_after = busy_and_total_seconds()
    reader.join(timeout=5)
    os.close(controller)
    child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    own = usage.ru_utime + usage.ru_stime
    total = total_after - total_before
    others = max(0.0, (busy_after - busy_before) - own) / total if total > 0 else 0.0
    text = b"".join(chunks).decode("utf-8", "replace")
    return Measurement(
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        cpu_seconds=own,
        others_busy=others,
        returncode=child.returncode,
        output_tail=text[-TAIL:],
    )


def _drain(fd: int, chunks: list[bytes]) -> None:
    """Read the terminal until the child closes it; keep only the recent output."""
    size = 0
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed its end
            return
        if not data:
            return
        chunks.append(data)
        size += len(data)
        while size > 4 * TAIL and len(chunks) > 1:
            size -= len(chunks.pop(0))
