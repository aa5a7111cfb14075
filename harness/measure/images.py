"""Runtime images: the registry-free base, recipe hashes, builds, drop-in files and probes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from harness.errors import GilbenchError, ImageBuildError, RuntimeUnavailable
from harness.measure import pip_settings, sources
from harness.measure.backends.base import ExecRequest, Outcome
from harness.measure.runtimes import RequiredFile, Runtime, load_registry
from harness.store.layout import atomic_path, write_text_atomic

PULL_BASE = "debian:trixie-slim"
LOCAL_BASE = "gilbench/base:trixie"
DEBIAN_SUITE = "trixie"
DEBIAN_MIRROR = os.environ.get("GILBENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
RECIPE_LABEL = "gilbench.recipe"
STATE_DIR = ".gilbench"
PROBE_CACHE = "probes.json"
PROBE_TIMEOUT_S = 180
DOWNLOAD_TIMEOUT_S = 20
# What goes into an image, besides runtimes/<family>/: the workloads (not the suites, which
# the harness reads on the host; see .dockerignore).
IMAGE_INPUTS = ("workloads",)
IMAGE_EXCLUDES = ("workloads/suites",)

Log = Callable[[str], None]


class Executor(Protocol):
    """Runs the runner (every backend)."""

    def execute(self, request: ExecRequest, on_line: Callable[[str], None]) -> Outcome: ...


class ImageEngine(Executor, Protocol):
    """What building and checking images needs from a container engine (the Docker backend)."""

    def image(self, ref: str) -> tuple[str, dict[str, str]] | None: ...

    def try_pull(self, ref: str) -> str | None: ...

    def import_rootfs(self, tarball: Path, ref: str, labels: Mapping[str, str]) -> str: ...

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: Mapping[str, str],
        labels: Mapping[str, str],
        on_log: Log,
    ) -> str: ...


@dataclass(frozen=True)
class ImageStatus:
    """Where one runtime's image stands; `reason` says why it is unavailable or failed."""

    runtime_id: str
    image: str
    state: str  # built | outdated | not built | unavailable | failed
    image_id: str | None = None
    recipe_hash: str | None = None
    probe: dict[str, Any] | None = None
    reason: str | None = None
    action: str | None = None  # what ensure_images did: built | up to date | None

    @property
    def available(self) -> bool:
        return self.state == "built" and self.probe is not None


# -- the base image ----------------------------------------------------------------------------


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


# -- recipes -----------------------------------------------------------------------------------


def recipe_files(root: Path, runtime: Runtime) -> list[Path]:
    """Every file that goes into the runtime's image, sorted (what its hash covers)."""
    roots = [root / f"runtimes/{runtime.family}", *(root / p for p in IMAGE_INPUTS)]
    excluded = tuple(root / p for p in IMAGE_EXCLUDES)
    files = []
    for base in roots:
        for path in base.rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            if any(path.is_relative_to(ex) for ex in excluded):
                continue
            files.append(path)
    return sorted(files)


def recipe_hash(root: Path, runtime: Runtime, base_id: str) -> str:
    """sha256 over the Dockerfile, the files the image is made of, build args and base id."""
    digest = hashlib.sha256()
    digest.update(f"base={base_id}\n".encode())
    for key, value in sorted(runtime.build_args.items()):
        if key != "BASE":
            digest.update(f"arg {key}={value}\n".encode())
    for path in recipe_files(root, runtime):
        digest.update(f"file {path.relative_to(root).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


# -- drop-in files (IronPython's release zip) --------------------------------------------------


def validate_required_file(root: Path, required: RequiredFile) -> None:
    """Raise RuntimeUnavailable (one line) unless the file is a zip with the needed members."""
    path = root / required.path
    if path.is_dir():
        raise RuntimeUnavailable(
            f"{required.path}: is a directory; expected the release zip file itself there"
        )
    if required.sha256:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != required.sha256:
            raise RuntimeUnavailable(
                f"{required.path}: sha256 {actual} does not match the configured {required.sha256}"
            )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise RuntimeUnavailable(f"{required.path}: not a zip file") from None
    missing = [m for m in required.must_contain if not any(n.startswith(m) for n in names)]
    if missing:
        raise RuntimeUnavailable(
            f"{required.path}: the zip lacks {', '.join(missing)} "
            f"(expected the official release zip with {', '.join(required.must_contain)})"
        )


def ensure_required_file(root: Path, required: RequiredFile, log: Log) -> None:
    """Make sure a drop-in file is present and valid, downloading it where that works."""
    path = root / required.path
    if not path.exists():
        if not required.url:
            raise RuntimeUnavailable(f"{required.path} is missing (no download URL configured)")
        log(f"downloading {required.url} ...")
        try:
            _download(required.url, path)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RuntimeUnavailable(
                f"{required.path} is missing and downloading {required.url} failed ({reason}); "
                f"download it where you can and drop it at {required.path}"
            ) from None
    validate_required_file(root, required)


def _download(url: str, path: Path) -> None:
    with (
        atomic_path(path) as tmp,
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        tmp.open("wb") as out,
    ):
        shutil.copyfileobj(response, out)


def required_file_problem(root: Path, runtime: Runtime) -> str | None:
    """Why a runtime's drop-in file or source tarball is not usable right now (no download
    attempted: `make images` may still fetch it)."""
    if runtime.source is not None and runtime.builds_image:
        return sources.local_problem(runtime.source, root)
    required = runtime.requires_file
    if required is None:
        return None
    if not (root / required.path).exists():
        source = (
            f" (its download from {required.url} is tried by `make images`)" if required.url else ""
        )
        return f"{required.path} is missing{source}; see README, 'IronPython offline'"
    try:
        validate_required_file(root, required)
    except RuntimeUnavailable as exc:
        return str(exc)
    return None


# -- probes ------------------------------------------------------------------------------------


def _probe_cache_path(root: Path) -> Path:
    return root / STATE_DIR / PROBE_CACHE


def _probe_key(image_id: str, runtime: Runtime) -> str:
    """The probe cache key: the image, and the environment it runs with (PYTHON_GIL=1 ...)."""
    env = ",".join(f"{k}={v}" for k, v in sorted(runtime.environment.items()))
    return f"{image_id}|{env}" if env else image_id


def cached_probe(root: Path, image_id: str) -> dict[str, Any] | None:
    """The probe stored for an image id (derived state: deleting it only costs a re-probe)."""
    path = _probe_cache_path(root)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get(image_id)
    except json.JSONDecodeError:
        return None


def _store_probe(root: Path, image_id: str, probe: dict[str, Any]) -> None:
    path = _probe_cache_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    cache = {}
    if path.is_file():
        try:
            cache = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            cache = {}
    cache[image_id] = probe
    write_text_atomic(path, json.dumps(cache, indent=2, sort_keys=True) + "\n")


def run_probe(backend: ImageEngine, runtime: Runtime) -> dict[str, Any]:
    """Run workloads/probe.py inside the image and check it against the registry."""
    probe = probe_output(backend, runtime)
    check_probe(runtime, probe)
    return probe


def probe_output(
    backend: Executor, runtime: Runtime, timeout_s: float = PROBE_TIMEOUT_S
) -> dict[str, Any]:
    """What workloads/probe.py reports under `runtime` (any backend); ImageBuildError if it
    fails or prints no JSON."""
    lines: list[str] = []
    outcome = backend.execute(
        ExecRequest(
            runtime_id=runtime.id,
            image=runtime.image,
            argv=("probe.py",),
            idle_timeout_s=timeout_s,
            total_timeout_s=timeout_s,
            labels={"gilbench.purpose": "probe"},
            environment=dict(runtime.environment),
        ),
        lines.append,
    )
    if not outcome.ok or not lines:
        why = outcome.timed_out or f"exit code {outcome.exit_code}"
        raise ImageBuildError(f"{runtime.id}: the probe failed ({why}):\n{outcome.stderr_tail}")
    try:
        probe = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise ImageBuildError(
            f"{runtime.id}: the probe printed no JSON: {lines[-1][:200]!r}"
        ) from None
    return probe


def check_probe(runtime: Runtime, probe: dict[str, Any]) -> None:
    """Fail loudly when the probed GIL state disagrees with docker-compose.yml."""
    probed = probe.get("gil_enabled")
    if probed != runtime.expected_gil:
        raise ImageBuildError(
            f"{runtime.id}: the probe reports gil_enabled={json.dumps(probed)} but "
            f"docker-compose.yml expects expected_gil: {json.dumps(runtime.expected_gil)}"
        )


# -- status and builds -------------------------------------------------------------------------


def image_status(backend: ImageEngine, root: Path, runtime: Runtime) -> ImageStatus:
    """Where a runtime's image stands, without building, pulling or downloading anything.

    A runtime that runs another's image (``same_image_as``) stands where that image stands;
    its probe is its own (other environment)."""
    problem = required_file_problem(root, runtime)
    if problem:
        return ImageStatus(runtime.id, runtime.image, "unavailable", reason=problem)
    found = backend.image(runtime.image)
    base = existing_base(backend)
    if found is None or base is None:
        return ImageStatus(runtime.id, runtime.image, "not built")
    image_id, labels = found
    wanted = recipe_hash(root, runtime, base[1])
    state = "built" if labels.get(RECIPE_LABEL) == wanted else "outdated"
    return ImageStatus(
        runtime.id,
        runtime.image,
        state,
        image_id=image_id,
        recipe_hash=wanted,
        probe=cached_probe(root, _probe_key(image_id, runtime)),
    )


def ensure_images(
    backend: ImageEngine,
    root: Path,
    runtimes: Iterable[Runtime],
    log: Log,
    on_build_line: Log | None = None,
) -> dict[str, ImageStatus]:
    """Build what is missing or outdated, probe it, and say why anything is unavailable.

    A runtime that cannot be built becomes an `unavailable`/`failed` status; the others go on.
    """
    runtimes = list(runtimes)
    base_ref, base_id = resolve_base(backend, log)
    registry = {rt.id: rt for rt in runtimes}
    for runtime in runtimes:  # the image a selected runtime runs is built even if not selected
        if runtime.same_image_as and runtime.same_image_as not in registry:
            registry[runtime.same_image_as] = load_registry(root)[runtime.same_image_as]
    builders = [rt for rt in registry.values() if rt.builds_image]
    built = {
        rt.id: _ensure_one(
            backend, root, rt, base_ref, base_id, log, on_build_line or (lambda _line: None)
        )
        for rt in builders
    }
    return {
        rt.id: built[rt.id] if rt.builds_image else _ensure_alias(backend, root, rt, built, log)
        for rt in runtimes
    }


def _ensure_alias(
    backend: ImageEngine,
    root: Path,
    runtime: Runtime,
    built: dict[str, ImageStatus],
    log: Log,
) -> ImageStatus:
    """A runtime that runs another runtime's image with its own environment: probe it."""
    target = built[str(runtime.same_image_as)]
    if not target.available or target.image_id is None:
        reason = (
            f"it runs the image of {target.runtime_id}, which is {target.state}: {target.reason}"
        )
        return ImageStatus(runtime.id, runtime.image, target.state, reason=reason)
    key = _probe_key(target.image_id, runtime)
    try:
        probe = cached_probe(root, key)
        if probe is None:
            probe = run_probe(backend, runtime)
            _store_probe(root, key, probe)
    except ImageBuildError as exc:
        log(f"{runtime.id}: FAILED: {exc}")
        return ImageStatus(runtime.id, runtime.image, "failed", reason=str(exc))
    log(f"{runtime.id}: runs {target.runtime_id}'s image, {describe_probe(probe)}")
    return replace(target, runtime_id=runtime.id, probe=probe, action="probed")


def _ensure_one(
    backend: ImageEngine,
    root: Path,
    runtime: Runtime,
    base_ref: str,
    base_id: str,
    log: Log,
    on_build_line: Log,
) -> ImageStatus:
    try:
        if runtime.requires_file:
            ensure_required_file(root, runtime.requires_file, log)
        if runtime.source is not None:
            staged = sources.stage(runtime.source, root, DEBIAN_MIRROR)
            log(f"{runtime.id}: source {staged.describe()}")
    except RuntimeUnavailable as exc:
        log(f"{runtime.id}: unavailable: {exc}")
        return ImageStatus(runtime.id, runtime.image, "unavailable", reason=str(exc))
    wanted = recipe_hash(root, runtime, base_id)
    found = backend.image(runtime.image)
    try:
        if found and found[1].get(RECIPE_LABEL) == wanted:
            image_id, action = found[0], "up to date"
        else:
            log(f"{runtime.id}: building {runtime.image} from {runtime.dockerfile} ...")
            image_id = backend.build(
                root / runtime.context,
                runtime.dockerfile,
                runtime.image,
                {**runtime.build_args, **pip_settings.build_args(), "BASE": base_ref},
                {RECIPE_LABEL: wanted, "gilbench.runtime": runtime.id},
                on_build_line,
            )
            action = "built"
        probe = cached_probe(root, _probe_key(image_id, runtime))
        if probe is None:
            probe = run_probe(backend, runtime)
            _store_probe(root, _probe_key(image_id, runtime), probe)
    except ImageBuildError as exc:
        log(f"{runtime.id}: FAILED: {exc}")
        return ImageStatus(runtime.id, runtime.image, "failed", recipe_hash=wanted, reason=str(exc))
    log(f"{runtime.id}: {action} ({image_id[7:19]}), {describe_probe(probe)}")
    return ImageStatus(
        runtime.id,
        runtime.image,
        "built",
        image_id=image_id,
        recipe_hash=wanted,
        probe=probe,
        action=action,
    )


def describe_probe(probe: dict[str, Any] | None) -> str:
    """`pypy 3.11.11, GIL on` style one-liner."""
    if not probe:
        return "not probed"
    gil = probe.get("gil_enabled")
    gil_text = "no GIL notion" if gil is None else ("GIL on" if gil else "GIL off")
    return f"{probe.get('implementation')} {probe.get('python_version')}, {gil_text}"
