"""Chunking: structure first, bounded size, overlap, stable ids, metadata carried."""

from __future__ import annotations

import pytest

from embeddings.chunking import (
    Chunk,
    ConfluencePage,
    chunk_page,
    chunk_sections,
    make_chunk_id,
    split_text,
)
from embeddings.embedder import TEXT_TOKENS, token_counter
from embeddings.storage_format import Section, parse_storage

from .confluence_server import FixturePage, load_fixture_pages

FIXTURES = {page.page_id: page for page in load_fixture_pages()}


def as_page(fixture: FixturePage) -> ConfluencePage:
    return ConfluencePage(
        page_id=fixture.page_id,
        title=fixture.title,
        space_key="QM",
        version=fixture.version,
        url=f"https://querypie.atlassian.net/wiki{fixture.webui}",
        body_storage=fixture.storage,
    )


PAGES = {page_id: as_page(fixture) for page_id, fixture in FIXTURES.items()}


def shared_edge(first: str, second: str) -> str:
    """The longest end of ``first`` that ``second`` starts with."""
    for size in range(min(len(first), len(second)), 0, -1):
        if first.endswith(second[:size]):
            return second[:size]
    return ""


@pytest.mark.parametrize("page_id", sorted(PAGES))
@pytest.mark.parametrize(("max_chars", "overlap"), [(200, 40), (500, 80), (800, 100)])
def test_no_chunk_is_over_the_limit_and_no_text_is_lost(
    page_id: str, max_chars: int, overlap: int
) -> None:
    page = PAGES[page_id]
    chunks = chunk_page(page, max_chars=max_chars, overlap=overlap)

    assert chunks
    assert all(0 < len(chunk.text) <= max_chars for chunk in chunks)
    for section in parse_storage(page.body_storage):
        texts = [c.text for c in chunks if tuple(c.heading_path) == section.heading_path]
        # Every word is whole in one of its section's chunks; only a word (a URL) longer than
        # half a chunk may be cut, where no better boundary exists.
        for word in section.text.split():
            if len(word) < max_chars // 2:
                assert any(word in text for text in texts)


def test_ids_are_stable_and_derived_from_page_version_and_ordinal() -> None:
    page = PAGES["544178405"]

    first, second = chunk_page(page), chunk_page(page.model_copy())

    assert first == second
    assert [c.chunk_id for c in first] == [f"544178405:13:{n}" for n in range(len(first))]
    assert [c.ordinal for c in first] == list(range(len(first)))
    assert first[0].chunk_id == make_chunk_id("544178405", 13, 0)


def test_a_new_version_gets_new_ids() -> None:
    page = PAGES["544178405"]
    newer = page.model_copy(update={"version": 14})

    old_ids = {c.chunk_id for c in chunk_page(page)}
    new_ids = {c.chunk_id for c in chunk_page(newer)}

    assert old_ids.isdisjoint(new_ids)
    assert all(chunk_id.startswith("544178405:") for chunk_id in old_ids | new_ids)


@pytest.mark.parametrize("page_id", sorted(PAGES))
def test_page_metadata_is_carried_on_every_chunk(page_id: str) -> None:
    page = PAGES[page_id]

    for chunk in chunk_page(page):
        assert (chunk.page_id, chunk.version, chunk.title, chunk.url, chunk.space_key) == (
            page.page_id,
            page.version,
            page.title,
            page.url,
            "QM",
        )


def test_chunks_follow_the_heading_structure() -> None:
    chunks = chunk_page(PAGES["544112828"])
    paths = [tuple(c.heading_path) for c in chunks]

    assert paths[0] == ("Overview",)
    assert ("에이전트를 통한 서버 접속", "3. Seamless SSH 설정하기") in paths
    # Sections never share a chunk: consecutive chunks differ in path or split one section.
    sections = [s.heading_path for s in parse_storage(PAGES["544112828"].body_storage)]
    assert list(dict.fromkeys(paths)) == sections


def test_long_sections_split_with_overlap() -> None:
    chunks = chunk_page(PAGES["1454342158"], max_chars=800, overlap=100)
    pairs = [
        (a, b) for a, b in zip(chunks, chunks[1:], strict=False) if a.heading_path == b.heading_path
    ]

    assert len(pairs) >= 5
    overlaps = [shared_edge(a.text, b.text) for a, b in pairs]
    assert all(len(edge) <= 100 for edge in overlaps)
    assert sum(1 for edge in overlaps if len(edge) >= 20) >= len(pairs) * 0.8


def test_splits_prefer_line_and_sentence_boundaries() -> None:
    chunks = chunk_page(PAGES["1454342158"], max_chars=800, overlap=100)
    split = [
        a for a, b in zip(chunks, chunks[1:], strict=False) if a.heading_path == b.heading_path
    ]

    # These sections have short lines, so each piece of a split ends where a line ends.
    sections = {s.heading_path: s.text for s in parse_storage(PAGES["1454342158"].body_storage)}
    assert split
    for chunk in split:
        assert chunk.text + "\n" in sections[tuple(chunk.heading_path)]


def test_a_long_paragraph_splits_at_sentence_ends() -> None:
    text = " ".join(f"Sentence {n} says a little more, then ends." for n in range(40))

    pieces = split_text(text, max_chars=300, overlap=60)

    assert len(pieces) > 5
    assert all(piece.endswith("ends.") and piece.startswith("Sentence") for piece in pieces)


def test_text_without_spaces_is_cut_by_characters_with_exact_overlap() -> None:
    text = "가나다라마바사아자차카타파하" * 100  # 1400 characters, no space, no sentence end

    pieces = split_text(text, max_chars=300, overlap=50)

    assert all(len(piece) <= 300 for piece in pieces)
    rebuilt = pieces[0] + "".join(piece[50:] for piece in pieces[1:])
    assert rebuilt == text


def test_korean_sentences_are_whole_in_some_chunk() -> None:
    sentences = [f"{n}번째 문장은 설정 방법을 설명합니다." for n in range(60)]
    text = " ".join(sentences)

    pieces = split_text(text, max_chars=200, overlap=60)

    assert all(len(piece) <= 200 for piece in pieces)
    for sentence in sentences:
        assert any(sentence in piece for piece in pieces)
    assert all(piece.endswith("다.") for piece in pieces)


def test_embed_text_prefixes_title_and_headings() -> None:
    chunk = next(
        c for c in chunk_page(PAGES["544112828"]) if c.heading_path == ["에이전트를 통한 서버 접속"]
    )

    assert chunk.embed_text == f"User Agent > 에이전트를 통한 서버 접속\n\n{chunk.text}"
    assert not chunk.text.startswith("User Agent")


def test_redaction_runs_before_splitting_on_title_headings_and_text() -> None:
    page = PAGES["544178405"]

    def redact(text: str) -> str:
        return text.replace("QueryPie", "[ORG]")

    chunks = chunk_page(page, redact=redact, max_chars=200, overlap=40)

    assert chunks
    for chunk in chunks:
        assert "QueryPie" not in chunk.embed_text
        assert len(chunk.text) <= 200
    assert any("[ORG]" in chunk.text for chunk in chunks)


def test_chunk_sections_takes_already_rendered_sections() -> None:
    page = ConfluencePage(page_id="1", title="T", space_key="S", version=1, url="u")
    sections = [Section((), "intro"), Section(("H",), "body")]

    chunks = chunk_sections(page, sections)

    assert [(c.heading_path, c.text, c.chunk_id) for c in chunks] == [
        ([], "intro", "1:1:0"),
        (["H"], "body", "1:1:1"),
    ]
    assert isinstance(chunks[0], Chunk)


def test_an_empty_page_has_no_chunks() -> None:
    page = ConfluencePage(page_id="1", title="T", space_key="S", version=1, url="u")

    assert chunk_page(page) == []


@pytest.mark.parametrize(("max_chars", "overlap"), [(0, 0), (100, 50), (100, -1)])
def test_bad_sizes_are_rejected(max_chars: int, overlap: int) -> None:
    page = PAGES["544178405"]

    with pytest.raises(ValueError, match="max_chars|overlap"):
        chunk_page(page, max_chars=max_chars, overlap=overlap)


# -- what the embedding model reads -------------------------------------------------------------


@pytest.mark.parametrize("page_id", sorted(PAGES))
def test_with_the_models_tokenizer_no_chunk_outruns_what_the_model_reads(page_id: str) -> None:
    count = token_counter()
    page = PAGES[page_id]
    by_chars = chunk_page(page, max_chars=600, overlap=80)
    # These pages (a Korean product manual) are about 1.2 tokens a character: counted in
    # characters alone, the model would never read the end of most of their chunks.
    assert any(count(c.embed_text) > TEXT_TOKENS for c in by_chars)

    chunks = chunk_page(page, max_chars=600, overlap=80, count_tokens=count,
                        max_tokens=TEXT_TOKENS)

    assert len(chunks) > len(by_chars)
    assert all(count(c.embed_text) <= TEXT_TOKENS for c in chunks)
    assert all(0 < len(c.text) <= 600 for c in chunks)
    for section in parse_storage(page.body_storage):
        texts = [c.text for c in chunks if tuple(c.heading_path) == section.heading_path]
        for word in section.text.split():
            if count(word) < TEXT_TOKENS // 8:  # a longer word (a URL) may be cut
                assert any(word in text for text in texts), word


def test_japanese_is_split_at_sentence_ends_within_the_token_budget() -> None:
    count = token_counter()
    sentences = [
        f"{n}番目の患者の退院計画は、看護チームが毎週月曜日の朝に見直し、薬剤師と共有します。"
        for n in range(1, 31)
    ]
    text = "".join(sentences)  # no spaces at all, as Japanese is written
    assert count(text) > 6 * 120

    pieces = split_text(text, max_chars=600, overlap=80, count_tokens=count, max_tokens=120)

    assert all(count(piece) <= 120 for piece in pieces)
    assert all(piece.endswith("。") for piece in pieces)
    for sentence in sentences:
        assert any(sentence in piece for piece in pieces)


def test_english_chunks_are_the_same_with_or_without_the_token_budget() -> None:
    body = "".join(
        f"<p>Step {n}: the charge nurse reviews the discharge checklist with the pharmacist, "
        f"confirms the follow-up appointment and records the handover in the ward log.</p>"
        for n in range(1, 25)
    )
    page = ConfluencePage(page_id="9", title="Discharge", space_key="S", version=1, url="u",
                          body_storage=body)

    by_chars = chunk_page(page, max_chars=600, overlap=80)
    by_both = chunk_page(page, max_chars=600, overlap=80, count_tokens=token_counter(),
                         max_tokens=TEXT_TOKENS)

    assert len(by_chars) > 3 and by_both == by_chars  # 600 characters of English fit


def test_the_token_window_is_found_by_bisection_and_always_moves_forward() -> None:
    def utf8_bytes(text: str) -> int:
        return len(text.encode())

    text = "환자 상태는 안정적이며 " * 40 + "stable " * 40
    pieces = split_text(text, max_chars=300, overlap=40, count_tokens=utf8_bytes, max_tokens=90)
    assert all(utf8_bytes(piece) <= 90 for piece in pieces)
    assert max(utf8_bytes(piece) for piece in pieces) > 60  # filled, not shrunk to nothing
    assert pieces[0].startswith("환자") and pieces[-1].endswith("stable")

    # A character that alone counts more than the budget still goes, one at a time.
    assert split_text("abc", max_chars=10, overlap=0, count_tokens=lambda t: 9 * len(t),
                      max_tokens=5) == ["a", "b", "c"]


def test_a_token_counter_needs_a_budget() -> None:
    with pytest.raises(ValueError, match="together"):
        chunk_page(PAGES["544178405"], count_tokens=token_counter())
