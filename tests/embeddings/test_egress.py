"""embeddings.egress: a reindex reads public sites, loopback only in dev mode, and folders only
under the export root."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.egress import SourcePolicy, SourceRefused, check_folder, check_url
from embeddings.reindex import open_source

STRICT = SourcePolicy()
DEV = SourcePolicy(allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "https://10.0.0.7/wiki",
        "https://192.168.1.20",
        "https://172.16.0.1",
        "https://[fe80::1]/",
        "https://0.0.0.0/",
        "http://127.0.0.1:8080",
        "https://localhost/wiki",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "https:///no-host",
    ],
)
def test_internal_or_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(SourceRefused):
        check_url(url, STRICT)


def test_loopback_is_allowed_in_dev_mode_only() -> None:
    check_url("http://127.0.0.1:8080/wiki", DEV)
    check_url("http://localhost:8080", DEV)
    with pytest.raises(SourceRefused):
        check_url("http://169.254.169.254/", DEV)  # dev mode opens loopback, nothing else


def test_public_addresses_pass_and_http_to_them_does_not() -> None:
    check_url("https://8.8.8.8/wiki", STRICT)  # an address literal needs no DNS
    with pytest.raises(SourceRefused, match="https"):
        check_url("http://8.8.8.8/wiki", STRICT)


def test_folders_only_inside_the_export_root(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    (root / "space").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    policy = SourcePolicy(export_root=root)
    assert check_folder(root / "space", policy) == (root / "space").resolve()
    for refused in (outside, root / "link", root / "space" / ".." / "..", Path("/etc")):
        with pytest.raises(SourceRefused) as exc:
            check_folder(refused, policy)
        assert str(tmp_path) not in str(exc.value), "a refusal names no server path"
    with pytest.raises(SourceRefused):
        check_folder(root / "space", STRICT)  # no export root: no folders at all


def test_open_source_checks_before_it_opens(tmp_path: Path) -> None:
    with pytest.raises(SourceRefused):
        open_source("http://169.254.169.254/")
    with pytest.raises(SourceRefused):
        open_source(str(tmp_path))
