"""Noisy neighbours: the host-wide per-CPU counters of /proc/stat around a measurement, less
the container's own CPU time, tell how much of the cpuset's CPUs other processes used.

Portable: Python 2.7 (Jython) and 3.4+ (IronPython); stdlib only.
"""
from __future__ import print_function, division

import os


PROC_STAT = "/proc/stat"


def _clock_ticks():
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except:  # noqa: E722 -- no os.sysconf on Jython / IronPython
        return 100.0


# CPU time of every process of this container (cgroup v2, then v1): the workload's helper
# processes (the io peer, pool workers, spawned interpreters) are ours, not neighbours
CGROUP_CPU = (("/sys/fs/cgroup/cpu.stat", "usage_usec", 1e-6),
              ("/sys/fs/cgroup/cpuacct/cpuacct.usage", None, 1e-9),
              ("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", None, 1e-9))
IN_CONTAINER = os.path.exists("/.dockerenv")


def container_cpu_s(sources=CGROUP_CPU):
    """CPU seconds used by this container's processes so far, or None where unknown."""
    for path, key, scale in sources:
        try:
            with open(path) as handle:
                text = handle.read()
        except (IOError, OSError):
            continue
        try:
            if key is None:
                return int(text.split()[0]) * scale
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value) * scale
        except (ValueError, IndexError):
            continue
    return None


class CpuCounters(object):
    """Busy and steal seconds of some CPUs from /proc/stat (host-wide, also in a container).
    busy = user + nice + system + irq + softirq + steal (everything but idle and iowait; guest
    time is already inside user/nice). In a container also the container's own CPU time."""

    def __init__(self, cpus, path=PROC_STAT, own=None):
        self.cpus = None if cpus is None else set(cpus)
        self.path = path
        self.hz = _clock_ticks()
        self.own = own if own is not None else (container_cpu_s if IN_CONTAINER else None)

    def read(self):
        """(busy_s, steal_s, own_s) summed over the CPUs (own_s: the container's CPU time, None
        outside one), or None where /proc/stat cannot be read."""
        try:
            with open(self.path) as handle:
                lines = handle.readlines()
            busy = steal = seen = 0
            for line in lines:
                parts = line.split()
                if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
                    continue
                if self.cpus is not None and int(parts[0][3:]) not in self.cpus:
                    continue
                ticks = [int(value) for value in parts[1:9]] + [0] * 8
                busy += ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
                steal += ticks[7]
                seen += 1
        except:  # noqa: E722 -- unreadable or unexpected: no data, never a failed cell
            return None
        if not seen:
            return None
        return busy / self.hz, steal / self.hz, self.own() if self.own else None


def neighbour_fields(before, after, cpu_s):
    """cpuset_busy_s, steal_s, others_cpu_s of one measurement (None where unknown). Ours is
    the container's CPU time where known (helper processes included), else ``cpu_s``."""
    if before is None or after is None:
        return {"cpuset_busy_s": None, "steal_s": None, "others_cpu_s": None}
    busy = max(0.0, after[0] - before[0])
    ours = cpu_s
    if before[2] is not None and after[2] is not None:
        ours = max(0.0, after[2] - before[2])
    others = None if ours is None else max(0.0, busy - ours)
    return {"cpuset_busy_s": round(busy, 6), "steal_s": round(max(0.0, after[1] - before[1]), 6),
            "others_cpu_s": None if others is None else round(others, 6)}


def disturbed(record, rule):
    """The harness's rule (harness.vocabulary.is_disturbed), ``rule`` = (share, floor_s): other
    processes used more than ``share`` of the wall time and more than ``floor_s`` CPU seconds."""
    others, wall = record.get("others_cpu_s"), record.get("wall_s")
    if rule is None or others is None or wall is None:
        return False
    share, floor_s = rule
    return others > max(share * wall, floor_s)
