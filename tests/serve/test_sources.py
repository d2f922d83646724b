"""serve.sources: the site a reindex reads is the tenant's, chosen by the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from embeddings.egress import SourceRefused
from serve.auth import Principal
from serve.sources import choose

FORGE = Principal(tenant="acme", account="557058:abc", via="forge",
                  cloud_id="0a1b2c3d-4e5f-6789-abcd-ef0123456789")
JIRA = Principal(tenant="acme", account="jira-webhook", via="jira")


def settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **kw)  # type: ignore[arg-type]


def test_outside_dev_mode_the_body_names_no_source(tmp_path: Path) -> None:
    prod = settings(tmp_path, stage="prod",
                    confluence_sites={"acme": "https://acme.atlassian.net"})
    assert not prod.dev_mode
    for requested in ("https://other-tenant.atlassian.net", str(tmp_path), "/etc"):
        with pytest.raises(SourceRefused, match="space, not a source"):
            choose(prod, JIRA, requested, None)
    assert choose(prod, JIRA, None, None) == "https://acme.atlassian.net"
    # a Forge call with the app's system token reads the site the platform signed
    assert choose(prod, FORGE, None, "system-token") == (
        "https://api.atlassian.com/ex/confluence/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
    # nothing known: the space's last source (the deployment decides, or answers 422)
    assert choose(settings(tmp_path, stage="prod"), JIRA, None, None) is None


def test_dev_mode_takes_loopback_sites_and_folders_under_the_data_dir(tmp_path: Path) -> None:
    dev = settings(tmp_path)
    assert dev.dev_mode and dev.export_root_dir == tmp_path.resolve()
    (tmp_path / "export").mkdir()
    assert choose(dev, JIRA, "http://127.0.0.1:9999/wiki", None) == "http://127.0.0.1:9999/wiki"
    assert choose(dev, JIRA, str(tmp_path / "export"), None) == str(tmp_path / "export")
    for refused in ("file:///etc/passwd", "/etc", "http://169.254.169.254/latest",
                    str(tmp_path / ".." / ".."), "https://acme.atlassian.net.evil.example"):
        with pytest.raises(SourceRefused):
            choose(dev, JIRA, refused, None)


def test_configured_sites_must_be_https(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https"):
        settings(tmp_path, confluence_sites={"acme": "http://acme.atlassian.net"})
