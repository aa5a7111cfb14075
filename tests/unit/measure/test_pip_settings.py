"""Image builds get the host pip's index and CA settings, and nothing that is not set."""

from __future__ import annotations

import sys

from harness.measure.pip_settings import build_args, pip_config


def test_unset_settings_are_not_passed_and_the_system_bundle_stays_home():
    env = {"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"}
    assert build_args(env, config={}) == {}


def test_the_environment_wins_over_pip_config_and_a_custom_ca_travels_as_pem(tmp_path):
    ca = tmp_path / "corp-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    env = {"PIP_INDEX_URL": "https://mirror.example/simple"}
    config = {"index-url": "https://other.example/simple", "trusted-host": "mirror.example",
              "cert": str(ca)}
    assert build_args(env, config) == {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_TRUSTED_HOST": "mirror.example",
        "PIP_CERT_PEM": ca.read_text(),
    }


def test_pip_config_reads_the_real_pip():
    # whatever this machine's pip has configured: every entry is a key without its scope
    for key in pip_config(sys.executable):
        assert "." not in key and key
