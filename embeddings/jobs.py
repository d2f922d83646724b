"""Reindex bookkeeping kept in DynamoDB beside the agent state: job progress and page versions.

Keys sort after "~" so they never show up as an agent's state:
- ``~reindex#<job id>``: one job's progress (``ReindexProgress``);
- ``~pages#<space>``: the page versions already in the tenant's index for that space, and the
  source the space was last indexed from (page events fetch single pages from it);
- ``~site``: the tenant's indexed spaces and the source last used, where a reader's groups are
  read from and what the access resync walks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from store.state import StateStore

# Tenants with indexed spaces, kept under a reserved tenant id: TENANT_RE requires a tenant to
# start with a letter or digit, so "~" can never be a real one (as agents.caretrack does).
SITES_TENANT = "~clinisight"
SITES_KEY = "~mindmesh#sites"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ReindexProgress(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    job_id: str
    tenant: str
    space: str
    source: str | None = None
    status: str = "running"  # running | succeeded | failed
    seen: int = 0
    embedded: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0
    chunks: int = 0
    failures: list[dict[str, str]] = Field(default_factory=list)
    access_changed: int = 0  # pages pointed at another access expression
    access_error: str | None = None  # the space's access was unreadable: its pages deny
    # Wall seconds by stage (listing, chunking, waiting for embeddings, upserts, snapshots,
    # bookkeeping): where a job's time went.
    stages: dict[str, float] = Field(default_factory=dict)
    error: str | None = None
    started_at: str = Field(default_factory=now)
    finished_at: str | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class SpaceIndexState(BaseModel):
    """What the index holds of one space: page id → version, and where it came from."""

    source: str | None = None
    pages: dict[str, int] = Field(default_factory=dict)


class SiteState(BaseModel):
    """The tenant's indexed spaces (key → source) and the source of its latest reindex."""

    source: str | None = None
    spaces: dict[str, str] = Field(default_factory=dict)


class JobStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    async def save_progress(self, progress: ReindexProgress) -> None:
        await self.state.update(progress.tenant, f"~reindex#{progress.job_id}",
                           lambda _: progress.model_dump(mode="json"))

    async def progress(self, tenant: str, job_id: str) -> ReindexProgress | None:
        rec = await self.state.get(tenant, f"~reindex#{job_id}")
        return ReindexProgress.model_validate(rec.data) if rec else None

    async def space(self, tenant: str, space: str) -> SpaceIndexState:
        rec = await self.state.get(tenant, f"~pages#{space}")
        return SpaceIndexState.model_validate(rec.data) if rec else SpaceIndexState()

    async def record_pages(self, tenant: str, space: str, done: dict[str, int],
                           removed: list[str], source: str | None) -> None:
        def change(data: dict[str, Any]) -> dict[str, Any]:
            st = SpaceIndexState.model_validate(data) if data else SpaceIndexState()
            st.pages.update(done)
            for page_id in removed:
                st.pages.pop(page_id, None)
            if source is not None:
                st.source = source
            return st.model_dump(mode="json")

        await self.state.update(tenant, f"~pages#{space}", change)

    async def site(self, tenant: str) -> SiteState:
        rec = await self.state.get(tenant, "~site")
        return SiteState.model_validate(rec.data) if rec else SiteState()

    async def record_site(self, tenant: str, space: str, source: str) -> None:
        def change(data: dict[str, Any]) -> dict[str, Any]:
            st = SiteState.model_validate(data) if data else SiteState()
            st.source = source
            st.spaces[space] = source
            return st.model_dump(mode="json")

        def listed(data: dict[str, Any]) -> dict[str, Any]:
            return {"tenants": sorted({*data.get("tenants", []), tenant})}

        await self.state.update(tenant, "~site", change)
        await self.state.update(SITES_TENANT, SITES_KEY, listed)

    async def site_tenants(self) -> list[str]:
        """Every tenant with an indexed space (what the access resync walks)."""
        rec = await self.state.get(SITES_TENANT, SITES_KEY)
        return list(rec.data.get("tenants", [])) if rec else []
