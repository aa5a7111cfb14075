"""Facts about where a run happens, for meta.json: host, harness revision, cpusets."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from pathlib import Path

from harness.store.meta import HostFacts


def cpu_model() -> str:
    """The CPU model of this machine (from /proc/cpuinfo), or `unknown`."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or "unknown")


def local_host() -> HostFacts:
    """This machine: hostname, CPU model, cores, kernel, OS, memory."""
    memory = 0.0
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
        match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
        memory = round(int(match.group(1)) / 2**20, 1) if match else 0.0
    except OSError:
        pass
    return HostFacts(
        hostname=socket.gethostname(),
        cpu_model=cpu_model(),
        cores=os.cpu_count(),
        kernel=platform.release(),
        os=_os_name(),
        memory_gib=memory,
    )


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return platform.system()
    match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?$', text, re.MULTILINE)
    return match.group(1) if match else platform.system()


def harness_revision(root: Path) -> str:
    """`git rev-parse HEAD`, with `-dirty` when the work tree has changes; `unknown` outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def cpuset_size(cpuset: str) -> int:
    """How many CPUs a cpuset string like `0-3,6` names."""
    total = 0
    for part in cpuset.split(","):
        low, _, high = part.partition("-")
        total += (int(high) - int(low) + 1) if high else 1
    return total
