"""The one module that talks to Docker (through the docker SDK, never the CLI)."""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from harness.errors import BackendUnavailable, ImageBuildError
from harness.measure.backends.base import (
    ExecRequest,
    Log,
    Outcome,
    pump_lines,
    split_lines,
    tail,
)
from harness.measure.host import cpu_model
from harness.measure.images import ImageStatus, ensure_images, image_status
from harness.measure.runtimes import Runtime
from harness.store.meta import EngineFacts, HostFacts

LABEL = "gilbench.managed"
BUILD_LOG_TAIL = 30
CONTAINER_USER = "gilbench"


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
            cores=info.get("NCPU"),
            kernel=info.get("KernelVersion"),
            os=info.get("OperatingSystem"),
            memory_gib=round(info.get("MemTotal", 0) / 2**30, 1),
        )

    def cpuset(self, requested: str | None, host: HostFacts) -> str | None:
        """The requested cpuset, else every CPU of the host."""
        return requested or f"0-{int(host.cores or 1) - 1}"

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
            labels={LABEL: "true", **labels},
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
            pull=False,
        )
        for chunk in stream:
            if "error" in chunk:
                message = str(chunk.get("error", "")).strip()
                log = "\n".join(last_lines)
                raise ImageBuildError(
                    f"{tag}: build failed: {message}\n--- last build lines ---\n{log}"
                )
            text = str(chunk.get("stream", "")).rstrip("\n")
            for line in text.splitlines():
                if line.strip():
                    last_lines.append(line)
                    on_log(line)
        found = self.image(tag)
        if found is None:
            raise ImageBuildError(f"{tag}: the build ended without an image")
        return found[0]

    def managed_images(self) -> list[str]:
        """Tags of every image the harness built or imported (label gilbench.managed)."""
        images = self.client.images.list(filters={"label": f"{LABEL}=true"})
        return sorted(tag for image in images for tag in image.tags)

    def remove_image(self, ref: str) -> None:
        """Remove an image if present (tests clean up after themselves)."""
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.remove(ref, force=True)

    # -- containers --------------------------------------------------------------------------

    def execute(self, request: ExecRequest, on_line: Callable[[str], None]) -> Outcome:
        """Run one container to completion (or timeout), then remove it whatever happened."""
        started = time.monotonic()
        container = self.client.containers.create(
            request.image,
            command=list(request.argv),
            user=CONTAINER_USER,
            network_mode="none",
            cpuset_cpus=request.cpuset,
            mem_limit=request.memory,
            memswap_limit=request.memory,
            pids_limit=4096,
            labels={LABEL: "true", **request.labels},
            detach=True,
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
                stderr_tail=tail(stderr),
                duration_s=time.monotonic() - started,
            )
        finally:
            _remove_quietly(container)

    def sweep(self, label_value: str | None = None) -> int:  # noqa: D102 (see Backend)
        """Remove every harness container (left by a crash); returns how many were removed."""
        selector = f"{LABEL}=true" if label_value is None else f"{LABEL}={label_value}"
        stray = self.client.containers.list(all=True, filters={"label": selector})
        for container in stray:
            _remove_quietly(container)
        return len(stray)

    def containers(self, label: str) -> list[str]:
        """Names of all containers carrying `label` (key=value); used by tests."""
        return [c.name for c in self.client.containers.list(all=True, filters={"label": label})]


def _kill_quietly(container: Any) -> None:
    with contextlib.suppress(docker.errors.APIError):  # it may have exited meanwhile
        container.kill()


def _remove_quietly(container: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)
