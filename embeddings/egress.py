"""Where a reindex may read from: the checks every page source passes before it is opened.

A reindex reads a tenant's Confluence over HTTP, or an export folder on the operator's machine.
Both are chosen by the server (``serve.sources``), never by a request body, and both are checked
here once more, where the source is opened, so that no path to ``open_source`` can make the
cluster fetch an internal address (a cloud metadata service at 169.254.169.254, a database on
10.x) or read a file outside the export root:

* a URL must be ``https`` (``http`` only to loopback, in dev mode) and every address its host
  resolves to must be public: private, loopback, link-local, multicast, reserved and unspecified
  addresses are refused, loopback excepted when ``allow_loopback`` (dev mode, the local
  Confluence the tests and ``make run`` serve);
* a folder must resolve (symlinks followed) to a directory inside ``export_root``.

The check resolves the host at open time; a host that re-points between the check and the
fetch (DNS rebinding) is a known limit of checking before connecting, noted in issue #19.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SourceRefused(ValueError):
    """The source is not one a reindex may read; the message says which rule it broke and
    names no server path."""


@dataclass(frozen=True)
class SourcePolicy:
    """What a reindex may read: loopback sites (dev mode only) and folders under a root."""

    allow_loopback: bool = False
    export_root: Path | None = None


def check_url(url: str, policy: SourcePolicy) -> None:
    """Raise ``SourceRefused`` unless ``url`` is a site a reindex may fetch from."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise SourceRefused(f"a Confluence site is an http(s) URL, not {parts.scheme or 'a path'}")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise SourceRefused(f"the Confluence host {host!r} does not resolve") from None
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    for address in addresses:
        if address.is_loopback and policy.allow_loopback:
            continue
        if not address.is_global or address.is_multicast:
            raise SourceRefused(
                f"the Confluence host {host!r} is an internal address ({address}); "
                "a reindex reads public Atlassian sites only"
            )
    loopback_only = all(address.is_loopback for address in addresses)
    if parts.scheme == "http" and not loopback_only:
        raise SourceRefused(f"the Confluence site {host!r} must be https")


def check_folder(folder: str | Path, policy: SourcePolicy) -> Path:
    """The folder, resolved, if it lies inside the export root; else ``SourceRefused``."""
    if policy.export_root is None:
        raise SourceRefused("export folders are not enabled here (no export root is configured)")
    root = Path(policy.export_root).expanduser().resolve()
    path = Path(folder).expanduser().resolve()
    if path != root and root not in path.parents:
        raise SourceRefused("the export folder is outside the configured export root")
    if not path.is_dir():
        raise SourceRefused("the export folder does not exist")
    return path
