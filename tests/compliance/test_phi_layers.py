"""The layers that find PHI without a cue a pattern can see: names and places from the word
lists and the cues of clinical notes, dates as notes write them, international addresses and
phone numbers, pagers, ages over 89; the policy's exceptions; failing closed.

Every positive case here was missed by the detector before these layers (checked on its last
commit, 3b3fdac); the sentences are written for these tests, none is copied from a data set.
"""

from __future__ import annotations

import math
import random
import time

import pytest

from compliance import _identifiers, _tokens, known_names, phi
from compliance._lexicon import fold
from compliance.phi import PhiCheckFailed, PhiKind, find_phi, redact
from tests.utils.phi import covering


def spans(text: str) -> list[tuple[str, PhiKind]]:
    return [(text[s.start : s.end], s.kind) for s in find_phi(text)]


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        # names with no cue word at all, in prose
        ("Please send the statement to Beatriz Soto before Friday.", "Beatriz Soto", PhiKind.NAME),
        ("Yesterday Wojciech Kowalczyk asked to reschedule.", "Wojciech Kowalczyk", PhiKind.NAME),
        # the cues of nursing notes, in lower case and in capitals
        ("social: son bill called twice overnight, updated.", "bill", PhiKind.NAME),
        ("husband milovan at bedside most of the shift", "milovan", PhiKind.NAME),
        ("MR. EDWIN PRZYBYLO IS AN 83 Y.O. MAN ADMITTED WITH CHF", "PRZYBYLO", PhiKind.NAME),
        ("Sons Dmitri, Anselm and Roger in to visit today.", "Anselm", PhiKind.NAME),
        ("Hank Zwolinski (son) cell 410-322-1419", "Zwolinski", PhiKind.NAME),
        # hospitals, wards and towns
        ("ADMITTED IN TRANSFER FROM CALVERT HOSPITAL FOR CHANGES", "CALVERT", PhiKind.LOCATION),
        ("pt transferred to GH from Harbor Hospital last night", "GH", PhiKind.LOCATION),
        ("Plan: transfer to Quartermain 5 (telemetry bed) tomorrow.", "Quartermain",
         PhiKind.LOCATION),
        ("PT LIVES WITH SON AND FAMILY IN ROCKVILLE. HAS 4 DAUGHTERS.", "ROCKVILLE",
         PhiKind.LOCATION),
        ("Was accepted by St. Agnes but cannot leave until Monday.", "St. Agnes",
         PhiKind.LOCATION),
        # dates as notes write them
        ("7/22 found by husband on floor, awake", "7/22", PhiKind.DATE),
        ("extubated 10/3 at 9:30am, remained stable", "10/3", PhiKind.DATE),
        ("s/p PTCA and stent to RCA 12/82, reoccluded", "12/82", PhiKind.DATE),
        ("she said it was the 11th of the month", "11th", PhiKind.DATE),
        ("Returned to the cath lab on 6-9 for a second stent.", "6-9", PhiKind.DATE),
        # a date typed against the word before it
        ("Pt last seen by cardiology on10/14/82, no changes since.", "10/14/82", PhiKind.DATE),
        ("d/c planned for12/3 if afebrile", "12/3", PhiKind.DATE),
        # "due" is a med schedule's word in a note, not a release's
        ("Pt stable overnight. Heparin gtt infusing, pt tolerating. Next INR due 4/19. Labs "
         "drawn, pt aware.", "4/19", PhiKind.DATE),
        # numbers
        ("Will remain involved as needed. Pager #54321.", "54321", PhiKind.PHONE),
        ("How can we reach you? You can call 070 4493 5104", "070 4493 5104", PhiKind.PHONE),
        ("wife would like a call at 201/324/1423 tonight", "201/324/1423", PhiKind.PHONE),
        ("98 yo gentleman admitted via cath lab", "98", PhiKind.AGE),
        # the other numbers HIPAA lists beside health-plan ones
        ("transport booked, arriving 0900 (ref # 5520193)", "5520193", PhiKind.MEMBER_ID),
        ("Denied; appeal filed under claim no. 40021987.", "40021987", PhiKind.MEMBER_ID),
        # addresses the US patterns did not know
        ("Please write to 35 Hausergasse 59 Suite 106, Karlovy Vary.", "Hausergasse 59",
         PhiKind.ADDRESS),
        ("my zip code is 35238", "35238", PhiKind.ADDRESS),
        ("The office is at PSC 4665, Box 2778 APO AE 80338", "APO AE 80338", PhiKind.ADDRESS),
    ],
)
def test_phi_without_a_pattern_cue_is_found(text: str, value: str, kind: PhiKind) -> None:
    assert covering(text, value) == kind, spans(text)


@pytest.mark.parametrize(
    "text",
    [
        # fractions, pain scores, ventilator settings and ranges are not dates or phones
        "IVF 1/2 NS at 200cc/hr, rales 1/3 up bilaterally",
        "remains on CPAP 5/5, PSV 10/5 overnight",
        "c/o 4/10 chest pain, relieved by NTG",
        "SBP has been stable 130-140 all shift",
        # glued to a word that does not introduce a date: versions, codes, ratios
        "Upgraded the pump firmware v2/3 and relabelled bay A1/2; BP 120/80/60.",
        "pt on 2-3 L NC overnight, weaned on 4-5 days of steroids",
        # project text: sprint and release dates, versions, keys, components
        "Sprint 14 ends 7/22; release 2.3.1 ships after CARE-118 is merged.",
        "PR #1234 fixes the retry; see ref #12 in the spec.",
        "Deployed to staging on 2024-05-01T03:00:00Z by the nightly build.",
        # studies write periods, not a person's day
        "Patients enrolled between January 1987 and January 2010 were reviewed.",
        # a sentence in another language is not a row of unknown names
        "Réunion d'équipe reportée à jeudi; aucune donnée patient dans ce compte rendu.",
        # one word alone gives the token model nothing to weigh
        "acme",
        "ok",
    ],
)
def test_what_is_not_phi_stays_readable(text: str) -> None:
    assert spans(text) == [], spans(text)


def test_a_first_name_that_is_a_word_before_an_unknown_surname() -> None:
    # The surname alone was found; "Faith" (a first name and an everyday word) was left.
    assert covering("Faith Obradovic arrived at noon.", "Faith Obradovic") is PhiKind.NAME


def test_shorthand_in_capitals_after_a_first_name_stays() -> None:
    # "Sang" and "Min" are first names; "DNG" and "RESIDS" are a note's shorthand.
    text = "30-50CC SANG DNG. FEED AT GOAL WITH MIN RESIDS."
    assert not [s for s in find_phi(text) if s.kind is PhiKind.NAME]


def test_a_name_just_before_a_labelled_phone_number() -> None:
    # No comma between the name and the label, as in "Lopie Certusi cell# 410-322-1419" in a
    # note; both words are also everyday words, so only the number beside them tells.
    text = "Family meeting today. Crystal Rivers phone 410-555-0143."
    assert covering(text, "Crystal Rivers") is PhiKind.NAME


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("the ride home was arranged by tomáš and his neighbour", "tomáš"),
        ("forwarding this from renée, she has the new schedule", "renée"),
    ],
)
def test_a_name_written_with_accents_is_looked_up_without_them(text: str, name: str) -> None:
    # The name lists spell names without accents; lower-case text has no capital to go by.
    start = text.index(name)
    assert any(s.start <= start and start + len(name) <= s.end for s in find_phi(text))


def test_fold_strips_accents_and_the_letters_unicode_does_not_decompose() -> None:
    assert [fold(w) for w in ("péter", "jäntti", "søren", "łukasz", "straße")] == [
        "peter", "jantti", "soren", "lukasz", "strasse",
    ]


def test_provider_names_stay_readable_unless_configured() -> None:
    text = "Dr. Marder aware, will see pt this evening."
    assert redact(text) == text
    phi.configure(redact_provider_names=True)
    try:
        assert redact(text) == "Dr. [NAME] aware, will see pt this evening."
    finally:
        phi.configure(redact_provider_names=False)


def test_overlapping_readings_are_redacted_as_their_union() -> None:
    names = known_names.KnownNames.of(b"k" * 32, ["Jordan"])
    text = "Lives at 1200 Jordan Lane, Apt 2B, Columbus, OH 43215 with her son."
    with known_names.use_known_names(names):
        redacted = redact(text)
    # The registered name inside the address does not cut the address in two.
    assert redacted == "Lives at [ADDRESS] with her son.", redacted


def test_a_failing_layer_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> object:
        raise RuntimeError("layer down")

    monkeypatch.setattr(_identifiers, "detect", broken)
    with pytest.raises(PhiCheckFailed) as caught:
        redact("Patient Jane Doe, MRN 00482193")
    assert "Jane" not in str(caught.value)


def test_overrunning_the_budget_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    find_phi("warm Mr. Smith")
    monkeypatch.setattr(phi, "_BUDGET_S", -1.0)
    with pytest.raises(PhiCheckFailed, match="time budget"):
        find_phi("Patient Jane Doe")


def test_hostile_input_is_handled_whole() -> None:
    rng = random.Random(7)
    alphabet = "abcXYZ 0123456789/-.,:;()\n\t김영희씨님보호자日本語é\u0000\ufffd\U0001f600"
    text = "".join(rng.choice(alphabet) for _ in range(300_000))
    binary = bytes(rng.randrange(256) for _ in range(200_000)).decode("latin-1")
    for sample in (text, binary, "7/22 " * 50_000, "Mr. " * 60_000, "a" * 500_000):
        result = find_phi(sample)
        assert all(0 <= s.start < s.end <= len(sample) for s in result)
        assert all(a.end <= b.start for a, b in zip(result, result[1:], strict=False))


def test_the_cached_scorer_equals_the_features_model() -> None:
    """Detection sums cached weights; training reads ``features``: they must agree."""
    m = _tokens.model()
    ws = _tokens.Words("Pt seen by Quartermain staff; son Bill Przybylo called from Towson.")
    scorer = _tokens._Scorer(m, ws._lex)
    for i in range(len(ws)):
        a, c = m.bias
        for f in _tokens.features(ws, i):
            w = m.weights.get(f)
            if w:
                a, c = a + w[0], c + w[1]
        total = math.exp(a) + math.exp(c) + 1.0
        assert scorer.score(ws, i) == pytest.approx((math.exp(a) / total, math.exp(c) / total))


def test_cost_grows_linearly_with_the_text() -> None:
    """Not a speed target (that is benchmarks/phi_eval.py): doubling the text must not
    quadruple the work, which a backtracking pattern or a quadratic join would do."""
    unit = ("Pt: Jane Doe, 7/22 seen at GH. Son bill called 617-555-0123. "
            "Sprint 14 ends 7/22, KT-22 merged. ")
    find_phi(unit)

    def cost(n: int) -> float:
        text = unit * n
        best = math.inf
        for _ in range(3):
            started = time.process_time()
            find_phi(text)
            best = min(best, time.process_time() - started)
        return best

    small, large = cost(500), cost(2000)
    assert large < small * 8, (small, large)  # 4x the text; linear is ~4x, quadratic 16x


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # a long subscriber group after the area code, and a bare number with its word after
        ("Nobody answered the phone at 07-31598246 this morning.", "07-31598246"),
        ("Her cell is 0522 4471190, ask for the desk.", "0522 4471190"),
        ("7413306925 fax, 2208817746 mobile", "7413306925"),
        # an extension does not push the digits over the limit
        ("call 001-612-507-3349x48812 after six", "001-612-507-3349x48812"),
        # any area code where the separators agree; parentheses; trunk digit; long group
        ("Her number changed to 061-774-2093 last week.", "061-774-2093"),
        ("(017)442-8810 is the answering service", "(017)442-8810"),
        ("Transfer the family to +44 (0)161 496 0734 tonight.", "+44 (0)161 496 0734"),
        ("Her brother is on +91-9822013377 most days.", "+91-9822013377"),
        ("Reachable on +1-208-554-0193x117 until noon.", "+1-208-554-0193x117"),
        # shapes only phone numbers have, with no word beside them
        ("The daughter left +44(0)114 4960990 at the desk.", "+44(0)114 4960990"),
        ("Forms list (0118) 4960721 for the son.", "(0118) 4960721"),
        ("Old records show 020 74960290 and nothing else.", "020 74960290"),
        ("Written on the card: 04 87 10 57 95", "04 87 10 57 95"),
        ("emergency contact 00420 602 062 563 in Prague", "00420 602 062 563"),
        ("Contact abroad: (+358) 264751550", "(+358) 264751550"),
        # a phone word the patterns lacked, and a run of digits after one
        ("please text 7584-0215 when you land", "7584-0215"),
        ("my number is 504 330 025", "504 330 025"),
        ("You can reach me at 012317376.", "012317376"),
    ],
)
def test_phone_notations_are_found(text: str, value: str) -> None:
    assert covering(text, value) == PhiKind.PHONE, spans(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # the building number before a street or a box the patterns found
        ("Post goes to 27 P.O. Box 512, Nuuk.", "27 P.O. Box 512"),
        # a street between two numbers, after an address cue or a unit, in any script or case
        ("Her mother lives at 14 ul. Kwiatowa 8, Lublin", "14 ul. Kwiatowa 8"),
        ("his address is 3 Krokusowa 19", "3 Krokusowa 19"),
        ("Ms. Ines Varga Suite 210 61 Dózsa György út 5 | Pécs", "61 Dózsa György út 5"),
        ("we met at 12 Πλατεία Νερού 4, Κέρκυρα", "12 Πλατεία Νερού 4"),
        ("7 Lipová 233\n Apt. 12\n Brno", "7 Lipová 233"),
        ("wrote it down: 40 Hafnarbraut 9, Akureyri", "Hafnarbraut 9"),
        # a street word first, the number before, to the end of the line
        ("The parcel went to 18 22 rue des Lilas\nLyon", "22 rue des Lilas"),
        # English streets in lower case, and suffixes beyond the common ten
        ("sent the forms to 46 harrowgate road yesterday", "46 harrowgate road"),
        ("Her new place is 915 Cedar Hollow, Boise, ID 83702.", "915 Cedar Hollow"),
        # city, state and ZIP without a comma, or with the state spelled out
        ("Reno NV 89501 is where the bill goes", "Reno NV 89501"),
        ("She moved to Salem, Oregon 97301 in May.", "Salem, Oregon 97301"),
        # the rarer USPS suffixes; territories, Canada and Australia; accented towns
        ("mail to 2072 Ewing Station, Holtborough, AK 70729", "2072 Ewing Station"),
        ("Billing: Hagatna, GU 96910 for the copay", "Hagatna, GU 96910"),
        ("now at 1872 Jason Corners\nEast Jamesland, QC H6X 8E1", "East Jamesland, QC H6X 8E1"),
        ("lives in Johnbury, NSW, 2617 with her son", "Johnbury, NSW, 2617"),
        ("forward it to West Clémence, MA 46444 please", "West Clémence, MA 46444"),
        # any street on the line above a city, state and ZIP, whatever its suffix
        ("send it to 76273 Petersen Green Apt. 588\nPort Glennfort, NV 92197",
         "76273 Petersen Green Apt. 588"),
        # a street over a postal code and town, as most of Europe writes them
        ("Ship it to:\nÄngsstigen 4\n42820 Linköping\nThanks", "Ängsstigen 4"),
        ("Ship it to:\nÄngsstigen 4\n42820 Linköping\nThanks", "42820 Linköping"),
        ("send the forms to 83, boulevard Cécile Antoine\n04805 François.", "04805 François"),
        ("We moved to Viale Baccio, 437\n22073, Andrate (CO) last month.", "Viale Baccio, 437"),
        ("her address is Na Pěšině 7\n417 93 Most", "417 93 Most"),
        ("Send it to Mathisenåsen 46F, 7909 Annø please", "7909 Annø"),
        ("Send it to Mathisenåsen 46F, 7909 Annø please", "Mathisenåsen 46F"),
        ("Please send the forms to 39 Hawthorn Street Y86 9E77 Jemma Ville.", "Y86 9E77"),
        ("Please send the forms to Glorieta Néstor Barrera 69\nMálaga, 16462.",
         "Glorieta Néstor Barrera 69"),
        ("Please send the forms to Glorieta Néstor Barrera 69\nMálaga, 16462.", "16462"),
        ("her new address is Strada Taliercio, 47\n56011, Gabella (PI)", "Strada Taliercio, 47"),
        # a British postcode alone on its line below the street
        ("Please send the forms to 8 Thornton Lodge\nLynnefurt\nL9A 7ZH.", "L9A 7ZH"),
    ],
)
def test_address_forms_are_found(text: str, value: str) -> None:
    assert covering(text, value) == PhiKind.ADDRESS, spans(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # the postal code on a line below a street, a unit or a box, in the forms of many
        # countries: after the town (with a region code), before it, letters and digits
        ("12 Birch Street\n Apt. 4\n Tromsø\n Norway 9008", "9008"),
        ("Apt. 77 5 Lindenweg 3\nKassel HE 34117", "HE 34117"),
        ("Suite 9\n 8 Keizersgracht 41\n 1015 CJ Amsterdam", "1015 CJ"),
        ("Unit 6, 90 Elm Street\nLeeds LS1 4AP", "LS1 4AP"),
        ("Apt. 3\nOttawa ON K1P 5G4", "K1P 5G4"),
        ("ul. Kwiatowa 8, Suite 2\nLublin 20-601", "20-601"),
    ],
)
def test_postal_codes_below_an_address_are_found(text: str, code: str) -> None:
    assert covering(text, code) == PhiKind.ADDRESS, spans(text)


@pytest.mark.parametrize(
    "text",
    [
        # doses, ventilator settings and counts have the number-word-number shape
        "Gave 2 Percocet at 2300, good relief; PS 15 PEEP 5, RR 12.",
        "PWP 40 with V waves to 50, CVP 28 with V waves to 38.",
        "Take 2 tablets 3 times a day with food.",
        # sidebars in papers, and figures with a number
        "Causes are listed in (Box 1), and the outcomes in Box 2. Methods follow.",
        # lower-case prose with a street word
        "it is a 10 minute drive, then 23 to drive home, and 3 more lanes",
        # digit groups with no phone word, versions, Jira keys, IPs
        "Ticket KT-22 moved 12 34 56 78 points; build 2024 0501 3344 passed on 10.0.0.12.",
        # pressures on consecutive lines: a number ending a line over a number starting one
        "VALUES FOR IABP-\nAS- 86-105\nAD-91-118\nMAP 72",
        "Sprint 14 closed with 32 points\n2024 Roadmap review is next",
        # numbers with a leading zero or a plus that are not phones
        "Build 0501 is green; velocity +15 points; error at line 42 of 0.12.3",
        "Job 07 ran 3 times: 01 02 03.",
        "Deploy window 06-14-2024 1430 to 1600; rollback by 06/15/2024 0900.",
    ],
)
def test_address_and_phone_shapes_that_are_not_phi(text: str) -> None:
    got = [s for s in spans(text) if s[1] in (PhiKind.ADDRESS, PhiKind.PHONE)]
    assert got == [], got


def test_an_address_has_one_postal_code() -> None:
    # A table of words and counts below a unit is not a column of postal codes.
    text = "unit 2127\nwater 2126\nstone 2125\nriver 2124\nglass 2123"
    assert [v for v, _ in spans(text)] == ["unit 2127", "2126"], spans(text)
