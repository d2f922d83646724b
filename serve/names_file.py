"""Names files for ``clinisight phi add-names``: what a registry export looks like, and how it
is cut into requests.

A file is one name a line, or (a ``.csv`` file, or ``--csv``) a CSV with a header row. Of a
CSV, a full-name column (``name``, ``full_name``, ``patient_name`` ...) is used as is; without
one, the first, middle and last name columns are joined: ``First Middle Last``, and also
``First Last`` when there is a middle name, since text often leaves it out. Header cells are
compared lower-cased with only their letters and digits (``Full Name`` is ``fullname``). Blank
names are skipped and repeats sent once. Errors name the line, never its content.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from compliance.known_names import MAX_NAME_CHARS

# Header cells (lower-cased, letters and digits only) of a CSV's name columns.
_FULL_NAME = ("name", "fullname", "patientname", "personname", "displayname", "membername",
              "staffname", "legalname")
_FIRST = ("first", "firstname", "givenname", "given", "fname")
_MIDDLE = ("middle", "middlename", "middleinitial", "mname")
_LAST = ("last", "lastname", "surname", "familyname", "family", "lname")
MAX_BATCH = 10_000  # names per request: the API's limit (serve.routes.phi.MAX_NAMES)


def _column(headers: list[str], wanted: tuple[str, ...]) -> int | None:
    keys = ["".join(c for c in h.lower() if c.isalnum()) for h in headers]
    for name in wanted:
        if name in keys:
            return keys.index(name)
    return None


def read_names(path: Path, as_csv: bool | None = None) -> list[str]:
    """The names in ``path``, by the rule above (``as_csv`` None: by the file's suffix)."""
    text = path.read_text(encoding="utf-8-sig")  # a BOM, as spreadsheets write it
    if as_csv is None:
        as_csv = path.suffix.lower() == ".csv"
    found: list[str] = []
    if not as_csv:
        rows = [(n, [line]) for n, line in enumerate(text.splitlines(), 1)]
        columns: list[int] = [0]
    else:
        reader = csv.reader(io.StringIO(text))
        headers = next(reader, [])
        full = _column(headers, _FULL_NAME)
        first, middle, last = (_column(headers, w) for w in (_FIRST, _MIDDLE, _LAST))
        if full is not None:
            columns = [full]
        elif first is not None and last is not None:
            columns = [first, *([middle] if middle is not None else []), last]
        else:
            # The cells are not quoted: a file without a header row would have a name there.
            raise ValueError(f"{path}: the header row ({len(headers)} columns) has no name "
                             f"column: want one of {', '.join(_FULL_NAME)}, or first and last")
        rows = [(reader.line_num, row) for row in reader]
    for line, row in rows:
        parts = [row[c].strip() if c < len(row) else "" for c in columns]
        forms = [" ".join(p for p in parts if p)]
        if len(columns) == 3 and parts[1]:
            forms.append(" ".join(p for p in (parts[0], parts[2]) if p))
        for name in forms:
            if len(name) > MAX_NAME_CHARS:
                raise ValueError(f"{path}:{line}: a name over {MAX_NAME_CHARS} characters")
            if name:
                found.append(name)
    return list(dict.fromkeys(found))


def batches(names: list[str], max_bytes: int) -> list[list[str]]:
    """At most ``MAX_BATCH`` names and about ``max_bytes`` of JSON a request."""
    out: list[list[str]] = [[]]
    size = 0
    for name in names:
        cost = len(json.dumps(name).encode()) + 2
        if len(out[-1]) >= MAX_BATCH or (out[-1] and size + cost > max_bytes):
            out.append([])
            size = 0
        out[-1].append(name)
        size += cost
    return [b for b in out if b]
