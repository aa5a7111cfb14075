"""Facts about where a run happens, for meta.json: host, harness revision, cpusets."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

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
    cores = os.cpu_count()
    return HostFacts(
        hostname=socket.gethostname(),
        cpu_model=cpu_model(),
        cores=cores,
        kernel=platform.release(),
        os=_os_name(),
        memory_gib=memory,
        topology=cpuset_topology(list(range(cores))) if cores else None,
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
    return len(cpu_list(cpuset))


def cpu_list(cpuset: str) -> list[int]:
    """The CPUs a cpuset string like `0-3,6` names, in order."""
    out: list[int] = []
    for part in cpuset.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    return out


def narrow_topology(topology: dict[str, Any], cpus: list[int]) -> dict[str, Any]:
    """The part of a machine's topology that ``cpus`` (a cpuset) offers."""
    groups = topology.get("smt_siblings")
    if groups is None:
        return {"logical_cpus": cpus, "physical_cores": None, "smt_siblings": None}
    mine = [[c for c in group if c in cpus] for group in groups]
    mine = [group for group in mine if group]
    return {"logical_cpus": cpus, "physical_cores": len(mine), "smt_siblings": mine}


def cpuset_topology(cpus: list[int], root: Path = Path("/sys/devices/system/cpu")) -> dict:
    """Logical CPUs, physical cores and SMT sibling groups of ``cpus`` (from /sys; the
    counts are null where /sys does not tell, e.g. a remote engine or some VMs)."""
    cores: dict[tuple[int, int], list[int]] = {}
    try:
        for cpu in cpus:
            folder = root / f"cpu{cpu}" / "topology"
            key = (
                int((folder / "physical_package_id").read_text()),
                int((folder / "core_id").read_text()),
            )
            cores.setdefault(key, []).append(cpu)
    except (OSError, ValueError):
        return {"logical_cpus": cpus, "physical_cores": None, "smt_siblings": None}
    return {
        "logical_cpus": cpus,
        "physical_cores": len(cores),
        "smt_siblings": sorted(cores.values()),
    }
