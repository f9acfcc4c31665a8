"""The `records` sampler: whole records drawn from a JSON Lines or CSV file, seeded per record, and the errors that
name the file and line when the file is wrong."""

from __future__ import annotations

import gzip
import json

import pytest
import yaml

from perpetuum.pipeline import preview
from perpetuum.pipeline.spec import SpecError, load_spec

ROWS = [{"question": f"What is {i} + {i}?", "answer": str(2 * i), "level": i % 3} for i in range(40)]


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def spec_file(folder, column: dict, seed: int = 7):
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({"name": "records", "seed": seed,
                                    "columns": [{"name": "problem", "kind": "sampler", "sampler": "records", **column}]}))
    return path


def drawn(spec, n: int) -> list:
    return [row["problem"] for row in preview(spec, n)]


def test_each_record_is_a_whole_row_drawn_reproducibly_and_independently_of_n(tmp_path):
    write_jsonl(tmp_path / "problems.jsonl", ROWS)
    spec = spec_file(tmp_path, {"file": "problems.jsonl"})
    first = drawn(spec, 6)
    assert all(row in ROWS for row in first)
    assert drawn(spec, 6) == first
    assert drawn(spec, 3) == first[:3]  # record i's draw does not depend on how many records run
    assert len({row["question"] for row in first}) > 1
    other_seed = spec_file(tmp_path, {"file": "problems.jsonl"}, seed=8)
    assert drawn(other_seed, 6) != first


def test_without_replacement_never_repeats_a_record_and_refuses_more_records_than_rows(tmp_path):
    write_jsonl(tmp_path / "problems.jsonl", ROWS)
    spec = spec_file(tmp_path, {"file": "problems.jsonl", "without_replacement": True})
    rows = drawn(spec, 40)
    assert sorted(row["question"] for row in rows) == sorted(row["question"] for row in ROWS)
    with pytest.raises(SpecError, match="has 40 distinct values, too few for 41 records"):
        preview(spec, 41)


def test_count_gives_distinct_records_and_fields_keeps_only_those_named(tmp_path):
    write_jsonl(tmp_path / "problems.jsonl", ROWS)
    spec = spec_file(tmp_path, {"file": "problems.jsonl", "count": 3, "fields": ["question"]})
    for group in drawn(spec, 4):
        assert len(group) == 3 and len({row["question"] for row in group}) == 3
        assert all(set(row) == {"question"} for row in group)


def test_gzip_and_csv_files_are_read_and_csv_values_stay_text(tmp_path):
    with gzip.open(tmp_path / "problems.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in ROWS))
    assert drawn(spec_file(tmp_path, {"file": "problems.jsonl.gz"}), 2)[0] in ROWS
    (tmp_path / "problems.csv").write_text("question,answer\nWhat is 1 + 1?,2\n\"Is 3, 4 a pair?\",yes\n")
    rows = drawn(spec_file(tmp_path, {"file": "problems.csv", "without_replacement": True}), 2)
    assert sorted(rows, key=str) == [{"question": "Is 3, 4 a pair?", "answer": "yes"},
                                     {"question": "What is 1 + 1?", "answer": "2"}]


def test_a_line_separator_inside_a_json_string_does_not_end_the_line(tmp_path):
    (tmp_path / "problems.jsonl").write_text(json.dumps({"question": "one\u2028two"}, ensure_ascii=False) + "\n")
    assert drawn(spec_file(tmp_path, {"file": "problems.jsonl"}), 1) == [{"question": "one\u2028two"}]


def test_a_relative_file_is_read_beside_the_spec(tmp_path):
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "problems.jsonl", ROWS)
    spec = load_spec(spec_file(tmp_path, {"file": "data/problems.jsonl"}))
    assert spec.column("problem").file == str(tmp_path / "data" / "problems.jsonl")


# ---------------------------------------------------------------------------------------------- bad input


def test_a_missing_file_is_named_with_its_column(tmp_path):
    with pytest.raises(SpecError, match=r"columns\[0\]\.file: data file .*nowhere\.jsonl' does not exist"):
        load_spec(spec_file(tmp_path, {"file": "nowhere.jsonl"}))


def test_an_unknown_format_is_refused_when_the_spec_loads(tmp_path):
    (tmp_path / "problems.txt").write_text("a\n")
    with pytest.raises(SpecError, match=r"columns\[0\]\.file: 'problems.txt': give a .jsonl or .csv file"):
        load_spec(spec_file(tmp_path, {"file": "problems.txt"}))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"problems.jsonl' holds no records"),
        ("\n  \n", r"problems.jsonl' holds no records"),
        ('{"question": "ok"}\n\n{"question": "cut\n', r"problems.jsonl, line 3: not valid JSON \(Unterminated string"),
        ('{"question": "ok"}\n[1, 2]\n', r"problems.jsonl, line 2: each line must be a JSON object; got list"),
        ('{"question": "ok"}\n{"answer": "4"}\n', r"problems.jsonl, line 2: no field 'question'; the record has 'answer'"),
    ],
)
def test_bad_jsonl_names_the_file_and_the_line(tmp_path, content, message):
    (tmp_path / "problems.jsonl").write_text(content)
    spec = spec_file(tmp_path, {"file": "problems.jsonl", "fields": ["question"]})
    with pytest.raises(SpecError, match=r"columns\[0\]: .*" + message):
        preview(spec, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,answer\nWhat?,1,extra\n", r"problems.csv, line 2: 3 fields where the header has 2"),
        ("question,question\na,b\n", r"problems.csv, line 1: the header needs distinct, non-empty column names"),
        ("question,answer\n", r"problems.csv' holds no records"),
    ],
)
def test_bad_csv_names_the_file_and_the_line(tmp_path, content, message):
    (tmp_path / "problems.csv").write_text(content)
    with pytest.raises(SpecError, match=message):
        preview(spec_file(tmp_path, {"file": "problems.csv"}), 1)


def test_a_broken_gzip_file_and_non_utf8_text_are_named(tmp_path):
    (tmp_path / "problems.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(SpecError, match=r"cannot read data file .*problems.jsonl.gz"):
        preview(spec_file(tmp_path, {"file": "problems.jsonl.gz"}), 1)
    (tmp_path / "problems.jsonl").write_bytes(b'{"question": "ok"}\n{"question": "caf\xe9"}\n')
    with pytest.raises(SpecError, match=r"problems.jsonl, line 2: not UTF-8 text"):
        preview(spec_file(tmp_path, {"file": "problems.jsonl"}), 1)


def test_count_above_the_number_of_records_is_refused(tmp_path):
    write_jsonl(tmp_path / "problems.jsonl", ROWS[:2])
    with pytest.raises(SpecError, match="count 3 is more than the 2 records"):
        preview(spec_file(tmp_path, {"file": "problems.jsonl", "count": 3}), 1)
    with pytest.raises(SpecError, match="without_replacement works with count: 1"):
        load_spec(spec_file(tmp_path, {"file": "problems.jsonl", "count": 2, "without_replacement": True}))
