"""Who is asking: a caller's accountId and Confluence groups as access tokens, groups cached.

A person's groups come from ``/wiki/rest/api/user/memberof`` on the tenant's site (the source
of its latest reindex, ``embeddings.jobs.SiteState``) and are kept ``ttl_s`` (the
``access_group_ttl_s`` setting, 10 minutes): a person removed from a group keeps what the group
gave them at most that long, the price of not asking Confluence on every question. Entries are
per (tenant, accountId): nothing is shared between people or tenants. A lookup that fails is
not cached and leaves the person with their own grants only (their groups grant nothing until
Confluence answers): unknown means deny.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from embeddings.access import reader_tokens

log = logging.getLogger(__name__)

# (tenant, accountId, the request's Forge system token or None) → groups, None: nobody to ask
MemberOf = Callable[[str, str, str | None], Awaitable[list[dict[str, Any]] | None]]


class ReaderCache:
    """Access tokens per (tenant, accountId), their groups looked up through ``member_of``."""

    def __init__(self, member_of: MemberOf, ttl_s: float = 600.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.member_of = member_of
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, frozenset[str]]] = (
            OrderedDict())

    async def tokens(self, tenant: str, account_id: str,
                     oauth_token: str | None = None) -> frozenset[str]:
        key = (tenant, account_id)
        hit = self._entries.get(key)
        now = self.clock()
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        try:
            groups = await self.member_of(tenant, account_id, oauth_token)
        except Exception as exc:  # Confluence down or refusing: own grants only, not cached
            log.warning("tenant %s: group lookup failed (%s); groups grant nothing for now",
                        tenant, type(exc).__name__)
            return reader_tokens(account_id)
        tokens = reader_tokens(account_id, groups or [])
        self._entries[key] = (now, tokens)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return tokens
