"""Files a recipe needs that no registry here serves (IronPython's release zip): downloaded
where that works, else dropped in by hand, and checked before a build."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from harness.errors import RuntimeUnavailable
from harness.measure import sources
from harness.measure.backends.base import Log
from harness.measure.runtimes import RequiredFile, Runtime
from harness.store.layout import atomic_path

DOWNLOAD_TIMEOUT_S = 20


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


