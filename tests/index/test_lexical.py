from __future__ import annotations

from index.lexical import LexicalIndex, tokenize
from tests.index.factories import page_chunks


def test_tokenize_words_casefolded_without_stopwords() -> None:
    assert tokenize("The HL7 Interface of the EHR, v2_5") == ["hl7", "interface", "ehr", "v2_5"]


def test_tokenize_cjk_runs_become_bigrams() -> None:
    # bm25s's default \w\w+ would keep "기록은" whole, and a query for "기록" would miss it.
    assert tokenize("환자 기록은") == ["환자", "기록", "록은"]
    assert tokenize("약") == ["약"]
    assert tokenize("FHIR서버") == ["fhir", "서버"]
    assert tokenize("ｆｕｌｌ-width") == ["full", "width"]  # NFKC


def test_finds_an_exact_korean_term_inside_compounds_and_particles() -> None:
    index = LexicalIndex()
    index.upsert_page("p1", page_chunks("p1", [
        "진료기록은 암호화하여 보관합니다.",
        "회의실 예약 방법",
    ], space="KO"))
    index.upsert_page("p2", page_chunks("p2", ["Patient records are encrypted at rest."]))
    hits = index.search("진료기록", 5)
    assert hits[0][0] == "p1:1:0"
    assert {cid for cid, _ in hits} == {"p1:1:0"}
    assert index.search("기록", 5)[0][0] == "p1:1:0"
    assert index.search("encrypted records", 5)[0][0] == "p2:1:0"


def test_upsert_replaces_a_page_and_delete_removes_it() -> None:
    index = LexicalIndex()
    index.upsert_page("p1", page_chunks("p1", ["alpha beta", "gamma"]))
    assert [c for c, _ in index.search("alpha", 5)] == ["p1:1:0"]
    index.upsert_page("p1", page_chunks("p1", ["delta"], version=2))
    assert index.dirty
    assert index.search("alpha", 5) == []
    assert [c for c, _ in index.search("delta", 5)] == ["p1:2:0"]
    assert not index.dirty
    index.delete_page("p1")
    assert len(index) == 0
    assert index.search("delta", 5) == []


def test_space_filter_applies_before_the_cut() -> None:
    index = LexicalIndex()
    for p in range(20):
        index.upsert_page(f"e{p}", page_chunks(f"e{p}", ["insulin dosing insulin"], space="ENG"))
    index.upsert_page("h1", page_chunks("h1", ["insulin policy"], space="HR"))
    # Globally the HR chunk ranks last of 21; filtered it is the only one.
    assert [c for c, _ in index.search("insulin", 3, space="HR")] == ["h1:1:0"]
    assert index.search("insulin", 3, space="NOPE") == []
    assert len(index.search("insulin", 3)) == 3


def test_ties_are_broken_by_chunk_id_and_scores_are_positive() -> None:
    index = LexicalIndex()
    for p in ["p3", "p1", "p2"]:
        index.upsert_page(p, page_chunks(p, ["same text"], title="same"))
    hits = index.search("same", 2)
    assert [c for c, _ in hits] == ["p1:1:0", "p2:1:0"]
    assert all(score > 0 for _, score in hits)
    assert index.search("unrelated", 5) == []
    assert index.search("", 5) == []
    assert LexicalIndex().search("anything", 5) == []
