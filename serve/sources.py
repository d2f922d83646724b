"""Which Confluence a reindex reads: a fact about the tenant, never a request parameter.

A caller of tenant A used to choose the reindex source in the request body: any
``https://*.atlassian.net`` site (tenant B's, read with the stack's API token into A's index),
and in dev mode any URL or server folder (``file:///etc/passwd``, ``http://169.254.169.254``).
Now the server picks the site, in this order:

1. a Forge call that brings the app's system token: the site the platform signed, through
   Atlassian's API gateway (``https://api.atlassian.com/ex/confluence/{cloudId}``, the FIT's
   ``context.cloudId``);
2. the operator's mapping for API-token deployments (``CLINISIGHT_CONFLUENCE_SITES``, tenant →
   site);
3. the site the space was last indexed from (chosen by 1 or 2, or by an operator in dev mode).

The request body may name a space, never a site or a path, outside dev mode. In dev mode (local
signing keys, ``make run``) it may name a loopback Confluence or an export folder under the
export root (the data dir unless ``CLINISIGHT_EXPORT_ROOT`` says otherwise), as the CLI's
``clinisight reindex --source`` does. ``embeddings.egress`` checks the chosen source again
where the job opens it.
"""

from __future__ import annotations

from config.settings import Settings
from embeddings.egress import SourcePolicy, SourceRefused, check_folder, check_url
from serve.auth import Principal

GATEWAY = "https://api.atlassian.com/ex/confluence/{cloud_id}"


def policy(settings: Settings) -> SourcePolicy:
    """What a reindex of this stack may read (loopback sites and folders only in dev mode)."""
    return SourcePolicy(allow_loopback=settings.dev_mode, export_root=settings.export_root_dir)


def choose(settings: Settings, caller: Principal, requested: str | None,
           forge_system_token: str | None) -> str | None:
    """The source to reindex from; None: the one the space was last indexed from (3.).

    ``SourceRefused`` when the request names a source it may not."""
    if requested is not None:
        if not settings.dev_mode:
            raise SourceRefused(
                "a reindex reads the tenant's own Confluence site; the request may name a "
                "space, not a source"
            )
        rules = policy(settings)
        if requested.startswith(("http://", "https://")):
            check_url(requested, rules)
            return requested
        if "://" in requested:
            raise SourceRefused("a source is a loopback http(s) URL or an export folder")
        return str(check_folder(requested, rules))
    if caller.via == "forge" and forge_system_token and caller.cloud_id:
        return GATEWAY.format(cloud_id=caller.cloud_id)
    return settings.confluence_sites.get(caller.tenant)
