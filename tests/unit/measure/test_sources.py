"""Source selection for CPython tarballs (harness.measure.sources), without the internet:
a real HTTP server on 127.0.0.1 plays Debian's mirror and python.org."""

from __future__ import annotations

import functools
import hashlib
import http.server
import lzma
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError, RuntimeUnavailable
from harness.measure.sources import (
    SourceSpec,
    find_orig,
    http_fetch,
    local_problem,
    parse_spec,
    stage,
    upstream_version,
)

TARBALL = b"pretend this is Python-3.14.10.tar.xz\n" * 100
TARBALL_SHA = hashlib.sha256(TARBALL).hexdigest()
DROPIN = "runtimes/cpython/sources/Python-3.14.10.tar.xz"


def _sources_index(sha: str) -> str:
    """A Sources index listing two versions of python3.14 (as sid's does) and pypy3."""
    return (
        "Package: python3.14\nVersion: 3.14.9-1\nDirectory: pool/main/p/python3.14\n"
        "Checksums-Sha256:\n"
        f" {'1' * 64} 100 python3.14_3.14.9-1.dsc\n"
        f" {'2' * 64} 24176992 python3.14_3.14.9.orig.tar.xz\n\n"
        "Package: python3.14\nVersion: 3.14.10-1\nDirectory: pool/main/p/python3.14\n"
        "Checksums-Sha256:\n"
        f" {'3' * 64} 100 python3.14_3.14.10-1.dsc\n"
        f" {sha} {len(TARBALL)} python3.14_3.14.10.orig.tar.xz\n"
        f" {'4' * 64} 100 python3.14_3.14.10-1.debian.tar.xz\n\n"
        "Package: pypy3\nVersion: 8.0.1+dfsg-1\nDirectory: pool/main/p/pypy3\n"
        "Checksums-Sha256:\n"
        f" {'5' * 64} 12854736 pypy3_8.0.1+dfsg.orig-cpython27.tar.xz\n"
        f" {'6' * 64} 16595012 pypy3_8.0.1+dfsg.orig.tar.xz\n"
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(document root, base URL) of a real local HTTP server; files appear as written."""
    docroot = tmp_path / "www"
    docroot.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(docroot))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield docroot, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _publish(docroot: Path, relative: str, data: bytes) -> None:
    path = docroot / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _mirror(docroot: Path, sha: str = TARBALL_SHA, serve_orig: bool = True) -> None:
    index = lzma.compress(_sources_index(sha).encode())
    _publish(docroot, "debian/dists/sid/main/source/Sources.xz", index)
    if serve_orig:
        _publish(docroot, "debian/pool/main/p/python3.14/python3.14_3.14.10.orig.tar.xz", TARBALL)


def _spec(base: str, **changes: object) -> SourceSpec:
    fields: dict[str, object] = {
        "version": "3.14.10",
        "dropin": DROPIN,
        "debian_package": "python3.14",
        "debian_suite": "sid",
        "url": f"{base}/ftp/python/3.14.10/Python-3.14.10.tar.xz",
        "sha256": None,
    }
    fields.update(changes)
    return SourceSpec(**fields)  # type: ignore[arg-type]


def test_debian_source_is_staged_and_verified(served, tmp_path):
    docroot, base = served
    _mirror(docroot)
    staged = stage(_spec(base), tmp_path, f"{base}/debian", http_fetch)
    assert staged.origin == "debian"
    assert staged.path == tmp_path / DROPIN
    assert staged.path.read_bytes() == TARBALL
    assert staged.verified_by == "Debian's Sources index for python3.14_3.14.10.orig.tar.xz"
    assert not list(staged.path.parent.glob("*.part"))


def test_debian_listed_but_not_served_falls_back_to_upstream_verified_by_debian(served, tmp_path):
    docroot, base = served
    _mirror(docroot, serve_orig=False)  # sid today: listed in Sources, 404 on the pool
    _publish(docroot, "ftp/python/3.14.10/Python-3.14.10.tar.xz", TARBALL)
    staged = stage(_spec(base), tmp_path, f"{base}/debian", http_fetch)
    assert staged.origin == "download"
    assert staged.sha256 == TARBALL_SHA
    assert staged.verified_by.startswith("Debian's Sources index")


def test_upstream_with_the_wrong_checksum_is_refused(served, tmp_path):
    docroot, base = served
    _mirror(docroot, sha="a" * 64, serve_orig=False)
    _publish(docroot, "ftp/python/3.14.10/Python-3.14.10.tar.xz", TARBALL)
    with pytest.raises(RuntimeUnavailable) as caught:
        stage(_spec(base), tmp_path, f"{base}/debian", http_fetch)
    assert f"served sha256 {TARBALL_SHA}, not the {'a' * 64}" in str(caught.value)
    assert not (tmp_path / DROPIN).exists()


def test_nothing_reachable_uses_a_verified_drop_in(served, tmp_path):
    docroot, base = served
    _mirror(docroot, serve_orig=False)
    _publish(tmp_path, DROPIN, TARBALL)
    staged = stage(_spec(base), tmp_path, f"{base}/debian", http_fetch)
    assert (staged.origin, staged.sha256) == ("drop-in", TARBALL_SHA)
    assert staged.verified_by is not None
    assert "sha256 verified" in staged.describe()


def test_drop_in_without_any_known_checksum_is_marked_unverified(served, tmp_path):
    _, base = served
    _publish(tmp_path, DROPIN, TARBALL)
    spec = _spec(base, debian_package=None, debian_suite=None, url=None)
    staged = stage(spec, tmp_path, f"{base}/debian", http_fetch)
    assert staged.verified_by is None
    assert staged.describe() == "Python-3.14.10.tar.xz from drop-in, unverified"


def test_a_configured_checksum_wins_over_debian(served, tmp_path):
    docroot, base = served
    _mirror(docroot, sha="b" * 64, serve_orig=False)
    _publish(tmp_path, DROPIN, TARBALL)
    staged = stage(_spec(base, sha256=TARBALL_SHA), tmp_path, f"{base}/debian", http_fetch)
    assert staged.verified_by == "docker-compose.yml"


def test_drop_in_with_the_wrong_checksum_is_unavailable(served, tmp_path):
    docroot, base = served
    _mirror(docroot, serve_orig=False)
    _publish(tmp_path, DROPIN, b"something else")
    with pytest.raises(RuntimeUnavailable) as caught:
        stage(_spec(base), tmp_path, f"{base}/debian", http_fetch)
    wrong = hashlib.sha256(b"something else").hexdigest()
    assert f"the drop-in file {DROPIN} has sha256 {wrong}, not the {TARBALL_SHA}" in str(
        caught.value
    )


def test_no_source_at_all_gives_every_reason_in_one_line(served, tmp_path):
    docroot, base = served
    _mirror(docroot, serve_orig=False)
    spec = _spec(base)
    with pytest.raises(RuntimeUnavailable) as caught:
        stage(spec, tmp_path, f"{base}/debian", http_fetch)
    reason = str(caught.value)
    assert "\n" not in reason
    assert reason == (
        "no usable source tarball for CPython 3.14.10: "
        f"Debian's mirror {base}/debian/pool/main/p/python3.14/python3.14_3.14.10.orig.tar.xz "
        f"failed (HTTP 404); the upstream URL {spec.url} failed (HTTP 404); "
        f"no drop-in file at {DROPIN} (download Python-3.14.10.tar.xz where you can and drop "
        f"it at {DROPIN}; expected sha256 {TARBALL_SHA})"
    )


def test_unreachable_mirror_and_unknown_version_are_named(served, tmp_path):
    docroot, base = served
    _mirror(docroot)
    spec = _spec(base, version="3.14.99", url=None)
    with pytest.raises(RuntimeUnavailable, match=r"python3.14 \(sid\): version 3.14.99 not listed"):
        stage(spec, tmp_path, f"{base}/debian", http_fetch)
    with pytest.raises(RuntimeUnavailable, match=r"Sources index not readable \(HTTP 404\)"):
        stage(_spec(base), tmp_path, f"{base}/nowhere", http_fetch)


def test_a_directory_at_the_drop_in_path_is_named(served, tmp_path):
    _, base = served
    (tmp_path / DROPIN).mkdir(parents=True)
    spec = _spec(base, debian_package=None, debian_suite=None, url=None)
    with pytest.raises(RuntimeUnavailable, match="is not a regular file"):
        stage(spec, tmp_path, f"{base}/debian", http_fetch)


def test_find_orig_picks_the_listed_version_and_skips_component_tarballs():
    index = _sources_index(TARBALL_SHA)
    orig = find_orig(index, "python3.14", "3.14.9", "http://m/debian/")
    assert orig is not None
    assert orig.url == "http://m/debian/pool/main/p/python3.14/python3.14_3.14.9.orig.tar.xz"
    assert orig.sha256 == "2" * 64
    pypy = find_orig(index, "pypy3", "8.0.1", "http://m")
    assert pypy is not None and pypy.filename == "pypy3_8.0.1+dfsg.orig.tar.xz"
    assert find_orig(index, "python3.15", "3.15.2", "http://m") is None


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [("3.14.10-1", "3.14.10"), ("1:2.4.6+ds-5+b1", "2.4.6"), ("8.0.1+dfsg-1", "8.0.1"),
     ("3.15.0~rc1-1", "3.15.0")],
)
def test_upstream_version(debian, upstream):
    assert upstream_version(debian) == upstream


def test_parse_spec_and_its_errors():
    raw = {"version": "3.14.10", "dropin": DROPIN, "debian": {"package": "python3.14",
           "suite": "sid"}, "url": "https://www.python.org/x.tar.xz", "sha256": None}
    spec = parse_spec(raw, "compose: services.cpython-3.14.x-gilbench.source")
    assert (spec.debian_package, spec.debian_suite, spec.sha256) == ("python3.14", "sid", None)
    with pytest.raises(ConfigError, match=r"source\.sha256: expected 64 lowercase hex"):
        parse_spec({**raw, "sha256": "ABC"}, "source")
    with pytest.raises(ConfigError, match=r"source\.debian: package and suite go together"):
        parse_spec({**raw, "debian": {"package": "python3.14"}}, "source")
    with pytest.raises(ConfigError, match=r"source\.version: expected a non-empty string"):
        parse_spec({**raw, "version": 3.14}, "source")
    with pytest.raises(ConfigError, match=r"source\.dropin: must lie under runtimes/"):
        parse_spec({**raw, "dropin": "/tmp/Python.tar.xz"}, "source")


def test_local_problem_without_network(tmp_path):
    spec = SourceSpec(version="3.14.10", dropin=DROPIN, debian_package="python3.14",
                      debian_suite="sid", url="https://www.python.org/p.tar.xz")
    assert local_problem(spec, tmp_path) == (
        f"{DROPIN} is not staged (`make images` tries Debian's python3.14 (sid) then "
        f"https://www.python.org/p.tar.xz, else drop the release tarball there)"
    )
    _publish(tmp_path, DROPIN, TARBALL)
    assert local_problem(spec, tmp_path) is None


def _stage(dockerfile: str, header: str) -> str:
    """The instructions of one stage (after its FROM line, up to the next FROM; no comments)."""
    text = (Path(__file__).resolve().parents[3] / dockerfile).read_text(encoding="utf-8")
    body = text.split(f"\n{header}\n", 1)[1].split("\nFROM ", 1)[0]
    return "\n".join(line for line in body.splitlines() if line and not line.startswith("#"))


def test_cython_shares_the_cpython_source_and_build_layers():
    """Identical instructions on the same parent are what lets the classic builder reuse
    cpython-3.13's source build for cython-3.13 instead of building CPython again."""
    cpython, cython = "runtimes/cpython/Dockerfile", "runtimes/cython/Dockerfile"
    assert _stage(cpython, "FROM ${BASE} AS source") == _stage(cython, "FROM ${BASE} AS source")
    assert _stage(cpython, "FROM tree AS build") == _stage(cython, "FROM source AS build")
    assert "./configure $flags" in _stage(cython, "FROM source AS build")
