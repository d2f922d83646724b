"""serve.names_file: registry exports as `clinisight phi add-names` reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serve.names_file import MAX_BATCH, batches, read_names


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_one_name_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "names.txt", "Quenby Marsk\n\n  Doe, Ysolde  \n김영희\nQuenby Marsk\n")
    assert read_names(path) == ["Quenby Marsk", "Doe, Ysolde", "김영희"]


def test_a_csv_full_name_column_is_used_as_is(tmp_path: Path) -> None:
    path = write(tmp_path, "staff.csv", "\ufeffid,Full Name,Role\n1,\"Marsk, Quenby\",RN\n2,,x\n")
    assert read_names(path) == ["Marsk, Quenby"]


def test_csv_first_middle_last_are_joined_with_and_without_the_middle(tmp_path: Path) -> None:
    path = write(tmp_path, "patients.csv",
                 "MRN,first_name,middle_name,LAST_NAME\n1,Ysolde,Anne,Tarnwick\n2,Quenby,,Marsk\n")
    assert read_names(path) == ["Ysolde Anne Tarnwick", "Ysolde Tarnwick", "Quenby Marsk"]
    plain = write(tmp_path, "export.txt", "given,surname\nOrla,Brennagh\n")
    assert read_names(plain, as_csv=True) == ["Orla Brennagh"]


def test_errors_name_the_line_never_the_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no name column") as missing:
        read_names(write(tmp_path, "x.csv", "Quenby Marsk,00482193\n"))
    assert "Quenby" not in str(missing.value)
    long = "Quenby " + "x" * 200
    with pytest.raises(ValueError, match=r"names.txt:2: a name over 200") as too_long:
        read_names(write(tmp_path, "names.txt", f"Ann\n{long}\n"))
    assert "Quenby" not in str(too_long.value)


def test_batches_respect_the_count_and_the_body_size() -> None:
    names = [f"Given{i} Family{i}" for i in range(25_000)]
    cut = batches(names, 1_000_000)
    assert [len(b) for b in cut] == [MAX_BATCH, MAX_BATCH, 5_000]
    small = batches(names[:1_000], 4_000)
    assert all(len(json.dumps({"names": b})) <= 4_100 for b in small)
    assert [n for b in small for n in b] == names[:1_000]


def test_the_cli_batch_is_the_apis_limit() -> None:
    from serve.routes.phi import MAX_NAMES

    assert MAX_BATCH == MAX_NAMES
