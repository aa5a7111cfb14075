"""The ceiling of a CPU-bound speedup comes from what the cpuset really offers."""

from __future__ import annotations

from harness.analyse.run import ceiling_cpus
from harness.measure.host import cpu_list, cpuset_topology, narrow_topology
from harness.store.meta import HostFacts, RunMeta


def _sys(tmp_path, cores: dict[int, int]):
    """A fake /sys/devices/system/cpu: cpu -> core id (one package)."""
    for cpu, core in cores.items():
        folder = tmp_path / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "physical_package_id").write_text("0\n")
        (folder / "core_id").write_text(f"{core}\n")
    return tmp_path


def test_smt_siblings_are_grouped_and_a_cpuset_narrows_them(tmp_path):
    root = _sys(tmp_path, {0: 0, 1: 0, 2: 1, 3: 1})
    whole = cpuset_topology([0, 1, 2, 3], root)
    assert (whole["physical_cores"], whole["smt_siblings"]) == (2, [[0, 1], [2, 3]])
    narrowed = narrow_topology(whole, cpu_list("0-1"))
    assert (narrowed["physical_cores"], narrowed["smt_siblings"]) == (1, [[0, 1]])
    assert cpuset_topology([0], tmp_path / "missing")["physical_cores"] is None


def test_the_ceiling_uses_physical_cores_and_says_so():
    siblings = {"logical_cpus": [0, 1], "physical_cores": 1, "smt_siblings": [[0, 1]]}
    meta = RunMeta(schema=2, run_id="r", cpus=2, host=HostFacts(cores=2, topology=siblings))
    cpus, basis = ceiling_cpus(meta)
    assert cpus == 1 and "SMT siblings" in basis
    plain = {"logical_cpus": [0, 1], "physical_cores": 2, "smt_siblings": [[0], [1]]}
    assert ceiling_cpus(meta.updated(host=HostFacts(cores=2, topology=plain)))[0] == 2
    unknown = ceiling_cpus(meta.updated(host=HostFacts(cores=2)))
    assert unknown[0] == 2 and "not ruled out" in unknown[1]
