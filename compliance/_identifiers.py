"""Detectors for PHI recognisable by its shape: identifiers, phone numbers, e-mail, addresses.

``compliance.phi`` documents the policy; this module only holds the patterns. Each detector
yields candidates (start, end, kind, rank) and never decides overlaps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from stdnum import iban, luhn
from stdnum.us import ssn as us_ssn

from compliance._kinds import NOT_AFTER, NOT_BEFORE, Candidate, PhiKind
from compliance._lexicon import lexicon

# Ranks: the lower wins an overlap.
LABELLED, STRONG, ADDRESS, WEAK = 0, 1, 2, 3

# ---------------------------------------------------------------- SSN

_SSN_DASHED = re.compile(NOT_AFTER + r"[0-9]{3}-[0-9]{2}-[0-9]{4}" + NOT_BEFORE)
_SSN_MASKED = re.compile(r"(?<![*Xx•0-9])[*Xx•]{3}-?[*Xx•]{2}-?[0-9]{4}" + NOT_BEFORE)
_SSN_NINE = re.compile(NOT_AFTER + r"[0-9]{3}( ?)[0-9]{2}\1[0-9]{4}" + NOT_BEFORE)
_SSN_CUE = re.compile(r"(?i:\b(?:ssn|ss ?#|ss ?no\b|social +security))")
_SSN_LAST4 = re.compile(
    r"(?i:(?:\b(?:ssn|ss ?#|social\s+security)[^0-9\n]{0,25}?\b(?:ends?|ending)\s+(?:in|with)"
    r"|\blast\s+(?:4|four)(?:\s+digits)?\s+of\s+(?:the\s+|their\s+|her\s+|his\s+)?"
    r"(?:ssn|social\s+security(?:\s+number)?))\s*(?:is\s+|are\s+)?[:#=]?\s*)"
    r"([0-9]{4})" + NOT_BEFORE
)
_CUE_WINDOW = 30


def _ssn(text: str) -> Iterator[Candidate]:
    for m in _SSN_DASHED.finditer(text):
        yield m.start(), m.end(), PhiKind.SSN, STRONG
    for m in _SSN_MASKED.finditer(text):
        yield m.start(), m.end(), PhiKind.SSN, STRONG
    for m in _SSN_LAST4.finditer(text):
        yield m.start(1), m.end(1), PhiKind.SSN, STRONG
    for m in _SSN_NINE.finditer(text):
        cue = _SSN_CUE.search(text, max(0, m.start() - _CUE_WINDOW), m.start())
        # Spaced nine digits without a label: trust them only if they could be an issued SSN.
        if cue or (m.group(1) and us_ssn.is_valid(m.group())):
            yield m.start(), m.end(), PhiKind.SSN, STRONG


# ---------------------------------------------------------------- e-mail, MBI, phone

_DIGIT = re.compile(r"[0-9]")

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)
# CMS Medicare Beneficiary Identifier: 11 characters, letters without S, L, O, I, B, Z.
_MBI_A = "[AC-HJKMNP-RT-Y]"
_MBI_AN = "[0-9AC-HJKMNP-RT-Y]"
_MBI = re.compile(
    rf"(?<![0-9A-Za-z-])[1-9]{_MBI_A}{_MBI_AN}[0-9]-?{_MBI_A}{_MBI_AN}[0-9]-?"
    rf"{_MBI_A}{{2}}[0-9]{{2}}(?![0-9A-Za-z])"
)
_EXT = r"(?:\s*(?:x|ext\.?|extension)\s*[0-9]{1,6})?"
_PHONE = re.compile(
    r"(?<![0-9A-Za-z_+])(?<![0-9][-./])(?:"
    # North America: +1 (614) 555-0178, 1-800-555-0148, 614.555.0163, 917 555 0129, ext. 22,
    # and with slashes as notes write them (201/324/1423): three groups of 3, 3 and 4 digits
    # are never a date or a ratio
    r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ ./-])[0-9]{3}[ ./-][0-9]{4}"
    + _EXT
    # Any three digits as the area code where the separators agree, as generated and foreign
    # numbers have them: 054-353-1726, 001-748-088-2851x818, (054)353-1726
    + r"|(?:\+1[ .-]?|001[ .-])?(?:[0-9]{3}([.-])[0-9]{3}\1|\([0-9]{3}\) ?[0-9]{3}[ .-])[0-9]{4}"
    + _EXT
    # International with a country code: +44 20 7946 0958, +33 1 42 68 53 00
    # (a separator between groups keeps the match unambiguous, so it cannot backtrack badly;
    # "(0)" is the trunk digit written in: +44 (0)20 7946 0958; +91-9876543210)
    + r"|\+[1-9][0-9]{0,2}(?:[ .-](?:\(0\)[ ]?)?[0-9]{1,10}){1,6}" + _EXT
    + r"|\+[2-9][0-9]{7,13}"
    # Trunk-prefixed national numbers, dashed: 010-2345-6789
    r"|0[1-9][0-9]?-[0-9]{3,4}-[0-9]{4}"
    r")" + NOT_BEFORE
)
_PHONE_BARE = re.compile(NOT_AFTER + r"(?:\+?1)?[2-9][0-9]{9}" + NOT_BEFORE)
# Shapes only telephone numbers have, with no word beside them: a country code with a
# bracketed area or trunk digit ("+44(0)114 4960990", "+90(479)2436897", "+7 (309)
# 309-16-44"), a bracketed area code with its trunk zero ("(0118) 4960721", "(08)-0563-7930"),
# and a national number with its trunk zero ("020 74960290", "04 87 10 57 95", "0218569286",
# "034 171 98 43"); nine digits at least, and not a date with a clock after it.
_DATE_FIRST = re.compile(
    r"0?[1-9]-[0-9]{1,2}-[0-9]{2,4}(?![0-9])|[0-9]{1,2}-0?[1-9]-[0-9]{2,4}(?![0-9])"
)
_PHONE_SHAPED = re.compile(
    r"(?<![0-9A-Za-z_+])(?<![0-9][-./])(?:"
    r"\+[1-9][0-9]{0,2}[ ]?(?:\((?:0|[0-9]{1,5})\)[ -]?)(?:[0-9]{1,10}[ -]?){1,5}[0-9]"
    # any other country code and digit groups ("+3140-7462266", "(+358) 264751550"), and the
    # international prefix 00 ("00420 601 201 850")
    r"|\+[1-9][0-9]{1,13}(?:[ -][0-9]{1,12}){0,5}"
    r"|\(\+[1-9][0-9]{0,2}\)[ ]?[0-9]{1,10}(?:[ -][0-9]{1,10}){0,5}"
    r"|00[1-9][0-9]{0,3}(?:[ -][0-9]{2,8}){1,5}"
    r"|\(0[0-9]{1,4}\)[ -]?[0-9]{2,8}(?:[ /-][0-9]{2,8}){0,3}"
    r"|0[1-9][0-9]{0,4}(?:[ -][0-9]{2,8}){1,4}|0[1-9][0-9]{8,10}"
    r")" + NOT_BEFORE
)
_PHONE_CUE = re.compile(
    r"(?i:\b(?:phone|ph|tel|telephone|cell|mobile|call(?:ed|back)?|fax|text|sms|contact)\b)"
)


# A pager or beeper number: four to six digits after its word ("Pager #54321", "PG 33445").
_PAGER = re.compile(
    r"(?i:\b(?:pager|pgr|pg|beeper|bleep)\b\.?[ \t]*(?:#|no\.?|number|num)?[ \t:#]*)"
    r"([0-9]{4,6})" + NOT_BEFORE
)
# An age over 89 (Safe Harbor folds those into "90 or older"): "98 yo", "a 92-year-old".
_AGE = re.compile(
    r"(?<![0-9.])(9[0-9]|1[0-1][0-9])(?:[ \t-]*(?i:yo\b|y/o|y\.o\.|yrs?\b|years?\b|-year|year-old"
    r"|yr-old))"
)


# Digits in groups, as phone numbers are written the world over: "070 4493 5104", "9469 9966",
# "(22) 154-300", "50-98-28-96", "001-771-975-4619", "+1-054-353-1726x16954". Only with a phone
# word before them ("call", "reach", "answering at", "fax") or after ("... office"), since bare
# digit groups are also versions, amounts and ids.
_PHONE_GROUPS = re.compile(
    r"(?<![0-9A-Za-z_+.\-/])(?:\+?[0-9]{1,3}[ .-]?)?(?:\([0-9]{1,4}\)[ .-]?)?"
    # a subscriber number after an area code may be one long group: "06-10446904", "0348 2102744"
    r"[0-9]{2,5}(?:[ .-][0-9]{2,8})(?:[ .-][0-9]{2,5}){0,3}"
    r"(?:[ \t]*(?:x|ext\.?)[ \t]*([0-9]{1,6}))?"
    r"(?![0-9A-Za-z_]|[.\-/][0-9])"
    # or none at all, eight to thirteen digits: "2546712361 fax", "reach me at 012317376"
    r"|(?<![0-9A-Za-z_+.\-/])[0-9]{8,13}(?![0-9A-Za-z_]|[.\-/][0-9])"
)
_PHONE_WORD_BEFORE = re.compile(
    r"(?i:\b(?:phone|ph|tel|telephone|cell|mobile|call|called|reach(?:ed)?|fax|sms|"
    r"answering|dial|whatsapp|pager|beeper|text(?:ed|ing)?|landline|line"
    r"|(?:my|his|her|their|your|our)[ \t]+(?:phone[ \t]+|cell[ \t]+|home[ \t]+)?number)"
    r"\b[^0-9\n]{0,25}$)"
)
_PHONE_WORD_AFTER = re.compile(r"(?i:[ \t\-]*(?:office|fax|mobile|cell|home|work)\b)")


def _phone_groups(text: str) -> Iterator[Candidate]:
    for m in _PHONE_GROUPS.finditer(text):
        # an extension's digits are not part of the number: "001-748-088-2851x818"
        digits = sum(c.isdigit() for c in m.group()) - len(m.group(1) or "")
        if not 6 <= digits <= 15 or digits == 6 and m.group().count("-") == 1:
            continue  # "120-140" is a range
        before = text[max(0, m.start() - 30) : m.start()]
        if _PHONE_WORD_BEFORE.search(before) or _PHONE_WORD_AFTER.match(text, m.end()):
            yield m.start(), m.end(), PhiKind.PHONE, WEAK


def _emails(text: str) -> Iterator[Candidate]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), PhiKind.EMAIL, STRONG


def _shapes(text: str) -> Iterator[Candidate]:
    yield from _phone_groups(text)
    for m in _PAGER.finditer(text):
        yield m.start(1), m.end(1), PhiKind.PHONE, WEAK
    for m in _AGE.finditer(text):
        yield m.start(1), m.end(1), PhiKind.AGE, WEAK
    yield from _emails(text)
    for m in _MBI.finditer(text):
        yield m.start(), m.end(), PhiKind.MEMBER_ID, STRONG
    for m in _PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 8:  # "+1 5" is not a phone number
            yield m.start(), m.end(), PhiKind.PHONE, WEAK
    for m in _PHONE_SHAPED.finditer(text):
        if _DATE_FIRST.match(m.group()):
            continue  # "01-12-2023 1430": a date and a clock, not a trunk-zero number
        if 9 <= sum(c.isdigit() for c in m.group()) <= 15:
            yield m.start(), m.end(), PhiKind.PHONE, WEAK
    for m in _PHONE_BARE.finditer(text):
        if _PHONE_CUE.search(text, max(0, m.start() - _CUE_WINDOW), m.start()):
            yield m.start(), m.end(), PhiKind.PHONE, WEAK


# ---------------------------------------------------------------- account numbers

# Payment card numbers (Safe Harbor's "account numbers"): 13 to 19 digits, whole or in the
# groups cards print (4-4-4-4, Amex 4-6-5, Diners 4-6-4), with the Luhn check digit. Without a
# card word near, only the issuers' ranges count (2221-2720 and 51-55 Mastercard, 34/37 Amex,
# 30/36/38/39 Diners, 35 JCB, 4 Visa, 6 Discover, UnionPay, Maestro): a millisecond timestamp
# starts with 1, and one random number in ten passes Luhn.
_CARD = re.compile(
    NOT_AFTER
    + r"(?:[0-9]{4}([ -]?)[0-9]{4}\1[0-9]{4}\1[0-9]{1,7}|[0-9]{4}([ -])[0-9]{6}\2[0-9]{4,5})"
    + NOT_BEFORE
)
_CARD_CUE = re.compile(
    r"(?i:\b(?:card|cc|visa|master ?card|amex|american express|discover|debit|credit|payment"
    r"|pan)\b)"
)
# An IBAN, whole or in groups of four ("GB82 WEST 1234 5698 7654 32"), checked by its mod-97
# digits and its country's length, in any letter case ("my iban is gb50mvfc38361978683032"); a
# longer match that fails is shortened group by group (a code in capitals may follow).
_IBAN = re.compile(
    r"(?i:\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b)"
)


def _card_issuer(digits: str) -> bool:
    return digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720


def _accounts(text: str) -> Iterator[Candidate]:
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
            continue
        if _card_issuer(digits) or _CARD_CUE.search(text, max(0, m.start() - 40), m.start()):
            yield m.start(), m.end(), PhiKind.ACCOUNT, STRONG
    for m in _IBAN.finditer(text):
        value = m.group()
        while len(value.replace(" ", "")) >= 15:
            if iban.is_valid(value.upper()):
                yield m.start(), m.start() + len(value), PhiKind.ACCOUNT, STRONG
                break
            cut = value.rfind(" ")
            value = value[:cut] if cut > 0 else value[:-1]


# ---------------------------------------------------------------- labelled identifiers

# What may stand between a label and its value: "MRN: 1", "MRN is 1", "member_id=1", "MRN-1",
# and the quotes of JSON and SQL: {"mrn": "1"}, mrn = '1'.
_SEP = r"(?:['’]s)?['\"]?\s*(?:[:#=-]{1,2}|\bis\b|\bwas\b)?\s*['\"]?"
_MRN_LABEL = re.compile(
    r"(?i:\b(?:mrns?|mr ?#|mr ?no\.?|medical +record(?: +(?:number|no\.?|#))?s?"
    r"|chart ?(?:#|number|no\.?)|(?:patient|pt)\.? ?(?:id|#|number)|record ?#"
    r"|acct\.? ?#|account +(?:number|no\.?|#)|encounter(?: ?(?:#|number|id))?|fin ?#)"
    r"(?![A-Za-z])" + _SEP + ")"
)
# Health-plan numbers, and the other numbers HIPAA lists beside them (claims, certificates and
# licences, a reference or confirmation number someone was given): "ref # 8336652".
_MEMBER_LABEL = re.compile(
    r"(?i:\b(?:(?:member|subscriber|insurance|beneficiary|medicaid|medicare"
    r"|policy(?:holder)?(?:['’]s)?|claim|certificate|licen[cs]e|ref|reference|confirmation)"
    r"[ _]?(?:ids?|#|no\.?|numbers?)|mbi|hicn)"
    r"(?![A-Za-z])" + _SEP + ")"
)
_NPI_LABEL = re.compile(
    r"(?i:\b(?:npi|national +provider +(?:identifier|id))(?![A-Za-z])\s*(?:[(:#=]|\bis\b)?\s*)"
)
_SSN_LABEL = re.compile(
    r"(?i:\b(?:ssn|ss ?#|social +security(?: +(?:number|no\.?))?)(?![A-Za-z])" + _SEP + ")"
)
_ID_VALUE = re.compile(r"[A-Za-z]{0,5}-?[0-9A-Za-z][0-9A-Za-z-]{2,22}[0-9A-Za-z]" + NOT_BEFORE)
_NINE_VALUE = re.compile(r"[0-9]{3}([ -]?)[0-9]{2}\1[0-9]{4}" + NOT_BEFORE)
_NPI_VALUE = re.compile(r"[0-9]{10}" + NOT_BEFORE)
# "MRNs 4400123 and 4400987": one label, several values.
_VALUE_JOIN = re.compile(r"\s*(?:,|/|&|\band\b|\bor\b)\s*")


def _has_digits(value: str) -> bool:
    return sum(c.isdigit() for c in value) >= 4


def _npi_valid(value: str) -> bool:
    # The NPI check digit is the Luhn digit of the number prefixed with 80840 (CMS, "NPI check
    # digit" in the NPS final rule, 45 CFR 162.406).
    return luhn.is_valid("80840" + value)


_LABELLED: tuple[tuple[PhiKind, re.Pattern[str], re.Pattern[str], Callable[[str], bool]], ...] = (
    (PhiKind.SSN, _SSN_LABEL, _NINE_VALUE, lambda v: True),
    (PhiKind.MRN, _MRN_LABEL, _ID_VALUE, _has_digits),
    (PhiKind.MEMBER_ID, _MEMBER_LABEL, _ID_VALUE, _has_digits),
    (PhiKind.NPI, _NPI_LABEL, _NPI_VALUE, _npi_valid),
)


def _labelled(text: str) -> Iterator[Candidate]:
    for kind, label, value, valid in _LABELLED:
        for m in label.finditer(text):
            pos = m.end()
            while (v := value.match(text, pos)) and valid(v.group()):
                yield v.start(), v.end(), kind, LABELLED
                if not (j := _VALUE_JOIN.match(text, v.end())):
                    break
                pos = j.end()


# ---------------------------------------------------------------- addresses

_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|"
    "NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|PR"
    # the territories, the military post offices, and Canada's provinces
    "|VI|GU|AS|MP|FM|MH|PW|AA|AE|AP|AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT"
)
_PLACE_WORD = r"[A-ZÀ-ÖØ-Þ][A-Za-zÀ-ÖØ-öø-ÿ'’-]+\.?"
_STREET_WORD = r"(?:[A-Z][a-z'’-]+|St\.|[0-9]{1,3}(?:st|nd|rd|th))"
_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Court|Ct|Way|Place|Pl"
    r"|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Trl|Square|Sq|Plaza|Loop|Pike|Str"
    # the rest of the USPS street suffixes (Publication 28, C1), less those that end common
    # titles ("Story Points", "Primary Keys", "Stack Trace", "Data Center", "Quality Gate")
    r"|Alley|Aly|Bypass|Canyon|Causeway|Cswy|Corners?|Creek|Crk|Crossing|Xing|Crescent|Dale"
    r"|Estates?|Expressway|Expy|Falls|Ferry|Flats|Ford|Forest|Forge|Forks?|Freeway|Fwy"
    r"|Gardens|Gdns|Gateway|Glen|Grove|Grv|Harbor|Hbr|Haven|Heights|Hts|Hills?|Hollow|Inlet"
    r"|Island|Isle|Junction|Jct|Knolls?|Lakes?|Landing|Lodge|Manor|Mnr|Meadows?|Mews|Mills?"
    r"|Motorway|Mount|Mountain|Mtn|Orchard|Oval|Overpass|Park|Passage|Pines|Plains|Prairie"
    r"|Ranch|Rapids|Ridge|Rdg|River|Shoals?|Shores?|Skyway|Springs|Spur|Stravenue|Stream"
    r"|Summit|Throughway|Trafficway|Tunnel|Turnpike|Tpke|Underpass|Valley|Vly|Viaduct"
    r"|Villages?|Vlg|Ville|Vista"
    # and the plurals and rarer ones Faker and real addresses use ("2072 Ewing Station", "46533
    # Harvey Ways" is left: "5 Easy Ways"), less those that end titles of code and UI ("Feature
    # Branch", "List View", "API Route", "Table Row", "Text Field", "Hard Drives")
    r"|Brooks?|Burgs?|Cape|Cliffs?|Coves?|Courts|Circles|Crossroads?|Crest|Dam|Fords|Forges|Fort"
    r"|Garden|Glens|Groves|Harbors|Islands|Junctions|Loaf|Manors|Mountains|Neck|Parks|Parkways"
    r"|Pine|Plain|Rapid|Ridges|Roads|Spring|Spurs|Squares|Station|Streets|Valleys|Wells)"
)
_UNIT = (
    r"(?:,? +(?:Apt|Apartment|Unit|Suite|Ste|Rm|Room|Fl|Floor|Bldg|Building|Lot|Trlr|#)\.? *#?"
    r"[0-9A-Za-z-]{1,6})?"
)
# a ZIP code, or Canada's postal code ("H6X 8E1")
_ZIP = r"(?:[0-9]{5}(?:-[0-9]{4})?|[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9])"
_CITY = rf"{_PLACE_WORD}(?: +{_PLACE_WORD}){{0,2}}"
_CITY_STATE = rf"{_CITY},? +(?:{_STATES})(?: +{_ZIP})?"
_ADDRESS = re.compile(
    r"(?:"
    + NOT_AFTER
    + r"(?:[0-9]{1,5} +)?[0-9]{1,6}[A-Z]? +(?:(?:[NSEW]|North|South|East|West|NE|NW|SE|SW)\.? +)?"
    + rf"(?:{_STREET_WORD} +){{1,3}}{_SUFFIX}\b\.?"
    + r"|(?i:\bp\.? ?o\.? ?box|\bpost +office +box) +[0-9]{1,6}"
    + r")"
    + _UNIT
    + rf"(?:, *{_CITY_STATE})?(?![A-Za-z0-9])"
)
_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|"
    "Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|"
    "New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|"
    "Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming|Puerto Rico"
)
_STREET_BEFORE_CITY = re.compile(
    r"(?<![0-9A-Za-z.,/:+-])([0-9]{1,6}[A-Z]?(?:[ \t]+[A-ZÀ-ÖØ-Þ][A-Za-zÀ-ÖØ-öø-ÿ'’.-]*){1,4}"
    r"(?:,?[ \t]+(?:Apt|Apartment|Unit|Suite|Ste|#)\.?[ \t]*#?[0-9A-Za-z-]{1,6})?)"
    r"[ \t]*(?:,[ \t]*|\n[ \t]*)$"
)
# "Dallas TX 48486", "Austin, Texas 78701": the city, the state and the ZIP code.
_CITY_ZIP = re.compile(
    rf"(?<![A-Za-z]){_CITY},? +(?:{_STATES}|{_STATE_NAMES}),? +{_ZIP}" + NOT_BEFORE
    # Australia: "Johnbury, NSW, 2617", "East Tony VIC 2609"
    + rf"|(?<![A-Za-z]){_CITY},? +(?:NSW|VIC|QLD|SA|WA|TAS|NT|ACT),? +[0-9]{{4}}" + NOT_BEFORE
)


_L = "A-Za-zÀ-ÖØ-öø-ÿĀ-ſͰ-Ͽ"  # Latin letters with accents, and Greek
# Streets written the European way, the number after the name ("Auerstrasse 84", "Via Capo le
# Case 143", "Rue Dielhère 446"), or with a number on both sides ("35 Hausergasse 59"): a word
# ending in a street word of its language, or a street word first and a capitalised name.
_GLUED = (
    "strasse|straße|str\\.|gasse|weg|vej|vegen|vägen|veien|gade|gata|gatan|katu|tie|tee|allee"
    "|platz|plein|laan|straat|steeg|kade|utca|útja|ulica|bulevar|vägen|stræde|stig|stræti|braut"
    "|vegur|gränd|torg"
)
_LEADING = (
    "rue|via|viale|piazza|calle|avenida|rua|rúa|camiño|camino|carrer|paseo|plaza|vicolo|corso"
    "|chemin|route|avenue|boulevard|cours|allée|impasse|quai|largo|travessa|strada"
    # and the other street words that come first in Spanish, Portuguese, Italian, Romanian
    "|glorieta|vial|ronda|travesía|cuesta|pasaje|callejón|rambla|alameda|carretera|praça"
    "|estrada|rodovia|vereda|borgo|contrada|rotonda|piazzale|calea|aleea|bulevardul|intrarea"
    "|șoseaua|splaiul"
)
_NAME_WORD = rf"[{_L}][{_L}'’-]*"
_STREET_NUMBER_AFTER = re.compile(
    rf"(?<![0-9{_L}])(?:[0-9]{{1,5}}[ \t]+){{0,2}}"
    rf"(?:(?:{_NAME_WORD}[ \t]+){{0,2}}[{_L}]+(?i:{_GLUED})"
    # "Rue Dielhère 446", "Via Capo le Case 143": the street word and the name capitalised
    rf"|(?:{_LEADING.title()})[ \t]+[A-ZÀ-ÖØ-ÞͰ-Ͽ][a-zß-öø-ÿͰ-Ͽ'’-]+(?:[ \t]+{_NAME_WORD}){{0,3}})"
    # the number after the name, or after a comma ("Strada Taliercio, 47", "Rua de Almeida, 862")
    rf",?[ \t]+[0-9]{{1,5}}[A-Za-z]?(?![0-9]|[.:/][0-9]|[ \t]*(?:%|mg|mcg|cc|ml|am|pm|h|hrs?)\b)"
)
# Whether a text has a street word at all, word by word: a regex alternation of these words
# tried at every letter cost 0.5 ms/KB on English text, a split and ``endswith`` 1/20 of it.
_GLUED_ENDS = tuple(g.replace("\\.", ".") for g in _GLUED.split("|"))
_LEADING_WORDS = frozenset(_LEADING.split("|"))
_WORD_EDGE = "0123456789.,;:!?()[]{}\"'’/-"


def _street_windows(text: str) -> list[tuple[int, int]]:
    """The stretches of ``text`` around its street words, merged: where a European street may
    stand. A street's match starts at most a few words before its street word and ends a number
    after it; the windows leave room for both."""
    windows: list[tuple[int, int]] = []
    pos = 0
    for word in text.split():
        at = text.find(word, pos)
        pos = at + len(word)
        low = word.lower()
        bare = low.strip(_WORD_EDGE)
        if bare in _LEADING_WORDS or bare.endswith(_GLUED_ENDS) or low.endswith(_GLUED_ENDS):
            lo, hi = max(0, at - _STREET_BEFORE), min(len(text), pos + _STREET_AFTER)
            if windows and lo <= windows[-1][1]:
                windows[-1] = (windows[-1][0], hi)
            else:
                windows.append((lo, hi))
    return windows


# How far a street's match may start before its street word ("19 pierre delannoyplaats 21",
# "Via Capo le Case 143") and end after it; a window ending before the text does stops a match
# that would run past it, so only a match ending short of its window's end is kept.
_STREET_BEFORE, _STREET_AFTER, _STREET_MARGIN = 120, 120, 40


def _streets_after(text: str) -> Iterator[tuple[int, int]]:
    for lo, hi in _street_windows(text):
        for m in _STREET_NUMBER_AFTER.finditer(text, lo, hi):
            if hi == len(text) or m.end() <= hi - _STREET_MARGIN:
                yield m.start(), m.end()


# A unit, a box or a military post office: "Apt. 589", "Suite 574", "PSC 4665, Box 2778 APO
# AE 80338", "Unit 3906 Box 2810 DPO AE 08750", "USNV Sandberg FPO AA 18532".
_UNIT_ALONE = re.compile(
    r"(?i:\b(?:apt|apartment|suite|ste|unit|psc|p\.?[ \t]?o\.?[ \t]?box|postbox|cmr)\b\.?"
    r"[ \t]*#?[ \t]*[0-9]{1,6}[A-Za-z]?\b"
    # a box alone only after its unit ("PSC 4665, Box 2778"): "(Box 1)" heads a sidebar
    r"(?:,?[ \t]*box[ \t]*[0-9]{1,6}\b)?)"
)
_MILITARY = re.compile(
    r"(?i:(?:\b(?:uscgc|usns|usnv|uss|usnS)[ \t]+[A-Za-zÀ-ÿ'’-]+(?:[ \t]+[A-Za-zÀ-ÿ'’-]+)?"
    r"[ \t]+)?\b(?:apo|fpo|dpo)[ \t]+(?:aa|ae|ap)[ \t]+[0-9]{5}\b)"
)
# A postal code where addresses put one: after a place name at the end of an address line
# ("Lyss 3250", "Senegal 16027", "NC 27513"), or after a cue ("zip code is 35238").
_ZIP_CUE = re.compile(
    r"(?i:\b(?:zip|zipcode|zip[ \t]+code|postal[ \t]+code|postcode|post[ \t]+code|plz)\b"
    r"[ \t]*(?:is|:|#|=)?[ \t]*)([0-9]{4,5}(?:-[0-9]{4})?|[A-Z][0-9][A-Z][ ]?[0-9][A-Z][0-9])\b"
)


# A street named between two numbers, in any script or case, abbreviations included ("18
# Třebčínská 860", "92 ul. Lubartowska 42", "19 guipúzcoa 1268", "43 Ρ. Φεραίου 13", "64 Király
# u. 23."): trusted only where an address is expected, after an address cue or a unit, or with
# a unit on the next line, since "take 2 tablets 3 times" has the same shape.
_WORD_TOKEN = r"[^\W\d_][^\s\d,;:|()\[\]{}<>\"]*"
_NUMBER_STREET_NUMBER = re.compile(
    r"(?<![0-9A-Za-z_.,/:+-])(?:[0-9]{1,5}[ \t]+){1,2}"
    rf"(?:[A-Za-z]{{1,2}}/[ \t]*)?{_WORD_TOKEN}(?:[ \t]+{_WORD_TOKEN}){{0,4}}"
    # the number after the street may be missing where a unit line follows ("59 Delta")
    r"(?:[ \t]+([0-9]{1,5}[A-Za-z]?\.?))?(?![0-9]|[.:/%,][0-9])"
)
_ADDRESS_CUE = re.compile(
    r"(?i:(?:\b(?:lives?|living|resides?|residing|located|situated|moved|meet(?:[ \t]+me)?"
    r"|ship(?:ped)?|send|mail(?:ed)?|deliver(?:ed)?)[ \t]+(?:at|to|in)"
    r"|\baddress(?:es)?\b(?:[ \t]+(?:is|was|of|at))?[ \t]*[:=-]?"
    r"|\b(?:apt|apartment|suite|ste|unit|flat)\b\.?[ \t]*#?[ \t]*(?:[0-9]{1,6}[A-Za-z]?)?)"
    r"[ \t]*\n?[ \t]*$)"
)
_UNIT_NEXT = re.compile(
    r"[ \t]*(?:,[ \t]*|\n[^0-9A-Za-z\n]{0,6})(?i:apt|apartment|suite|ste|unit|flat|floor|fl)\b"
)
# A street that begins with its street word, the number before ("71 34 Avenue des Tuileries",
# "20 40 rue Victor Hugo", "02 53 place Stanislas"): French, Spanish, Italian, Portuguese,
# Polish forms, to the end of the line or a comma.
_NUMBER_LEADING_STREET = re.compile(
    r"(?<![0-9A-Za-z_.,/:+-])[0-9]{1,5}[ \t]+(?:[0-9]{1,5}[ \t]+)?"
    r"(?i:rue|calle|avenida|rua|rúa|carrer|viale|piazza|corso|chemin|allée|impasse|quai"
    r"|boulevard|avenue|place|cours|travessa|largo|strada|ulica|ul\.|paseo|camino)"
    rf"(?:[ \t]+{_WORD_TOKEN}){{1,5}}(?=[ \t]*(?:[,\n]|$))"
)
# The number before a street found without it: "98 P.O. Box 101", "35 97 guildry street".
_LEAD_NUMBERS = re.compile(r"(?<![0-9A-Za-z_.,/:+-])(?:[0-9]{1,5}[ \t]+){1,2}$")
# English streets written all in lower case, with a full street word: "19 folkestone road".
_LOWER_STREET = re.compile(
    NOT_AFTER + r"[0-9]{1,5}[ \t]+(?!(?:minutes?|mins?|hours?|days?|weeks?|miles?|km|blocks?"
    r"|times?|more|other|lanes?|and|the|for|was|were|are|with|from|into|that|than)\b)"
    r"(?:[a-z][a-z'’-]{2,}[ \t]+){1,2}"
    r"(?:street|avenue|road|boulevard|lane|terrace|crescent|parkway)\b"
)
# A postal code on the lines that follow a street, a unit or a box, beside a place name:
# "Sudan 30046", "Dallas TX 48486", "Tartu TA 56325", "75001 Paris", "SW1A 1AA", "K1A 0B1",
# "00-950", "1012 AB", "113 45", "1000-001".
_POSTAL = (
    r"[0-9]{5}-[0-9]{3,4}|[0-9]{4}-[0-9]{3}|[0-9]{2,3}-[0-9]{3,4}|[0-9]{3}[ ][0-9]{2}(?![0-9])"
    r"|[0-9]{4}[ ]?[A-Z]{2}(?![A-Za-z])|[0-9]{4,6}"
    r"|[A-Z][0-9][A-Z][ ]?[0-9][A-Z][0-9]|[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}"
    r"|[A-Z]{1,2}-[0-9]{4,5}"
    # an Irish Eircode ("Y86 9E77", "D6W XY12") and a Brazilian CEP without its dash
    r"|(?:[AC-FHKNPRTV-Y][0-9]{2}|D6W)[ ]?[0-9AC-FHKNPRTV-Y]{4}(?![0-9A-Za-z])|[0-9]{8}(?![0-9])"
)
_POSTAL_LINE = re.compile(
    # after the town, ending its line or its sentence ("Patersonstone 6043.", "Wakatau 1217 last")
    rf"(?<=[^\W\d_])([ \t]*,?[ \t]+)((?:[A-Za-z]{{1,3}}[ \t]+)?(?:{_POSTAL}))"
    r"[ \t]*(?=[.,;]?(?:\n|$)|[.,;]?[ \t])"
    # before the town, or alone on its line, as British postcodes stand ("L9A 7ZH")
    rf"|(?m:^)[^0-9A-Za-z\n]{{0,6}}((?:{_POSTAL}))(?:[ \t]+(?=[^\W\d_])|[ \t]*\.?[ \t]*$)"
)
_EU_POSTAL = (
    r"(?:[A-Z]{1,2}-[0-9]{4,5}|[0-9]{5}|[0-9]{4}(?:[ ]?[A-Z]{2}(?![A-Za-z]))?|[0-9]{3}[ ][0-9]{2}"
    r"|[0-9]{2}-[0-9]{3}|[0-9]{4}-[0-9]{3})(?![-/.:][0-9])"
)
# A postal code and its town at the start of a line, or after a comma ("Mathisenåsen 46F,
# 7909 Annø", "Drubinstraße 47, 06690 Groß-Gerau") ...
_POSTAL_LINE_START = re.compile(
    rf"[\n,][ \t]*({_EU_POSTAL}(?:,?[ \t]+([A-ZÀ-ÖØ-ÞĀ-ſ][{_L}'’-]*)"
    rf"(?:[ \t-]+[{_L}][{_L}'’-]*){{0,3}})?)[ \t]*(?=[.,(]|\n|$)"
)


def _a_town(p: re.Match[str]) -> bool:
    """Whether a postal line names a town: a listed place or a word of no vocabulary ("42820
    Linköping"), not an everyday word ("2024 Roadmap review"); a code alone must hold a letter
    or five digits, as a year does not."""
    town = p.group(2)
    if town is None:
        code = p.group(1)
        return any(c.isalpha() for c in code) or sum(c.isdigit() for c in code) >= 5
    lex = lexicon()
    word = town.lower()
    return word in lex.places or word not in lex.safe
# ... under a street: words and its number at the end of the line, or its number and words.
_EU_WORD = rf"[{_L}][{_L}'’.-]*"
_STREET_LINE_END = re.compile(
    rf"((?<![{_L}0-9]){_EU_WORD}(?:[ \t]+{_EU_WORD}){{0,4}},?[ \t]+[0-9]{{1,5}}[A-Za-z]?"
    r"(?:[-/][0-9]{1,5}[A-Za-z]?)?\.?"
    rf"|(?<![^\n \t:])[0-9]{{1,5}}[A-Za-z]?,?[ \t]+{_EU_WORD}(?:[ \t]+{_EU_WORD}){{0,4}})"
    r"[ \t]*,?[ \t]*$"
)


# A town after the street, on its line: "64 Király u. 23., Tiszabög".
# Its name is in title case: "28 with V waves to 38, CVP" is a note's shorthand.
_CITY_NEXT = re.compile(r",[ \t]+([^\W\d_]{2,})")
_BLOCK, _BLOCK_LINES = 160, 4  # how far after a street the lines of its address may run


def _addresses(text: str) -> Iterator[Candidate]:
    streets: list[tuple[int, int]] = []
    for m in _ADDRESS.finditer(text):
        streets.append((m.start(), m.end()))
    for m in _CITY_ZIP.finditer(text):
        yield m.start(), m.end(), PhiKind.ADDRESS, ADDRESS
        # The street just before a city, state and ZIP, on its line or the line above, whatever
        # its suffix ("76273 Petersen Green Apt. 588\nPort Glennfort, NV 92197")
        if before := _STREET_BEFORE_CITY.search(text, max(0, m.start() - 100), m.start()):
            yield before.start(1), before.end(1), PhiKind.ADDRESS, ADDRESS
    # The European street pattern is costly to try at every letter: only near a street word.
    streets.extend(_streets_after(text))
    for pattern in (_UNIT_ALONE, _MILITARY, _NUMBER_LEADING_STREET, _LOWER_STREET):
        for m in pattern.finditer(text):
            streets.append((m.start(), m.end()))
    for m in _NUMBER_STREET_NUMBER.finditer(text):
        unit_next = _UNIT_NEXT.match(text, m.end())
        if unit_next or m.group(1) and (
            _ADDRESS_CUE.search(text, max(0, m.start() - 40), m.start())
            or (city := _CITY_NEXT.match(text, m.end())) and city.group(1).istitle()
        ):
            streets.append((m.start(), m.end()))
    for m in _ZIP_CUE.finditer(text):
        yield m.start(1), m.end(1), PhiKind.ADDRESS, ADDRESS
    # A street line over a postal line, as letters are addressed in most of Europe
    # ("Ängsstigen 4\n42820 Linköping", "83, boulevard Cécile Antoine\n04805 François"): the
    # street's number ends or starts its line, the code and the town start the next (or follow
    # a comma on the same line).
    for postal in _POSTAL_LINE_START.finditer(text):
        street = _STREET_LINE_END.search(text, max(0, postal.start() - 100), postal.start())
        if street and _a_town(postal):
            yield street.start(1), street.end(1), PhiKind.ADDRESS, ADDRESS
            yield postal.start(1), postal.end(1), PhiKind.ADDRESS, ADDRESS
    clear = (0, 0)  # no postal line starts in [clear[0], clear[1]): searched already
    for start, end in sorted(streets):
        if lead := _LEAD_NUMBERS.search(text, max(0, start - 14), start):
            start = lead.start()
        yield start, end, PhiKind.ADDRESS, ADDRESS
        # The postal code of the next few lines: the first one only, as an address has one
        # (a table of "word 4717" rows below a "box" is not a column of postal codes). The
        # search is bounded and skips what an earlier street's search covered, so that a run
        # of streets is not searched over and over.
        lo = clear[1] if clear[0] <= end < clear[1] else end
        limit = min(len(text), end + _BLOCK + 40)
        p = _POSTAL_LINE.search(text, lo, limit) if lo < end + _BLOCK else None
        if p and p.start() < end + _BLOCK and text.count("\n", end, p.start()) <= _BLOCK_LINES:
            g = 2 if p.group(2) else 3
            yield p.start(g), p.end(g), PhiKind.ADDRESS, ADDRESS
        clear = (clear[0] if lo != end else end, p.start() if p else max(lo, limit - 40))


def detect(text: str) -> Iterator[Candidate]:
    """Every identifier-shaped candidate in ``text``."""
    if not _DIGIT.search(text):
        # An e-mail address is the one identifier written without a digit: every number,
        # street, unit and postal code has one. Half of all short texts have none.
        yield from _emails(text)
        return
    yield from _labelled(text)
    yield from _ssn(text)
    yield from _accounts(text)
    yield from _shapes(text)
    yield from _addresses(text)
