"""MindMesh's models: the question, the passages it retrieves, the cited answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AskIn(_Camel):
    """``POST /v1/tenants/{tenant}/ask``."""

    question: str = Field(min_length=1, max_length=2000)
    space: str | None = Field(None, max_length=255, description="limit to one space key")
    k: int = Field(5, ge=1, le=50, description="how many passages to return")


class Passage(_Camel):
    chunk_id: str
    text: str
    page_id: str
    title: str
    url: str
    version: int
    space_key: str
    heading_path: list[str] = Field(default_factory=list)
    score: float


class AnswerIn(_Camel):
    """What a reasoner sees: the question and the numbered passages (1-based)."""

    question: str
    passages: list[str]


class AnswerPlan(_Camel):
    answer: str
    citations: list[int] = Field(default_factory=list, description="1-based passage numbers")


class AskOut(_Camel):
    answer: str
    citations: list[int]
    passages: list[Passage]
    produced_by: str
    fallback_reason: str | None = Field(
        None, description="why the answer is the offline one although Claude is configured")
