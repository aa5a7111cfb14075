"""Image builds get the host pip's index and CA settings, and nothing that is not set."""

from __future__ import annotations

import sys

from harness.measure.pip_settings import (
    build_args,
    extra_certificates,
    pip_config,
    public_bundle,
)

CA = "-----BEGIN CERTIFICATE-----\nMIIB{}\n-----END CERTIFICATE-----"


def test_unset_settings_are_not_passed():
    assert build_args({}, config={}) == {}


def test_only_certificates_the_public_bundle_lacks_travel():
    public = CA.format("public1") + "\n" + CA.format("public2")
    host = CA.format("public1") + "\n" + CA.format("corp-proxy") + "\n" + CA.format("public2")
    assert extra_certificates(host, public) == CA.format("corp-proxy")
    assert extra_certificates(public, public) == ""


def test_a_host_bundle_with_only_public_cas_passes_nothing(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text(public_bundle())
    assert build_args({"PIP_CERT": str(bundle)}, config={}) == {}


def test_the_environment_wins_over_pip_config_and_a_custom_ca_travels_as_pem(tmp_path):
    ca = tmp_path / "corp-ca.pem"
    ca.write_text(CA.format("corp") + "\n")
    env = {"PIP_INDEX_URL": "https://mirror.example/simple"}
    config = {"index-url": "https://other.example/simple", "trusted-host": "mirror.example",
              "cert": str(ca)}
    assert build_args(env, config) == {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_TRUSTED_HOST": "mirror.example",
        "PIP_CERT_PEM": CA.format("corp"),
    }


def test_pip_config_reads_the_real_pip():
    # whatever this machine's pip has configured: every entry is a key without its scope
    for key in pip_config(sys.executable):
        assert "." not in key and key
