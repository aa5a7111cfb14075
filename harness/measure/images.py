"""Runtime images: recipe hashes, status and builds (the base image, drop-in files and probes
each have a module of their own)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import ImageBuildError, RuntimeUnavailable
from harness.measure import pip_settings, sources
from harness.measure.backends.base import ImageEngine, Log
from harness.measure.base_image import DEBIAN_MIRROR, existing_base, resolve_base
from harness.measure.dropins import ensure_required_file, required_file_problem
from harness.measure.probes import (
    cached_probe,
    describe_probe,
    probe_key,
    run_probe,
    store_probe,
)
from harness.measure.runtimes import Runtime, load_registry

RECIPE_LABEL = "gilbench.recipe"
# What goes into an image, besides runtimes/<family>/: the workloads (not the suites, which
# the harness reads on the host; see .dockerignore).
IMAGE_INPUTS = ("workloads",)
IMAGE_EXCLUDES = ("workloads/suites",)




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
        probe=cached_probe(root, probe_key(image_id, runtime)),
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
    key = probe_key(target.image_id, runtime)
    try:
        probe = cached_probe(root, key)
        if probe is None:
            probe = run_probe(backend, runtime)
            store_probe(root, key, probe)
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
        probe = cached_probe(root, probe_key(image_id, runtime))
        if probe is None:
            probe = run_probe(backend, runtime)
            store_probe(root, probe_key(image_id, runtime), probe)
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


