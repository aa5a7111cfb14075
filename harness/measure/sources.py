"""Where a CPython source tarball comes from, and staging it into the build context.

Order (issue 12): Debian's source package where the archive serves it, then the upstream
release tarball, then a drop-in file. Every route ends with the tarball at the spec's drop-in
path (inside runtimes/cpython/, the build context), checked against a sha256 where one is known:
the spec's own, else the one Debian's Sources index lists for the .orig tarball of that version
(which Debian takes unchanged from upstream). Where none works, `RuntimeUnavailable` says why.
All network access goes through one `Fetch` function, so tests pass a local one.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, RuntimeUnavailable

Fetch = Callable[[str], bytes]  # GET url -> body; raises OSError (URLError/HTTPError) on failure
FETCH_TIMEOUT_S = 60
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SourceSpec:
    """One upstream CPython release and the places its tarball may come from."""

    version: str
    dropin: str  # path relative to the repository root, inside the build context
    debian_package: str | None = None
    debian_suite: str | None = None
    url: str | None = None
    sha256: str | None = None  # configured; None = take Debian's, or unverified


@dataclass(frozen=True)
class DebianOrig:
    """The .orig tarball a Debian Sources index lists for one package version."""

    url: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class StagedSource:
    """A tarball ready in the build context and how far it can be trusted."""

    origin: str  # debian | download | drop-in
    path: Path
    sha256: str
    verified_by: str | None  # where the matching checksum came from; None = unverified

    def describe(self) -> str:
        trust = f"sha256 verified ({self.verified_by})" if self.verified_by else "unverified"
        return f"{self.path.name} from {self.origin}, {trust}"


def http_fetch(url: str) -> bytes:
    """The real network: one GET with a timeout."""
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        return response.read()


def parse_spec(raw: Any, where: str) -> SourceSpec:
    """`x-gilbench.source` of a compose service -> SourceSpec; ConfigError names the field."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with version, dropin, debian, url, sha256")
    for key in ("version", "dropin"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}.{key}: expected a non-empty string")
    debian = raw.get("debian") or {}
    if not isinstance(debian, Mapping) or set(debian) - {"package", "suite"}:
        raise ConfigError(f"{where}.debian: expected a mapping with package and suite")
    if bool(debian.get("package")) != bool(debian.get("suite")):
        raise ConfigError(f"{where}.debian: package and suite go together")
    sha = raw.get("sha256")
    if sha is not None and not _SHA256.match(str(sha)):
        raise ConfigError(f"{where}.sha256: expected 64 lowercase hex digits or null, got {sha!r}")
    if not raw["dropin"].startswith("runtimes/"):
        raise ConfigError(f"{where}.dropin: must lie under runtimes/ (the build context)")
    return SourceSpec(
        version=raw["version"],
        dropin=raw["dropin"],
        debian_package=debian.get("package"),
        debian_suite=debian.get("suite"),
        url=raw.get("url"),
        sha256=sha,
    )


# -- Debian's Sources index ----------------------------------------------------------------------


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs; continuation lines are kept joined by newlines."""
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def upstream_version(debian_version: str) -> str:
    """`1:3.14.10-1` -> `3.14.10`: no epoch, no Debian revision, no +dfsg-style repack tag."""
    version = debian_version.split(":", 1)[-1].rsplit("-", 1)[0]
    return re.split(r"[+~]", version, maxsplit=1)[0]


def find_orig(index: str, package: str, version: str, mirror: str) -> DebianOrig | None:
    """The .orig tarball of `package` at upstream `version` in a Sources index, if listed."""
    for fields in _stanzas(index):
        if fields.get("Package") != package:
            continue
        if upstream_version(fields.get("Version", "")) != version:
            continue
        for line in fields.get("Checksums-Sha256", "").splitlines():
            parts = line.split()
            if len(parts) == 3 and re.search(r"\.orig\.tar\.[a-z0-9]+$", parts[2]):
                url = f"{mirror.rstrip('/')}/{fields.get('Directory', '')}/{parts[2]}"
                return DebianOrig(url=url, filename=parts[2], sha256=parts[0])
    return None


def read_index(mirror: str, suite: str, fetch: Fetch) -> str:
    """A suite's main/source/Sources index (xz, else gz); OSError when neither is served."""
    base = f"{mirror.rstrip('/')}/dists/{suite}/main/source/Sources"
    try:
        return lzma.decompress(fetch(base + ".xz")).decode("utf-8", "replace")
    except (OSError, lzma.LZMAError):
        return gzip.decompress(fetch(base + ".gz")).decode("utf-8", "replace")


# -- staging -------------------------------------------------------------------------------------


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)


class _Attempts:
    """What each route said, joined into the one-line unavailable reason."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.notes: list[str] = []

    def reason(self, expected: str | None) -> str:
        hint = f"; expected sha256 {expected}" if expected else ""
        return (
            f"no usable source tarball for CPython {self.spec.version}: "
            + "; ".join(self.notes)
            + f" (download Python-{self.spec.version}.tar.xz where you can and drop it at "
            f"{self.spec.dropin}{hint})"
        )


def stage(
    spec: SourceSpec, root: Path, mirror: str, fetch: Fetch = http_fetch
) -> StagedSource:
    """Put the spec's tarball at its drop-in path, trying Debian, the upstream URL, then
    a file already there; RuntimeUnavailable (the exact reason) when none is usable."""
    attempts = _Attempts(spec)
    orig = _debian_orig(spec, mirror, fetch, attempts)
    expected, expected_from = _expected(spec, orig)
    target = root / spec.dropin
    if orig is not None:
        staged = _try_download(orig.url, "debian", target, expected, expected_from, fetch, attempts)
        if staged:
            return staged
    if spec.url:
        staged = _try_download(spec.url, "download", target, expected, expected_from, fetch,
                               attempts)
        if staged:
            return staged
    else:
        attempts.notes.append("no upstream URL configured")
    if target.is_file():
        actual = hashlib.sha256(target.read_bytes()).hexdigest()
        if expected is None or actual == expected:
            return StagedSource("drop-in", target, actual, expected_from if expected else None)
        attempts.notes.append(
            f"the drop-in file {spec.dropin} has sha256 {actual}, not the {expected} of "
            f"{expected_from}"
        )
    elif target.exists():
        attempts.notes.append(f"{spec.dropin} is not a regular file")
    else:
        attempts.notes.append(f"no drop-in file at {spec.dropin}")
    raise RuntimeUnavailable(attempts.reason(expected))


def _debian_orig(
    spec: SourceSpec, mirror: str, fetch: Fetch, attempts: _Attempts
) -> DebianOrig | None:
    if not (spec.debian_package and spec.debian_suite):
        return None
    name = f"Debian's {spec.debian_package} ({spec.debian_suite})"
    try:
        index = read_index(mirror, spec.debian_suite, fetch)
    except (OSError, lzma.LZMAError, EOFError) as exc:
        attempts.notes.append(f"{name}: Sources index not readable ({_why(exc)})")
        return None
    orig = find_orig(index, spec.debian_package, spec.version, mirror)
    if orig is None:
        attempts.notes.append(f"{name}: version {spec.version} not listed")
    return orig


def _expected(spec: SourceSpec, orig: DebianOrig | None) -> tuple[str | None, str | None]:
    if spec.sha256:
        return spec.sha256, "docker-compose.yml"
    if orig is not None:
        return orig.sha256, f"Debian's Sources index for {orig.filename}"
    return None, None


def _try_download(
    url: str,
    origin: str,
    target: Path,
    expected: str | None,
    expected_from: str | None,
    fetch: Fetch,
    attempts: _Attempts,
) -> StagedSource | None:
    label = "Debian's mirror" if origin == "debian" else "the upstream URL"
    try:
        data = fetch(url)
    except (OSError, ValueError) as exc:
        attempts.notes.append(f"{label} {url} failed ({_why(exc)})")
        return None
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and actual != expected:
        attempts.notes.append(
            f"{label} {url} served sha256 {actual}, not the {expected} of {expected_from}"
        )
        return None
    _write(target, data)
    return StagedSource(origin, target, actual, expected_from if expected else None)


def local_problem(spec: SourceSpec, root: Path) -> str | None:
    """Why the tarball is not staged yet (no network; `stage` may still find it)."""
    if (root / spec.dropin).is_file():
        return None
    debian = f"Debian's {spec.debian_package} ({spec.debian_suite})"
    routes = [debian] if spec.debian_package else []
    routes += [spec.url] if spec.url else []
    tried = f"`make images` tries {' then '.join(routes)}, else " if routes else ""
    return f"{spec.dropin} is not staged ({tried}drop the release tarball there)"
