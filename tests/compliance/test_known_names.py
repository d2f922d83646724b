"""compliance.known_names: a tenant's registered names, found with no cue around them.

The names are made up, so that no other detector (cues, word lists, Hangul) finds them and what
is tested here is the registry alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata

import pytest

from compliance import known_names
from compliance.known_names import (
    KnownNames,
    detect,
    digest,
    normalize,
    set_known_names,
    token_count,
    use_known_names,
)
from compliance.log_filter import PhiRedactingFilter
from compliance.phi import PhiKind, find_phi, redact

KEY = b"k" * 32
REGISTRY = ["Quenby Marsk", "Ann", "Orla O'Brennagh", "Jean-Luc Varvelle", "Müllerbrandt",
            "김영희", "Tarquin F. Ossery", "Doe-Vantress, Ysolde"]


@pytest.fixture
def names() -> KnownNames:
    return KnownNames.of(KEY, REGISTRY)


def found(names: KnownNames, text: str) -> list[str]:
    return [text[s:e] for s, e, _, _ in sorted(names.find(text))]


def test_normalize_folds_case_width_spaces_and_outer_punctuation() -> None:
    assert normalize("  Quenby\t\n MARSK. ") == "quenby marsk"
    assert normalize("(Orla O’Brennagh)") == "orla o'brennagh"
    assert normalize("ＱＵＥＮＢＹ") == "quenby"  # NFKC: full-width letters
    assert normalize("Strauß") == normalize("STRAUSS") == "strauss"
    assert normalize(unicodedata.normalize("NFD", "Müller")) == "müller"
    assert normalize("Doe, Ysolde") == "doe ysolde"
    assert normalize("Jean‐Luc") == "jean-luc"  # U+2010 hyphen
    assert normalize("...") == "" and token_count("...") == 0
    assert token_count("Tarquin F. Ossery") == 3


def test_digest_is_keyed_and_holds_no_name() -> None:
    d = digest(KEY, "Quenby Marsk")
    assert d == digest(KEY, "QUENBY  marsk") and len(d) == 64
    assert d != digest(b"j" * 32, "Quenby Marsk")
    assert "quenby" not in d and bytes.fromhex(d)
    with pytest.raises(ValueError):
        digest(KEY, " - ")
    assert "k" * 32 not in repr(KnownNames.of(KEY, ["Ann"]))


def test_a_registered_name_with_no_cue_is_found(names: KnownNames) -> None:
    text = "The export job for quenby marsk failed again"
    assert list(names.find(text)) == [(19, 31, PhiKind.NAME, 0)]


def test_matching_ignores_case(names: KnownNames) -> None:
    assert found(names, "QUENBY MARSK and Quenby Marsk and qUeNbY mArSk") == [
        "QUENBY MARSK", "Quenby Marsk", "qUeNbY mArSk"]


def test_only_whole_words_match(names: KnownNames) -> None:
    assert found(names, "Annual review by Ann, Anna and ANN.") == ["Ann", "ANN"]
    assert found(names, "Quenby Marskell and Quenbyx Marsk") == []
    assert found(names, "ann2 _ann ann_1") == []


def test_a_name_may_span_any_whitespace_and_line_breaks(names: KnownNames) -> None:
    assert found(names, "reported by Quenby\nMarsk today") == ["Quenby\nMarsk"]
    assert found(names, "Quenby \r\n\t  Marsk") == ["Quenby \r\n\t  Marsk"]
    assert found(names, "Quenby-Marsk, Quenby;Marsk, Quenby/Marsk") == []


def test_latin_names_with_apostrophes_hyphens_and_accents(names: KnownNames) -> None:
    assert found(names, "orla o’brennagh called") == ["orla o’brennagh"]
    assert found(names, "Jean-Luc Varvelle; jean‐luc varvelle") == [
        "Jean-Luc Varvelle", "jean‐luc varvelle"]
    decomposed = unicodedata.normalize("NFD", "MÜLLERBRANDT")
    assert found(names, f"Herr Müllerbrandt, {decomposed}") == ["Müllerbrandt", decomposed]
    assert found(names, "Mullerbrandt") == []  # accents count: register each spelling
    assert found(names, "Tarquin F. Ossery signed") == ["Tarquin F. Ossery"]
    assert found(names, "DOE-VANTRESS, YSOLDE") == ["DOE-VANTRESS, YSOLDE"]


def test_a_possessive_keeps_its_s(names: KnownNames) -> None:
    text = "Quenby Marsk's chart and Ann’s note"
    assert found(names, text) == ["Quenby Marsk", "Ann"]


def test_hangul_names_are_found_before_their_particles(names: KnownNames) -> None:
    text = "김영희가 왔고 김영희씨의 보험은 김영희님께 김영희 김영희에게서"
    assert found(names, text) == ["김영희"] * 5
    assert [e for _, e, _, _ in sorted(names.find("김영희가"))] == [3]  # the particle stays
    assert found(names, "박영희가") == []
    hangul = KnownNames.of(KEY, ["남궁민수"])
    assert found(hangul, "남궁민수님이 오셨다") == ["남궁민수"]  # four syllables, then a particle


def test_a_name_inside_an_email_or_identifier_is_left_to_those_detectors(
    names: KnownNames,
) -> None:
    # A rank-0 name inside the address would win the overlap and leave the rest of it in clear.
    assert found(names, "quenby.marsk@example.com ann@example.org ann.b quenby_marsk") == []
    assert found(names, "@ann said hi; see /users/ann/profile") == ["ann", "ann"]


def test_a_large_registry_over_a_large_text_stays_fast() -> None:
    # One hash per word and registered length: about 1 MB/s here, whatever the registry's size.
    names = KnownNames.of(KEY, [f"Given{i} Family{i}" for i in range(20_000)])
    text = "The nightly export of the billing batch finished without errors today. " * 10_000
    start = time.perf_counter()
    assert list(names.find(text + "given7\nFAMILY7")) == [
        (len(text), len(text) + 14, PhiKind.NAME, 0)]
    assert time.perf_counter() - start < 10  # measured 0.5 s for these 720 KB


def test_detect_uses_the_current_matcher_only(names: KnownNames) -> None:
    text = "the export job for quenby marsk failed"
    assert list(detect(text)) == []
    with use_known_names(names):
        assert list(detect(text)) == [(19, 31, PhiKind.NAME, 0)]
        with use_known_names(None):
            assert list(detect(text)) == []
        assert known_names.current() is names
    assert known_names.current() is None


async def test_the_current_matcher_follows_each_task(names: KnownNames) -> None:
    other = KnownNames.of(KEY, ["Ysolde Tarnwick"])

    async def tenant(matcher: KnownNames, text: str) -> list[str]:
        set_known_names(matcher)  # as the ingress does, for the rest of its task
        await asyncio.sleep(0)
        return [text[s:e] for s, e, _, _ in detect(text)]

    text = "quenby marsk and ysolde tarnwick"
    a, b = await asyncio.gather(asyncio.create_task(tenant(names, text)),
                                asyncio.create_task(tenant(other, text)))
    assert (a, b) == (["quenby marsk"], ["ysolde tarnwick"])
    assert known_names.current() is None  # the tasks' settings stayed in the tasks


# -- through the detector every exit uses ------------------------------------------------------

def test_redact_removes_a_registered_name_that_has_no_cue(names: KnownNames) -> None:
    text = "The export job for quenby marsk failed; 김영희가 다시 요청했다."
    # No cue and all in lower case: the Latin name is invisible without the registry (the
    # Hangul one has a name's shape, so the Hangul layer finds it either way).
    assert redact(text) == "The export job for quenby marsk failed; [NAME]가 다시 요청했다."
    with use_known_names(names):
        assert redact(text) == "The export job for [NAME] failed; [NAME]가 다시 요청했다."
        spans = find_phi("Quenby\nMarsk")
        assert [(s.start, s.end, s.kind) for s in spans] == [(0, 12, PhiKind.NAME)]


def test_another_tenants_registry_changes_nothing(names: KnownNames) -> None:
    text = "the export job for quenby marsk failed"
    with use_known_names(KnownNames.of(KEY, ["Ysolde Tarnwick"])):
        assert redact(text) == text
    with use_known_names(KnownNames.of(b"z" * 32, REGISTRY)):  # the same names, another key
        assert redact(text) == "the export job for [NAME] failed"


def test_a_log_line_is_redacted_with_the_current_names(names: KnownNames) -> None:
    record = logging.LogRecord("clinisight.x", logging.INFO, __file__, 1,
                               "retry for %s", ("quenby marsk",), None)
    with use_known_names(names):
        PhiRedactingFilter().filter(record)
    assert record.getMessage() == "retry for [NAME]"
