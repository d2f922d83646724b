"""Pages → retrieval chunks, split along the page's own structure.

Each heading-delimited section (see ``storage_format``) becomes one chunk when it fits in
``max_chars``; a longer section is cut into windows of at most ``max_chars`` characters that
end at the best boundary in their second half (line break, then sentence end, then space) and
start again up to ``overlap`` characters back, so a sentence cut at a boundary is still whole
in one of the two chunks.

Sizes are counted in characters, not whitespace-separated words: Korean, Japanese and Chinese
text has few or no spaces, so word counts say little about length there, and a run without any
boundary is cut at the character limit instead of producing one huge "word".

Given the embedding model's tokenizer (``count_tokens``) and its budget (``max_tokens``), a
window is also kept within the tokens the model reads: 600 characters of English are about 130
WordPiece tokens, but 600 of Korean about 790 and of Japanese about 600, and the model reads
256, so without this most of such a chunk would be embedded as if it were not there (it would
still be shown and cited, but could never be found by what it says).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from embeddings.storage_format import Section, parse_storage

__all__ = [
    "Chunk",
    "ConfluencePage",
    "TokenCounter",
    "chunk_page",
    "chunk_sections",
    "make_chunk_id",
    "split_text",
]

DEFAULT_MAX_CHARS = 800
DEFAULT_OVERLAP = 100


class ConfluencePage(BaseModel):
    """One Confluence page version as the sources deliver it; the body is storage format."""

    model_config = ConfigDict(frozen=True)

    page_id: str = Field(min_length=1)
    title: str
    space_key: str
    version: int = Field(ge=1)
    url: str
    body_storage: str = ""


class Chunk(BaseModel):
    """A passage of one page version, with what a citation needs."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    page_id: str
    version: int
    title: str
    url: str
    space_key: str
    heading_path: list[str]
    text: str
    ordinal: int

    @property
    def context(self) -> str:
        """``Title > Heading > Subheading``: where on which page the passage stands."""
        return " > ".join([self.title, *self.heading_path])

    @property
    def embed_text(self) -> str:
        """The text to embed: the context line, a blank line, then ``text``.

        A passage on its own is often ambiguous ("click Save to apply the settings"); the page
        title and headings say which settings, which is what a question names. So they are
        embedded with it. ``text`` itself stays clean, to be shown, quoted and cited.
        """
        return f"{self.context}\n\n{self.text}"


def make_chunk_id(page_id: str, version: int, ordinal: int) -> str:
    """Stable and tenant-independent: the same page version always chunks to the same ids, and
    every chunk of a page shares the prefix ``{page_id}:`` (to drop a page's old chunks)."""
    return f"{page_id}:{version}:{ordinal}"


TokenCounter = Callable[[str], int]


def chunk_page(
    page: ConfluencePage,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
    redact: Callable[[str], str] | None = None,
    count_tokens: TokenCounter | None = None,
    max_tokens: int | None = None,
) -> list[Chunk]:
    """Render a page's storage body and chunk it; see ``chunk_sections``."""
    return chunk_sections(
        page, parse_storage(page.body_storage), max_chars=max_chars, overlap=overlap,
        redact=redact, count_tokens=count_tokens, max_tokens=max_tokens,
    )


def chunk_sections(
    page: ConfluencePage,
    sections: Sequence[Section],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
    redact: Callable[[str], str] | None = None,
    count_tokens: TokenCounter | None = None,
    max_tokens: int | None = None,
) -> list[Chunk]:
    """Chunk already-rendered sections of ``page``; ordinals count from 0 in page order.

    ``redact`` (the PHI redactor) is applied to the title, headings and section text before
    splitting: applied after, a name cut at a chunk boundary would no longer match, and a
    redacted chunk could outgrow ``max_chars``.

    With ``count_tokens`` and ``max_tokens`` (what the embedding model reads of one text), each
    chunk's ``embed_text`` (context line, blank line, passage) stays within ``max_tokens``: the
    passage gets what the context leaves, and never less than a quarter of the budget (a
    context that long is cut by the model, not the passage's start).
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    if not 0 <= overlap < max_chars / 2:
        raise ValueError(
            f"overlap must be at least 0 and under half of max_chars ({max_chars}), got {overlap}"
        )
    clean: Callable[[str], str] = redact or (lambda text: text)
    title = clean(page.title)
    chunks: list[Chunk] = []
    if (count_tokens is None) != (max_tokens is None):
        raise ValueError("count_tokens and max_tokens go together")
    if max_tokens is not None and max_tokens < 4:
        raise ValueError(f"max_tokens must be at least 4, got {max_tokens}")
    for section in sections:
        heading_path = [clean(heading) for heading in section.heading_path]
        budget = None
        if count_tokens is not None and max_tokens is not None:
            context = " > ".join([title, *heading_path])
            budget = max(max_tokens // 4, max_tokens - count_tokens(f"{context}\n\n"))
        for text in split_text(clean(section.text), max_chars=max_chars, overlap=overlap,
                               count_tokens=count_tokens, max_tokens=budget):
            ordinal = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=make_chunk_id(page.page_id, page.version, ordinal),
                    page_id=page.page_id,
                    version=page.version,
                    title=title,
                    url=page.url,
                    space_key=page.space_key,
                    heading_path=heading_path,
                    text=text,
                    ordinal=ordinal,
                )
            )
    return chunks


# Sentence ends: Latin and CJK full stops, question and exclamation marks, optionally followed
# by closing quotes or brackets. Korean sentences end in "다." and are covered by the period.
_SENTENCE_END = re.compile(r"[.!?。！？…][\"'”’)\]」』]*(?=\s)|[。！？]")
_SPACE = re.compile(r"\s")


def split_text(
    text: str,
    *,
    max_chars: int,
    overlap: int,
    count_tokens: TokenCounter | None = None,
    max_tokens: int | None = None,
) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars`` characters, overlapping by at most
    ``overlap``. Requires ``overlap < max_chars / 2`` so every window moves forward.

    With ``count_tokens`` and ``max_tokens``, a piece also holds at most ``max_tokens`` tokens
    (down to a single character that alone counts more); a window shortened for that keeps the
    same share of overlap."""
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    while True:
        end = min(len(text), start + max_chars)
        if count_tokens is not None and max_tokens is not None:
            end = _fitting(text, start, end, count_tokens, max_tokens)
        if end == len(text):
            pieces.append(text[start:].strip())
            break
        window = end - start
        cut = _best_cut(text, start + window // 2, end)
        pieces.append(text[start:cut].strip())
        share = overlap * window // max_chars
        start = _best_start(text, max(cut - share, start + 1), cut)
        while start < len(text) and text[start].isspace():
            start += 1
    return [piece for piece in pieces if piece]


def _fitting(text: str, start: int, end: int, count_tokens: TokenCounter, max_tokens: int) -> int:
    """The furthest ``e`` in ``(start, end]`` whose ``text[start:e]`` counts at most
    ``max_tokens`` (bisection: a longer prefix never counts fewer tokens, give or take the word
    being cut), and ``start + 1`` when even one character counts more."""
    if count_tokens(text[start:end]) <= max_tokens:
        return end
    low, high = start + 1, end - 1  # the answer lies in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[start:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return low


def _best_cut(text: str, low: int, high: int) -> int:
    """The end of the window ``[.., high)``: the last line break, sentence end or space at or
    after ``low``, in that order of preference; ``high`` when there is none (no-space text)."""
    newline = text.rfind("\n", low, high)
    if newline != -1:
        return newline + 1
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text, low, high)]
    if sentence_ends:
        return sentence_ends[-1]
    spaces = [m.start() for m in _SPACE.finditer(text, low, high)]
    return spaces[-1] + 1 if spaces else high


def _best_start(text: str, low: int, cut: int) -> int:
    """Where the next window starts: the first line or sentence start in ``[low, cut)``, else
    the first word start, else ``low`` itself (text without spaces)."""
    end = cut  # the overlap must hold more than the whitespace before the cut
    while end > low and text[end - 1].isspace():
        end -= 1
    if end <= low:
        return cut
    newline = text.find("\n", low, end)
    if newline != -1:
        return newline + 1
    sentence = _SENTENCE_END.search(text, low, end)
    if sentence is not None and sentence.end() < end:
        return sentence.end()
    space = _SPACE.search(text, low, end)
    if space is not None:
        return space.end()
    return low
