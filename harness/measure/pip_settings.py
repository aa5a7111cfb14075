"""The host pip's index and certificate settings, passed to image builds as build args.

Images install wheels from a package index; behind a company proxy with its own CA, or with a
mirror, the build must use what the host's pip uses. Nothing is hard-coded: an unset setting
is not passed, and the image's pip uses its defaults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# build arg -> (environment variable, `pip config` key)
SETTINGS = {
    "PIP_INDEX_URL": ("PIP_INDEX_URL", "index-url"),
    "PIP_EXTRA_INDEX_URL": ("PIP_EXTRA_INDEX_URL", "extra-index-url"),
    "PIP_TRUSTED_HOST": ("PIP_TRUSTED_HOST", "trusted-host"),
}
# A build arg reaches the build's shell as one environment string, which Linux caps at 128 KiB:
# only the certificates the public bundle lacks travel (a company proxy's CA, typically).
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
_CONFIG_LINE = re.compile(r"^[\w:.-]+\.(?P<key>[\w-]+)='(?P<value>.*)'$")


def pip_config(python: str = sys.executable) -> dict[str, str]:
    """``pip config list`` of the host as {key: value} (empty when pip cannot say)."""
    try:
        listing = subprocess.run(
            [python, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, str] = {}
    for line in listing.splitlines():
        match = _CONFIG_LINE.match(line.strip())
        if match:
            found.setdefault(match.group("key"), match.group("value"))
    return found


def build_args(
    environ: Mapping[str, str] | None = None, config: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Build args for the set settings: the environment first, then the pip config; a custom
    CA bundle travels as its PEM text (``PIP_CERT_PEM``)."""
    env = os.environ if environ is None else environ
    conf = pip_config() if config is None else config
    args = {}
    for arg, (variable, key) in SETTINGS.items():
        value = env.get(variable) or conf.get(key)
        if value:
            args[arg] = value
    cert = env.get("PIP_CERT") or conf.get("cert")
    if cert and Path(cert).is_file():
        extra = extra_certificates(Path(cert).read_text(encoding="utf-8"), public_bundle())
        if extra:
            args["PIP_CERT_PEM"] = extra
    return args


def public_bundle() -> str:
    """The public CA bundle pip trusts by itself (certifi's, as vendored by pip)."""
    from pip._vendor import certifi

    return Path(certifi.where()).read_text(encoding="utf-8")


def extra_certificates(bundle: str, public: str) -> str:
    """The certificates of ``bundle`` that ``public`` lacks (the image appends them to its own
    system bundle: a TLS-intercepting proxy's CA reaches the build, the public CAs stay)."""
    known = {"".join(block.split()) for block in _PEM.findall(public)}
    extra = [block for block in _PEM.findall(bundle) if "".join(block.split()) not in known]
    return "\n".join(extra)
