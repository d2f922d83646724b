"""Per-tenant known names: names a tenant registered (a patient or staff registry export) that
are redacted in that tenant's text whether or not anything around them says they are names.

``KnownNames`` holds no name, only keyed digests: ``digest(key, name)`` is keyed BLAKE2b-256
(RFC 7693; keyed BLAKE2 is a MAC, and one pass of it costs a third of HMAC-SHA256 here, which
matters because every word n-gram of every checked text is hashed) of ``normalize(name)``. A
reader of the stored digests without the key learns nothing of the names (``store.known_names``
gives each tenant a key of its own, so neither which tenants share one).

Matching (``KnownNames.find``), linear in the text:

* The text is cut into words: letters, digits and combining marks, with apostrophes and hyphens
  inside a word (``O'Brien``, ``Jean-Luc``, ``Müller`` composed or decomposed). Each word is
  NFKC-normalised and case-folded, so matching is case-insensitive (``STRAUSS`` is ``Strauß``)
  and on word boundaries: ``Ann`` never matches inside ``Annual``.
* Every run of up to the longest registered name's word count is hashed and looked up (only the
  lengths that some registered name has). Between two words of a name the text may have any
  whitespace, line breaks included, after an optional ``.`` or ``,`` (``John F. Kennedy``,
  ``Doe, Jane`` as registries write it); anything else ends the run.
* The last word of a run is also tried without a possessive ``'s`` (``Jane Doe's chart``), and,
  when it is Hangul, as its prefixes of 2 to 5 syllables: Korean writes particles and honorifics
  onto the name without a space (``김영희가``, ``김영희씨의``, ``김영희님``), so ``김영희`` is
  found and the particle kept. The consequence: a registered Korean name is also redacted where
  it begins a longer Hangul word (``이수`` in ``이수정``); redacting too much is the safe side.
* A word glued into an e-mail address, a host name or an identifier (before ``@``, next to
  ``_``, or joined to another word by ``.``, ``+`` or ``%``: ``jane.doe@example.com``) is not
  a name position: the e-mail detector takes the whole address, and a certain name inside it
  would otherwise win the overlap and leave the rest of the address in clear.

Names are matched as registered: register each form that should be found (``Jane Doe`` does not
match ``Jane`` alone, nor ``Müller`` ``Muller``). A candidate has rank 0: a registered name is
certain.

The current tenant's matcher is a context variable: ``use_known_names`` for a block,
``set_known_names`` for the rest of the running task (an ingress request, whose task ends with
it), and ``detect`` yields the current matcher's candidates. It flows into everything that task
runs, including the logging filter and Sentry's ``before_send``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from compliance._kinds import Candidate, PhiKind

__all__ = ["MAX_NAME_CHARS", "KnownNames", "current", "detect", "digest", "normalize",
           "set_known_names", "token_count", "use_known_names"]

RANK = 0
MAX_NAME_CHARS = 200  # a registered name's limit: longer is no name, and it would be hashed
HANGUL_PREFIXES = range(2, 6)  # syllables of a name before its particle
_PERSON = b"clinisight-name"  # BLAKE2 personalisation: these digests are of nothing else

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTER = rf"(?:[^\W_]|[{_MARKS}])"
_JOINER = "'\u2019\u02bc\u2018\\-\u2010\u2011"
_WORD = re.compile(rf"{_LETTER}+(?:[{_JOINER}]{_LETTER}+)*")
_GAP = re.compile(r"[.,]?\s+")
_GLUE = frozenset("@._+%")
_APOSTROPHES = frozenset("'\u2019\u02bc\u2018")
_CANONICAL = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'",
                            "\u2010": "-", "\u2011": "-"})


def _is_syllable(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def _fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    return unicodedata.normalize("NFKC", word).casefold().translate(_CANONICAL)


def normalize(name: str) -> str:
    """The form a name is hashed in: NFKC, case-folded, its words (as ``find`` cuts text into
    words) joined by one space. Surrounding punctuation goes, and so does punctuation between
    words (``"Doe, Jane"`` → ``"doe jane"``); apostrophes and hyphens inside a word stay."""
    return " ".join(m.group() for m in _WORD.finditer(_fold(name)))


def token_count(name: str) -> int:
    """How many words ``normalize(name)`` has (0 when it has none)."""
    normal = normalize(name)
    return normal.count(" ") + 1 if normal else 0


def _hasher(key: bytes) -> hashlib.blake2b:
    return hashlib.blake2b(key=key, person=_PERSON, digest_size=32)


def _hash(key: bytes, normal: str) -> bytes:
    h = _hasher(key)
    h.update(normal.encode())
    return h.digest()


def digest(key: bytes, name: str) -> str:
    """The keyed digest of ``name`` (hex), as stored and as ``KnownNames`` takes it."""
    normal = normalize(name)
    if not normal:
        raise ValueError("a name needs at least one letter or digit")
    return _hash(key, normal).hex()


class KnownNames:
    """An immutable matcher for one tenant: a key and the digests of its registered names.

    ``lengths`` are the word counts of the registered names (``token_count``); only runs of
    those lengths are hashed.
    """

    __slots__ = ("_digests", "_hasher", "_lengths", "_wanted")

    def __init__(self, key: bytes, digests: Iterable[bytes | str], lengths: Iterable[int]) -> None:
        if not key:
            raise ValueError("a known-names key must not be empty")
        # A keyed hasher, copied per n-gram: the key block is compressed once, not per hash.
        self._hasher = _hasher(bytes(key))
        self._digests = frozenset(bytes.fromhex(d) if isinstance(d, str) else bytes(d)
                                  for d in digests)
        self._lengths = tuple(sorted({n for n in lengths if n > 0})) or (1,)
        self._wanted = frozenset(self._lengths)

    @classmethod
    def of(cls, key: bytes, names: Iterable[str]) -> KnownNames:
        """A matcher for ``names`` (keeps their digests only)."""
        normals = {n for n in map(normalize, names) if n}
        return cls(key, (_hash(key, n) for n in normals), (n.count(" ") + 1 for n in normals))

    def __len__(self) -> int:
        return len(self._digests)

    def __contains__(self, digest: object) -> bool:
        """Is this digest (hex or bytes) registered?"""
        if isinstance(digest, str):
            digest = bytes.fromhex(digest)
        return digest in self._digests

    @property
    def digests(self) -> frozenset[bytes]:
        return self._digests

    @property
    def lengths(self) -> tuple[int, ...]:
        return self._lengths

    def __repr__(self) -> str:  # never the key
        return f"KnownNames({len(self._digests)} digests, lengths {list(self._lengths)})"

    def find(self, text: str) -> Iterator[Candidate]:
        """Every registered name in ``text``: (start, end, NAME, 0), overlaps included."""
        if not text or not self._digests:
            return
        words = [m for m in _WORD.finditer(text) if not _glued(text, m.start(), m.end())]
        if not words:
            return
        cache: dict[str, str] = {}  # a text repeats its words: fold each once
        folded = []
        for m in words:
            word = m.group()
            if word not in cache:
                cache[word] = _fold(word)
            folded.append(cache[word])
        # chain[i]: how many words from i on follow each other with only a name's gap between.
        chain = [1] * len(words)
        for i in range(len(words) - 2, -1, -1):
            if _GAP.fullmatch(text, words[i].end(), words[i + 1].start()):
                chain[i] = chain[i + 1] + 1
        hasher, digests, wanted, top = self._hasher, self._digests, self._wanted, self._lengths[-1]
        endings = [_endings(m, f) for m, f in zip(words, folded, strict=True)]
        for i, first in enumerate(words):
            head = ""  # the words i .. last-1, each followed by a space
            for last in range(i, i + min(top, chain[i])):
                if last - i + 1 in wanted:
                    for tail, end in endings[last]:
                        h = hasher.copy()
                        h.update((head + tail).encode())
                        if h.digest() in digests:
                            yield first.start(), end, PhiKind.NAME, RANK
                head += folded[last] + " "


def _glued(text: str, start: int, end: int) -> bool:
    """Is text[start:end] part of an e-mail address, a host name or an identifier?"""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if "_" in (before, after):  # snake_case: an identifier, as \w says
        return True
    # "@ann" (a mention) is a name; the "example" of "jane@example.com" is not.
    if before in _GLUE and start >= 2 and text[start - 2].isalnum():
        return True
    return after in _GLUE and (after == "@" or end + 1 < len(text) and text[end + 1].isalnum())


def _endings(word: re.Match[str], folded: str) -> list[tuple[str, int]]:
    """The forms the last word of a name may take, with where each ends: the word itself,
    without a possessive ``'s``, and a Hangul word's prefixes of 2-5 syllables (the particle
    after a Korean name)."""
    forms = [(folded, word.end())]
    original = word.group()
    if len(original) > 2 and original[-2] in _APOSTROPHES and folded.endswith("'s"):
        forms.append((folded[:-2], word.end() - 2))
    if _is_syllable(original[0]):
        for k in HANGUL_PREFIXES:
            if k >= len(original) or not _is_syllable(original[k - 1]):
                break
            forms.append((original[:k], word.start() + k))
    return forms


# ---------------------------------------------------------------- the current tenant's matcher

_current: ContextVar[KnownNames | None] = ContextVar("clinisight_known_names", default=None)


def current() -> KnownNames | None:
    """The matcher of the tenant whose text this task is handling, if any."""
    return _current.get()


@contextmanager
def use_known_names(names: KnownNames | None) -> Iterator[None]:
    """Within the block, ``detect`` uses ``names`` (None: no known names)."""
    token = _current.set(names)
    try:
        yield
    finally:
        _current.reset(token)


def set_known_names(names: KnownNames | None) -> None:
    """``names`` are current for the rest of this context: for a request handled in a task of
    its own (an ingress request), so that what runs after the handler returns (the audit entry,
    an error report made by an outer middleware) is redacted with them too."""
    _current.set(names)


def detect(text: str) -> Iterator[Candidate]:
    """The current matcher's candidates in ``text``; nothing when there is none."""
    names = _current.get()
    if names is not None:
        yield from names.find(text)
