"""Per-tenant known names: names a tenant registers (an export of its patient or staff
registry) that are redacted in that tenant's text wherever it leaves (``compliance.known_names``).

Only keyed digests are kept (``store.known_names``); the answer gives counts and never echoes a
name, and the request's audit entry records how many were added.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints, field_validator

from compliance.known_names import MAX_NAME_CHARS, normalize
from serve.context import Caller, get_ctx, require_tenant

router = APIRouter(tags=["compliance"])

MAX_NAMES = 10_000  # per request; `clinisight phi add-names` sends larger files in batches

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]


class NamesIn(BaseModel):
    """``POST /v1/tenants/{tenant}/phi/names``."""

    names: list[Name] = Field(
        min_length=1, max_length=MAX_NAMES,
        description="full names, as they are written in the tenant's text (each form that "
        "should be found: `Jane Doe` does not match `Jane` alone)",
    )

    @field_validator("names")
    @classmethod
    def _have_letters(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            if not normalize(name):  # only punctuation or spaces: nothing to match
                raise ValueError(f"names[{i}] has no letter or digit")
        return names


class NamesAdded(BaseModel):
    added: int = Field(description="names not registered before (a repeated name counts once)")
    total: int = Field(description="the tenant's registered names now")


@router.post("/v1/tenants/{tenant}/phi/names")
async def add_names(tenant: str, body: NamesIn, caller: Caller) -> NamesAdded:
    """Register names that are always redacted in this tenant's text (stored as digests)."""
    require_tenant(tenant, caller)
    added = await get_ctx().stores.names.add(tenant, body.names)
    return NamesAdded(added=added.added, total=added.total)
