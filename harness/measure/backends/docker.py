"""The one module that talks to Docker (through the docker SDK, never the CLI)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from harness.errors import BackendUnavailable, ConfigError, ImageBuildError
from harness.measure.backends.base import (
    ExecRequest,
    Log,
    Outcome,
    pump_lines,
    split_lines,
    tail,
)
from harness.measure.host import cpu_model, cpuset_topology
from harness.measure.images import ImageStatus, ensure_images, image_status
from harness.measure.runtimes import Runtime
from harness.store.meta import EngineFacts, HostFacts

LABEL = "gilbench.managed"
BASE_LABEL = "gilbench.base"  # the base image: never LABEL, which build containers would inherit
PID_LABEL = "gilbench.pid"  # the harness process that owns a container ...
HOST_LABEL = "gilbench.host"  # ... on this host ...
DEADLINE_LABEL = "gilbench.deadline"  # ... and the epoch second it is SIGKILLed at the latest
BUILD_LOG_TAIL = 30
CONTAINER_USER = "gilbench"
DEADLINE_MARGIN_S = 60  # the in-container hard deadline: the harness timeout plus this
UNOWNED_MAX_AGE_S = 24 * 3600  # a managed container with no owner labels (older harness, build)
# hardening: no capabilities, no privilege gain, a read-only root with small scratch tmpfs
# (/tmp: JVM hsperfdata, temp files; the home of uid 10001: Mono's ~/.mono, Jython's cache)
TMPFS = {
    "/tmp": "rw,nosuid,nodev,size=64m,mode=1777",
    "/home/gilbench": "rw,nosuid,nodev,size=64m,uid=10001,gid=10001,mode=0700",
}
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
HARDENING: dict[str, Any] = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "read_only": True,
}


class DockerBackend:
    """Builds images and runs runner containers: pinned cpuset, memory cap, no network."""

    name = "docker"
    containerised = True

    def __init__(self, client: Any | None = None) -> None:
        try:
            self.client = client or docker.from_env(timeout=120)
            self.client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            where = os.environ.get("DOCKER_HOST", "the default socket")
            raise BackendUnavailable(
                f"Docker is not reachable at {where}: {str(exc).splitlines()[0]} "
                "(start the daemon, or set DOCKER_HOST / a Docker context)"
            ) from None

    # -- facts -------------------------------------------------------------------------------

    def engine_facts(self) -> EngineFacts:
        """Engine and API versions for meta.json."""
        version = self.client.version()
        return EngineFacts(
            engine_version=version.get("Version"),
            api_version=version.get("ApiVersion"),
            os=version.get("Os"),
            arch=version.get("Arch"),
        )

    def is_local(self) -> bool:
        """True when the engine listens on a local socket (so this machine runs the containers),
        whether it was chosen by DOCKER_HOST or by a Docker context."""
        return str(self.client.api.base_url).startswith("http+docker://")

    def host_facts(self) -> HostFacts:
        """The machine the containers run on, as the engine sees it (may be remote)."""
        info = self.client.info()
        return HostFacts(
            hostname=info.get("Name"),
            cpu_model=cpu_model() if self.is_local() else "unknown (remote engine)",
            topology=(
                cpuset_topology(list(range(int(info.get("NCPU") or 0))))
                if self.is_local() and info.get("NCPU")
                else None
            ),
            cores=info.get("NCPU"),
            kernel=info.get("KernelVersion"),
            os=info.get("OperatingSystem"),
            memory_gib=round(info.get("MemTotal", 0) / 2**30, 1),
        )

    def cpuset(self, requested: str | None, host: HostFacts) -> str | None:
        """The requested cpuset (checked against the host's CPUs), else every CPU."""
        cores = int(host.cores or 1)
        if requested:
            check_cpuset(requested, cores)
        return requested or f"0-{cores - 1}"

    def prepare(
        self, root: Path, runtimes: list[Runtime], build: bool, log: Log, on_build_line: Log
    ) -> dict[str, ImageStatus]:
        """Build missing or outdated images (``build``) or only report their state."""
        if build:
            return ensure_images(self, root, runtimes, log, on_build_line)
        return {rt.id: image_status(self, root, rt) for rt in runtimes}

    def image(self, ref: str) -> tuple[str, dict[str, str]] | None:
        """(image id, labels) of a local image, or None when it is not there."""
        try:
            found = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
        return found.id, dict(found.labels or {})

    # -- images ------------------------------------------------------------------------------

    def try_pull(self, ref: str) -> str | None:
        """Pull `ref`; returns None on success, else the one-line reason it failed."""
        repository, _, tag = ref.partition(":")
        try:
            self.client.images.pull(repository, tag=tag or "latest")
        except docker.errors.APIError as exc:
            return str(exc.explanation or exc).splitlines()[0]
        return None

    def import_rootfs(self, tarball: Path, ref: str, labels: Mapping[str, str]) -> str:
        """Import a root filesystem tarball as image `ref` (the registry-free base)."""
        repository, _, tag = ref.partition(":")
        changes = [f'LABEL {key}="{value}"' for key, value in sorted(labels.items())]
        changes.append('CMD ["/bin/bash"]')
        self.client.api.import_image_from_file(
            str(tarball), repository=repository, tag=tag or "latest", changes=changes
        )
        found = self.image(ref)
        if found is None:
            raise ImageBuildError(f"{ref}: import reported success but the image is missing")
        return found[0]

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_log: Callable[[str], None],
    ) -> str:
        """Build with the classic builder (works offline), streaming log lines to `on_log`."""
        last_lines: deque[str] = deque(maxlen=BUILD_LOG_TAIL)
        stream = self.client.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=dict(buildargs),
            labels={LABEL: "true", **labels},  # on the final image only (classic builder)
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
            pull=False,
        )
        for chunk in stream:
            if "error" in chunk:
                message = strip_ansi(str(chunk.get("error", ""))).strip()
                log = "\n".join(last_lines)
                raise ImageBuildError(
                    f"{tag}: build failed: {message}\n--- last build lines ---\n{log}"
                )
            text = strip_ansi(str(chunk.get("stream", ""))).rstrip("\n")
            for line in text.splitlines():
                if line.strip():
                    last_lines.append(line)
                    on_log(line)
        found = self.image(tag)
        if found is None:
            raise ImageBuildError(f"{tag}: the build ended without an image")
        return found[0]

    def managed_images(self) -> list[str]:
        """Tags of every image the harness built or imported (labels gilbench.managed, .base)."""
        images = self.client.images.list(filters={"label": f"{LABEL}=true"})
        images += self.client.images.list(filters={"label": BASE_LABEL})
        return sorted({tag for image in images for tag in image.tags})

    def remove_image(self, ref: str) -> None:
        """Remove an image if present (tests clean up after themselves)."""
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.remove(ref, force=True)

    # -- containers --------------------------------------------------------------------------

    def execute(self, request: ExecRequest, on_line: Callable[[str], None]) -> Outcome:
        """Run one container to completion (or timeout), then remove it whatever happened.

        The runner is wrapped in ``timeout -s KILL``: the container dies at its deadline even
        when the harness itself is killed and cannot enforce the timeout."""
        started = time.monotonic()
        deadline_s = int(request.total_timeout_s) + DEADLINE_MARGIN_S
        container = self.client.containers.create(
            request.image,
            entrypoint=["timeout", "-s", "KILL", f"{deadline_s}s", *self._entrypoint(request)],
            command=list(request.argv),
            user=CONTAINER_USER,
            network_mode="none",
            cpuset_cpus=request.cpuset,
            mem_limit=request.memory,
            memswap_limit=request.memory,
            pids_limit=4096,
            environment=dict(request.environment),
            tmpfs=dict(TMPFS),
            labels={**request.labels, **owner_labels(time.time() + deadline_s)},
            detach=True,
            **HARDENING,
        )
        try:
            container.start()
            stream = container.logs(stdout=True, stderr=False, stream=True, follow=True)
            timed_out = pump_lines(
                split_lines(stream), on_line, request.idle_timeout_s, request.total_timeout_s
            )
            if timed_out:
                _kill_quietly(container)
            status = container.wait(timeout=60)
            container.reload()
            stderr = container.logs(stdout=False, stderr=True).decode("utf-8", errors="replace")
            return Outcome(
                exit_code=status.get("StatusCode"),
                timed_out=timed_out,
                oom_killed=bool(container.attrs.get("State", {}).get("OOMKilled")),
                stderr_tail=tail(strip_ansi(stderr)),
                duration_s=time.monotonic() - started,
            )
        finally:
            _remove_quietly(container)

    def _entrypoint(self, request: ExecRequest) -> list[str]:
        """The image's own entrypoint (the runtime's interpreter), which the deadline wraps."""
        found = self.client.images.get(request.image)
        return list(found.attrs.get("Config", {}).get("Entrypoint") or [])

    def sweep(self) -> int:
        """Remove harness containers whose owning run is gone (its PID is dead on this host,
        or its deadline has passed); a live run's containers are left alone."""
        stray = self.client.containers.list(all=True, filters={"label": f"{LABEL}=true"})
        now = time.time()
        gone = [c for c in stray if owner_gone(dict(c.labels or {}), _created(c), now)]
        for container in gone:
            _remove_quietly(container)
        return len(gone)

    def containers(self, label: str) -> list[str]:
        """Names of all containers carrying `label` (key=value); used by tests."""
        return [c.name for c in self.client.containers.list(all=True, filters={"label": label})]


def _kill_quietly(container: Any) -> None:
    with contextlib.suppress(docker.errors.APIError):  # it may have exited meanwhile
        container.kill()


def _remove_quietly(container: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


def owner_labels(deadline: float) -> dict[str, str]:
    """The labels that tie a container to this harness process (see `owner_gone`)."""
    return {
        LABEL: "true",
        PID_LABEL: str(os.getpid()),
        HOST_LABEL: socket.gethostname(),
        DEADLINE_LABEL: str(int(deadline)),
    }


def owner_gone(labels: Mapping[str, str], created: float, now: float) -> bool:
    """True when no live harness owns a container: its deadline has passed, or its owner PID is
    dead on this very host. Containers without owner labels (older harnesses; build containers
    that inherited LABEL from an old base image) only once they are a day old."""
    deadline = labels.get(DEADLINE_LABEL, "")
    if deadline.isdigit():
        if now > int(deadline):
            return True
    elif now - created > UNOWNED_MAX_AGE_S:
        return True
    pid = labels.get(PID_LABEL, "")
    if labels.get(HOST_LABEL) != socket.gethostname() or not pid.isdigit():
        return False
    return not pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _created(container: Any) -> float:
    """When a container was created (epoch seconds); "now" when the engine does not say."""
    text = str(container.attrs.get("Created", ""))[:19]
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return time.time()


def strip_ansi(text: str) -> str:
    """`text` without terminal escape sequences (colours, cursor moves) from build logs."""
    return ANSI_ESCAPE.sub("", text)


def check_cpuset(cpuset: str, cores: int) -> None:
    """ConfigError (one line) unless `cpuset` (``0-1,3``) names only CPUs 0..cores-1."""
    where = f"--cpuset {cpuset}"
    cpus: set[int] = set()
    for part in cpuset.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ConfigError(f"{where}: expected CPU numbers and ranges like 0-1,3")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ConfigError(f"{where}: range {part} runs backwards")
        cpus.update(range(first, last + 1))
    missing = sorted(c for c in cpus if c >= cores)
    if missing:
        raise ConfigError(
            f"{where}: CPU(s) {', '.join(map(str, missing))} do not exist "
            f"(the engine's host has CPUs 0-{cores - 1})"
        )
