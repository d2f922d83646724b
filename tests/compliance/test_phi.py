"""compliance.phi: what is found, what is left alone, and the shapes it walks."""

from __future__ import annotations

import time
from collections import namedtuple
from typing import Any

import pytest

from compliance.phi import PhiKind, PhiSpan, find_phi, redact, redact_obj

# (text, the PHI substring in it, its kind). Written for the tests; the benchmark set is apart.
FOUND = [
    ("Registration typed SSN 219-44-7710 into the notes field.", "219-44-7710", PhiKind.SSN),
    ("ssn: 219447710 came over in the 834 file", "219447710", PhiKind.SSN),
    ("Only the masked form ***-**-7710 may appear in tickets.", "***-**-7710", PhiKind.SSN),
    ("Caller confirmed her SSN ends in 7710.", "7710", PhiKind.SSN),
    ("Chart opened for MRN 00913377 by the night shift.", "00913377", PhiKind.MRN),
    ("MR#: K-4471902 was merged into the wrong record.", "K-4471902", PhiKind.MRN),
    ("Medical record number 7720013 needs a correction.", "7720013", PhiKind.MRN),
    (
        "Subscriber ID: BQX220019934 is inactive since the plan change.",
        "BQX220019934",
        PhiKind.MEMBER_ID,
    ),
    ("Eligibility for 7QR2-HM4-TK19 came back active.", "7QR2-HM4-TK19", PhiKind.MEMBER_ID),
    # 1234567893 is the worked example in the CMS NPI check-digit guidance.
    ("Ordering NPI 1234567893 is missing on the lab order.", "1234567893", PhiKind.NPI),
    ("Son asked us to call (380) 555-0117 after 5pm.", "(380) 555-0117", PhiKind.PHONE),
    (
        "Pharmacy line 1-866-555-0190 ext. 12 for the refill.",
        "1-866-555-0190 ext. 12",
        PhiKind.PHONE,
    ),
    ("Daughter in Lyon: +33 4 72 55 01 90.", "+33 4 72 55 01 90", PhiKind.PHONE),
    ("cell 6145550127 on the intake sheet", "6145550127", PhiKind.PHONE),
    (
        "Portal invite went to harriet.vole@example.org by mistake.",
        "harriet.vole@example.org",
        PhiKind.EMAIL,
    ),
    ("DOB 02/17/1953, allergic to penicillin.", "02/17/1953", PhiKind.DATE),
    ("She was admitted on March 4, 2024 with pneumonia.", "March 4, 2024", PhiKind.DATE),
    ("Discharged 2024-03-09T11:40 to home with services.", "2024-03-09T11:40", PhiKind.DATE),
    ("Knee surgery on 9 January 2023 went well.", "9 January 2023", PhiKind.DATE),
    ("Last seen in clinic Aug 2023.", "Aug 2023", PhiKind.DATE),
    (
        "Ambulance took her from 3810 Larkspur Lane, Apt 2B, Columbus, OH 43215 to the ED.",
        "3810 Larkspur Lane, Apt 2B, Columbus, OH 43215",
        PhiKind.ADDRESS,
    ),
    (
        "Statements go to PO Box 8812, Reno, NV 89501.",
        "PO Box 8812, Reno, NV 89501",
        PhiKind.ADDRESS,
    ),
    ("Bug: patient Rupert Haskins sees another patient's labs.", "Rupert Haskins", PhiKind.NAME),
    ("Pt: Imogen Castellanos, bed 7.", "Imogen Castellanos", PhiKind.NAME),
    ("Mr. Alvarez declined the flu shot.", "Alvarez", PhiKind.NAME),
    ("Her husband Tobias will pick her up.", "Tobias", PhiKind.NAME),
    ("Name: Quentin Ashdown", "Quentin Ashdown", PhiKind.NAME),
    ("Patient name: ABERNETHY, CLARA", "ABERNETHY, CLARA", PhiKind.NAME),
    ("Lionel Okafor, DOB 1/9/1971, called about his bill.", "Lionel Okafor", PhiKind.NAME),
]


@pytest.mark.parametrize(("text", "phi", "kind"), FOUND)
def test_each_kind_is_found_and_replaced(text: str, phi: str, kind: PhiKind) -> None:
    start = text.index(phi)
    assert PhiSpan(start, start + len(phi), kind) in find_phi(text)
    redacted = redact(text)
    assert phi not in redacted
    assert kind.placeholder in redacted


def test_labels_in_json_and_sql() -> None:
    assert redact('{"mrn": "00913377", "ssn": "219447710", "dob": "1953-02-17"}') == (
        '{"mrn": "[MRN]", "ssn": "[SSN]", "dob": "[DATE]"}'
    )
    assert redact("WHERE mrn = '00913377'") == "WHERE mrn = '[MRN]'"


def test_spans_are_sorted_and_do_not_overlap() -> None:
    text = (
        "Patient Rupert Haskins (MRN 00913377), DOB 02/17/1953, lives at 12 Elm Street, "
        "Dover, DE 19901; phone (302) 555-0144, email r.h@example.com, SSN 219-44-7710."
    )
    spans = find_phi(text)
    assert [s.kind for s in spans] == [
        PhiKind.NAME,
        PhiKind.MRN,
        PhiKind.DATE,
        PhiKind.ADDRESS,
        PhiKind.PHONE,
        PhiKind.EMAIL,
        PhiKind.SSN,
    ]
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
    assert redact(text) == (
        "Patient [NAME] (MRN [MRN]), DOB [DATE], lives at [ADDRESS]; "
        "phone [PHONE], email [EMAIL], SSN [SSN]."
    )


def test_npi_needs_a_valid_check_digit() -> None:
    assert find_phi("NPI 1234567893") == [PhiSpan(4, 14, PhiKind.NPI)]
    # Same number with the last digit changed: the Luhn check over 80840 fails.
    assert all(s.kind is not PhiKind.NPI for s in find_phi("NPI 1234567890"))
    assert redact("Rendering NPI 1234567890 was rejected.") == (
        "Rendering NPI 1234567890 was rejected."
    )


# Test numbers the card networks publish for integration testing (Stripe's and PayPal's lists),
# and the IBAN example of the UK's and Germany's banking standards.
@pytest.mark.parametrize(
    ("text", "account"),
    [
        ("Please charge my credit card. Number is 4242424242424242", "4242424242424242"),
        ("Billing retried card 5555 5555 5555 4444 twice.", "5555 5555 5555 4444"),
        ("amex 3782-822463-10005 on file for the copay", "3782-822463-10005"),
        ("refund to 6011111111111117 approved", "6011111111111117"),
        ("Card 2223003122003222 declined at the front desk.", "2223003122003222"),
        ("wire the deposit to GB82 WEST 1234 5698 7654 32 today", "GB82 WEST 1234 5698 7654 32"),
        ("IBAN DE89370400440532013000 (Sparkasse)", "DE89370400440532013000"),
        ("my iban is de89370400440532013000", "de89370400440532013000"),
    ],
)
def test_account_numbers_are_found(text: str, account: str) -> None:
    start = text.index(account)
    assert PhiSpan(start, start + len(account), PhiKind.ACCOUNT) in find_phi(text)
    assert account not in redact(text)


def test_account_numbers_need_a_valid_check() -> None:
    # The same numbers with their last digit changed fail Luhn and mod-97; a millisecond
    # timestamp and a 16-digit id outside the issuers' ranges are not cards.
    for text in (
        "charged card 4242424242424243",
        "wire to GB82 WEST 1234 5698 7654 33",
        "event_ts=1733412345675 trace 1000000000000016",
    ):
        assert all(s.kind is not PhiKind.ACCOUNT for s in find_phi(text)), text


def test_redact_obj_redacts_a_card_field_whatever_its_value() -> None:
    assert redact_obj({"card_number": 4111}, sensitive_keys=True) == {"card_number": "[ACCOUNT]"}


def test_text_without_a_digit_still_has_its_month_and_e_mail() -> None:
    # Text with no digit skips every numeric shape; what needs none is still found.
    text = "seen in sept by the team; son wrote from ana.ruiz@example.org"
    kinds = {text[s.start : s.end]: s.kind for s in find_phi(text)}
    assert kinds["sept"] is PhiKind.DATE
    assert kinds["ana.ruiz@example.org"] is PhiKind.EMAIL


def test_nine_bare_digits_need_an_ssn_label() -> None:
    assert find_phi("Batch 219447710 finished") == []
    assert find_phi("SSN 219447710") == [PhiSpan(4, 13, PhiKind.SSN)]


@pytest.mark.parametrize(
    "text",
    [
        "KT-22 blocked by CARE-118; estimate 5 points, carried over from sprint 14.",
        "Upgraded ray to 2.50.1 and faiss-cpu to 1.8.0; release 4.13.0 is next.",
        "Story points: 1, 2, 3, 5, 8, 13.",
        "The deploy is due 2024-05-01 and the sprint ends 06/14/2024.",
        "snapshot=2024-05-01T03:00:00Z shard=3 vectors=120034 latency_ms=18",
        "Discharge summary template v2 approved on 2024-04-19.",
        "Allowlist 10.0.12.4 and 10.0.12.5 on port 8443.",
        "Tenant id 123e4567-e89b-12d3-a456-426614174000, commit 9f2c1e7, PR #482.",
        "ICD-10 E11.9 and CPT 99213 are mapped; LOINC 4548-4 too.",
        "Dr. Patel and Dr. Mehta own the stroke pathway page.",
        "The Patient Portal and the Patient Safety dashboard ship in Q3.",
        "Error code 1001-22-3344 is the vendor's timeout.",
        "Velocity 34, 29, 41; p95 212 ms; 14,223 pages reindexed in 41m.",
        "Token expired 2024-05-01T12:00:00Z; rotate the key.",
    ],
)
def test_project_text_is_left_alone(text: str) -> None:
    assert find_phi(text) == []
    assert redact(text) == text


def test_a_date_needs_clinical_context() -> None:
    assert redact("Planning due 2024-05-01.") == "Planning due 2024-05-01."
    assert redact("Patient discharged 2024-05-01.") == "Patient discharged [DATE]."
    # The nearer word decides: here the date is the template's, not the patient's.
    assert redact("Discharge letter template due 2024-05-01.") == (
        "Discharge letter template due 2024-05-01."
    )
    # Dates listed after a clinical one share its context.
    assert redact("ED visits on 1/4/2024, 1/19/2024 and 2/2/2024.") == (
        "ED visits on [DATE], [DATE] and [DATE]."
    )


def test_providers_are_not_redacted_but_patients_are() -> None:
    text = "Dr. Okonkwo saw patient Wendell Price; Dr. Okonkwo's NPI is 1234567893."
    assert redact(text) == "Dr. Okonkwo saw patient [NAME]; Dr. Okonkwo's NPI is [NPI]."
    # A name before a phone number is taken for the phone's owner, unless it is a provider's.
    assert redact("Lena Fox, phone (602) 555-0135") == "[NAME], phone [PHONE]"
    assert redact("Referred by Dr. Amir Hosseini, phone (602) 555-0135") == (
        "Referred by Dr. Amir Hosseini, phone [PHONE]"
    )
    assert redact("Her daughter Dr. Lena Fox is the proxy.") == (
        "Her daughter Dr. Lena Fox is the proxy."
    )
    assert redact("Patient Ana Ruiz, 44F, seen by Dr. J. Ortiz") == (
        "Patient [NAME], 44F, seen by Dr. J. Ortiz"
    )


def test_names_stop_at_words_that_are_not_names() -> None:
    assert redact("patient Portal login fails") == "patient Portal login fails"
    assert redact("Patient Ines Duarte Portal access") == "Patient [NAME] Portal access"
    assert redact("Mrs. van der Berg called.") == "Mrs. [NAME] called."
    # A cue right after a name starts the next name.
    assert redact("Mr. Smith Mr. Jones Patient Ann Patient Bo") == (
        "Mr. [NAME] Mr. [NAME] Patient [NAME] Patient [NAME]"
    )


def test_korean_text_passes_through_untouched() -> None:
    text = "환자 상태 업데이트는 매주 월요일 회의에서 공유합니다. 버전 2.3.1 배포 완료, KT-45 해결."
    assert find_phi(text) == []
    assert redact(text) == text


def test_korean_text_keeps_its_hangul_around_a_phone_number() -> None:
    text = "보호자 연락처010-2345-6789로 안내"
    assert redact(text) == "보호자 연락처[PHONE]로 안내"


def test_offsets_count_code_points() -> None:
    text = "😀 ✅ patient José Núñez-Ortíz, DOB 1/2/1950"
    spans = find_phi(text)
    assert [text[s.start : s.end] for s in spans] == ["José Núñez-Ortíz", "1/2/1950"]


def test_redact_is_idempotent() -> None:
    text = "Pt: Imogen Castellanos, MRN 00913377, DOB 02/17/1953, cell (614) 555-0127."
    once = redact(text)
    assert redact(once) == once
    assert find_phi(once) == []


def test_empty_text() -> None:
    assert find_phi("") == []
    assert redact("") == ""


Visit = namedtuple("Visit", ["note", "room"])


def test_redact_obj_walks_nested_structures_and_keeps_keys() -> None:
    original: dict[str, Any] = {
        "summary": "Patient Rupert Haskins, MRN 00913377",
        "SSN 219-44-7710": "key kept as is",
        "items": [
            {"note": "call (302) 555-0144", "count": 3},
            ("DOB 02/17/1953", None, 4.5),
            Visit(note="email r.h@example.com", room=12),
        ],
        "tags": {"no phi here", "MRN 00913377"},
        "raw": b"SSN 219-44-7710",
    }
    result = redact_obj(original)
    assert result == {
        "summary": "Patient [NAME], MRN [MRN]",
        "SSN 219-44-7710": "key kept as is",
        "items": [
            {"note": "call [PHONE]", "count": 3},
            ("DOB [DATE]", None, 4.5),
            Visit(note="email [EMAIL]", room=12),
        ],
        "tags": {"no phi here", "MRN [MRN]"},
        "raw": b"SSN 219-44-7710",  # bytes are not text: left alone
    }
    assert type(result["items"][2]) is Visit
    # A new object: the original is untouched.
    assert original["summary"] == "Patient Rupert Haskins, MRN 00913377"
    assert result["items"] is not original["items"]


def test_redact_obj_by_sensitive_key() -> None:
    # Values no text detector can read as PHI: a number, a bare code, an initial.
    payload = {"first_name": "J", "MRN": 4821930, "patient": {"Date-Of-Birth": 19600102}}
    assert redact_obj(payload) == payload
    assert redact_obj(payload, sensitive_keys=True) == {
        "first_name": "[NAME]",
        "MRN": "[MRN]",
        "patient": {"Date-Of-Birth": "[DATE]"},
    }


def test_redact_obj_survives_a_cycle() -> None:
    loop: list[object] = ["MRN 00913377"]
    loop.append(loop)
    result = redact_obj(loop)
    assert result[0] == "MRN [MRN]"
    assert result[1] is result


@pytest.mark.parametrize(
    "text",
    [
        "1" * 200_000,
        "Aa " * 70_000,
        "patient Aa Bb Cc " * 12_000,
        "+1 " * 70_000,
        "1-" * 100_000,
        "a.b" * 70_000,
        "Smith, " * 30_000,
        "MRN 1234 and " * 15_000,
    ],
    ids=[
        "digits",
        "title-words",
        "patient-words",
        "plus-ones",
        "dashes",
        "dots",
        "commas",
        "mrn-list",
    ],
)
def test_adversarial_input_stays_fast(text: str) -> None:
    # A pattern that backtracked badly would take minutes here, not a fraction of a second.
    started = time.perf_counter()
    find_phi(text)
    assert time.perf_counter() - started < 5.0
