"""The Debian base image every runtime image starts from, made without a registry if need be.

In order: ``GILBENCH_BASE``, a local ``debian:trixie-slim``, a local debootstrap base, a pull;
failing all of those, ``debootstrap`` a minimal Debian and import it through the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import GilbenchError
from harness.measure.backends.base import ImageEngine, Log

PULL_BASE = "debian:trixie-slim"
LOCAL_BASE = "gilbench/base:trixie"
DEBIAN_SUITE = "trixie"
DEBIAN_MIRROR = os.environ.get("GILBENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def resolve_base(backend: ImageEngine, log: Log) -> tuple[str, str]:
    """(ref, image id) of the Debian base, making it when no registry can give one.

    Order: $GILBENCH_BASE (must exist or be pullable), a local debian:trixie-slim, the
    local debootstrap base, a pull of debian:trixie-slim, and last a debootstrap + import.
    """
    wanted = os.environ.get("GILBENCH_BASE")
    if wanted:
        found = backend.image(wanted) or _pulled(backend, wanted, log)
        if found is None:
            raise GilbenchError(f"GILBENCH_BASE={wanted}: image not found locally and pull failed")
        return wanted, found[0]
    for ref in (PULL_BASE, LOCAL_BASE):
        found = backend.image(ref)
        if found:
            return ref, found[0]
    pulled = _pulled(backend, PULL_BASE, log)
    if pulled:
        return PULL_BASE, pulled[0]
    return LOCAL_BASE, bootstrap_base(backend, log)


def existing_base(backend: ImageEngine) -> tuple[str, str] | None:
    """The base `resolve_base` would use, without pulling or building anything."""
    candidates = [os.environ["GILBENCH_BASE"]] if os.environ.get("GILBENCH_BASE") else []
    for ref in (*candidates, PULL_BASE, LOCAL_BASE):
        found = backend.image(ref)
        if found:
            return ref, found[0]
    return None


def _pulled(backend: ImageEngine, ref: str, log: Log) -> tuple[str, dict[str, str]] | None:
    log(f"pulling {ref} ...")
    reason = backend.try_pull(ref)
    if reason:
        log(f"pull of {ref} failed: {reason}")
        return None
    return backend.image(ref)


def bootstrap_base(backend: ImageEngine, log: Log) -> str:
    """debootstrap a minimal Debian root filesystem and import it as LOCAL_BASE."""
    if shutil.which("debootstrap") is None:
        raise GilbenchError(
            f"no base image: {PULL_BASE} cannot be pulled and debootstrap is not installed "
            "(run `make setup` as root, or `apt-get install debootstrap`)"
        )
    if os.geteuid() != 0:
        raise GilbenchError(
            f"no base image: {PULL_BASE} cannot be pulled and debootstrap needs root "
            "(run `make images` as root once, or load a Debian image by hand)"
        )
    with tempfile.TemporaryDirectory(prefix="gilbench-rootfs-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        log(f"debootstrap --variant=minbase {DEBIAN_SUITE} from {DEBIAN_MIRROR} (~1 min) ...")
        _checked_run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
            "debootstrap",
            timeout=1800,
        )
        _checked_run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], "tar", timeout=600)
        log(f"importing the root filesystem as {LOCAL_BASE} ...")
        # not gilbench.managed: build containers inherit the base's labels, and the sweep
        # must never take a build for a runner container
        labels = {"gilbench.base": f"debootstrap {DEBIAN_SUITE}"}
        return backend.import_rootfs(tarball, LOCAL_BASE, labels)


def _checked_run(argv: list[str], what: str, timeout: int) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        last = "\n".join((done.stderr or done.stdout).splitlines()[-15:])
        raise GilbenchError(f"{what} failed with exit code {done.returncode}:\n{last}")


