"""`read_table`: every supported source round-trips, and every bad input raises a DataInputError that says
what is wrong, where, and what to do next."""

from __future__ import annotations

import gzip
import sqlite3

import pandas as pd
import pytest
import sqlalchemy

from perpetuum.errors import DataInputError
from perpetuum.schema import read_table


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["Ann", "Bob", "Cy"],
            "age": [31, 45, 27],
            "score": [0.5, 1.25, 3.0],
        }
    )


def write_text(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def make_sqlite(path, **tables: pd.DataFrame) -> str:
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    for name, frame in tables.items():
        frame.to_sql(name, engine, index=False)
    engine.dispose()
    return str(path)


# ---------------------------------------------------------------- round trips


def test_csv_round_trip(tmp_path, people):
    people.to_csv(tmp_path / "people.csv", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "people.csv"), people, check_dtype=False)


def test_gzipped_csv_round_trip(tmp_path, people):
    people.to_csv(tmp_path / "people.csv.gz", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "people.csv.gz"), people, check_dtype=False)


def test_tsv_is_read_with_tabs(tmp_path, people):
    people.to_csv(tmp_path / "people.tsv", sep="\t", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "people.tsv"), people, check_dtype=False)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_txt_delimiter_is_sniffed(tmp_path, people, delimiter):
    people.to_csv(tmp_path / "people.txt", sep=delimiter, index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "people.txt"), people, check_dtype=False)


def test_txt_sniffing_prefers_the_consistent_delimiter(tmp_path):
    path = write_text(tmp_path / "notes.txt", "id;note\n1;red, green\n2;blue\n3;one, two, three\n")
    frame = read_table(path)
    assert list(frame.columns) == ["id", "note"]
    assert frame["note"].tolist() == ["red, green", "blue", "one, two, three"]


def test_semicolon_csv_is_sniffed(tmp_path, people):
    people.to_csv(tmp_path / "people.csv", sep=";", index=False)
    assert list(read_table(tmp_path / "people.csv").columns) == ["name", "age", "score"]


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path, people, suffix):
    people.to_parquet(tmp_path / f"people{suffix}", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / f"people{suffix}"), people, check_dtype=False)


def test_dataframe_is_returned_as_a_copy(people):
    frame = read_table(people)
    frame.loc[0, "age"] = 99
    assert people.loc[0, "age"] == 31
    assert frame is not people


def test_sqlite_url_with_table(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people)
    pd.testing.assert_frame_equal(read_table(f"sqlite:///{path}", table="people"), people)


def test_sqlite_url_with_query(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people)
    frame = read_table(f"sqlite:///{path}", query="SELECT name, age FROM people WHERE age > 30")
    assert frame["name"].tolist() == ["Ann", "Bob"]


@pytest.mark.parametrize("suffix", [".db", ".sqlite", ".sqlite3"])
def test_sqlite_path_with_a_single_table_needs_no_table_name(tmp_path, people, suffix):
    path = make_sqlite(tmp_path / f"data{suffix}", people=people)
    pd.testing.assert_frame_equal(read_table(path), people)


def test_sqlite_path_with_table_picks_that_table(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people, other=pd.DataFrame({"x": [1]}))
    pd.testing.assert_frame_equal(read_table(path, table="people"), people)


# ---------------------------------------------------------------- valid but odd data is returned


def test_empty_fields_and_na_markers_are_missing(tmp_path):
    frame = read_table(write_text(tmp_path / "d.csv", "a,b\n1,x\n,NA\n3,\n"))
    assert frame["a"].isna().tolist() == [False, True, False]
    assert frame["b"].isna().tolist() == [False, True, True]


def test_rows_with_fewer_fields_are_padded_with_missing(tmp_path):
    frame = read_table(write_text(tmp_path / "d.csv", "a,b,c\n1,2,3\n4,5\n"))
    assert frame.shape == (2, 3)
    assert pd.isna(frame.loc[1, "c"])


def test_single_row_all_null_constant_and_mixed_columns_are_returned(tmp_path):
    frame = read_table(write_text(tmp_path / "d.csv", "empty,constant,mixed\n,7,12\n,7,abc\n"))
    assert frame["empty"].isna().all()
    assert frame["constant"].tolist() == [7, 7]
    assert frame["mixed"].tolist() == ["12", "abc"]
    assert read_table(write_text(tmp_path / "one.csv", "a,b\n1,2\n")).shape == (1, 2)


def test_latin1_file_reads_with_latin1_encoding(tmp_path):
    path = tmp_path / "cities.csv"
    path.write_bytes("city,n\nZürich,1\nMálaga,2\n".encode("latin-1"))
    assert read_table(path, encoding="latin-1")["city"].tolist() == ["Zürich", "Málaga"]


# ---------------------------------------------------------------- bad input


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataInputError, match=r"nope\.csv does not exist"):
        read_table(tmp_path / "nope.csv")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataInputError, match="is a directory, not a file"):
        read_table(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataInputError, match=r"empty\.csv is empty \(0 bytes\)"):
        read_table(tmp_path / "empty.csv")


def test_gzip_holding_no_text(tmp_path):
    with gzip.open(tmp_path / "empty.csv.gz", "wb"):
        pass
    with pytest.raises(DataInputError, match="no header row"):
        read_table(tmp_path / "empty.csv.gz")


def test_header_without_data_rows(tmp_path):
    with pytest.raises(DataInputError, match=r"has a header row \(3 columns\) but no data rows"):
        read_table(write_text(tmp_path / "d.csv", "a,b,c\n"))


def test_row_with_more_fields_names_its_line(tmp_path):
    path = write_text(tmp_path / "d.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    with pytest.raises(DataInputError, match=r"d\.csv.*line 4.*Quote that value"):
        read_table(path)


def test_first_data_row_with_more_fields_is_not_silently_used_as_index(tmp_path):
    path = write_text(tmp_path / "d.csv", "a,b,c\n1,2,3,4\n5,6,7\n")
    with pytest.raises(DataInputError, match=r"line 2 has more fields than the header"):
        read_table(path)


def test_unclosed_quote_is_reported(tmp_path):
    path = write_text(tmp_path / "d.csv", 'a,b\n1,"never closed\n2,3\n')
    with pytest.raises(DataInputError, match=r"d\.csv: EOF inside string.*never closed"):
        read_table(path)


def test_file_named_gz_that_is_not_gzip(tmp_path):
    path = write_text(tmp_path / "d.csv.gz", "a,b\n1,2\n")
    with pytest.raises(DataInputError, match=r"d\.csv\.gz: Not a gzipped file"):
        read_table(path)


def test_non_utf8_bytes_give_offset_and_suggest_latin1(tmp_path):
    path = tmp_path / "cities.csv"
    path.write_bytes("city,n\nZürich,1\n".encode("latin-1"))
    with pytest.raises(DataInputError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "cities.csv is not valid utf-8" in message
    assert "byte offset 8 (line 2)" in message
    assert "encoding='latin-1'" in message and "--encoding latin-1" in message


def test_non_utf8_bytes_far_into_the_file_are_located(tmp_path):
    path = tmp_path / "big.csv"
    body = b"a,b\n" + b"1,x\n" * 300_000
    path.write_bytes(body + b"2,\xff\n")
    with pytest.raises(DataInputError, match=rf"byte offset {len(body) + 2} \(line 300002\)"):
        read_table(path)


def test_unknown_encoding_name(tmp_path, people):
    people.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(DataInputError, match="unknown text encoding 'klingon'"):
        read_table(tmp_path / "p.csv", encoding="klingon")


def test_duplicate_column_names_are_refused_not_renamed(tmp_path):
    with pytest.raises(DataInputError, match=r"duplicate column names: 'a'"):
        read_table(write_text(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))


def test_duplicate_column_names_in_a_dataframe(people):
    frame = pd.concat([people, people[["age"]]], axis=1)
    with pytest.raises(DataInputError, match="duplicate column names: 'age'"):
        read_table(frame)


def test_unsupported_extension_lists_supported_sources(tmp_path):
    path = write_text(tmp_path / "d.xlsx", "not really excel")
    with pytest.raises(DataInputError, match=r"extension '\.xlsx' is not supported.*\.parquet"):
        read_table(path)


def test_unsupported_source_type():
    with pytest.raises(DataInputError, match="cannot read a table from a list"):
        read_table([1, 2, 3])


def test_unknown_sql_table_lists_the_tables(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people, orders=pd.DataFrame({"x": [1]}))
    with pytest.raises(DataInputError, match=r"no table 'customers'; its tables are: 'orders', 'people'"):
        read_table(f"sqlite:///{path}", table="customers")


def test_database_with_several_tables_needs_a_table_name(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people, orders=pd.DataFrame({"x": [1]}))
    with pytest.raises(DataInputError, match=r"holds 2 tables \('orders', 'people'\); pass table="):
        read_table(path)


def test_failing_sql_query(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people)
    with pytest.raises(DataInputError, match="the query failed.*no such table: missing"):
        read_table(f"sqlite:///{path}", query="SELECT * FROM missing")


def test_empty_sql_table(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people.iloc[:0])
    with pytest.raises(DataInputError, match="returned no rows"):
        read_table(path, table="people")


def test_sqlite_url_to_a_missing_file_does_not_create_it(tmp_path):
    with pytest.raises(DataInputError, match="SQLite database file .*missing.db does not exist"):
        read_table(f"sqlite:///{tmp_path / 'missing.db'}", table="t")
    assert not (tmp_path / "missing.db").exists()


def test_sql_url_that_cannot_connect(tmp_path):
    not_a_database = write_text(tmp_path / "fake.db", "this is plain text, not SQLite\n" * 100)
    with pytest.raises(DataInputError, match=r"cannot read from the database .*fake\.db.*Check the URL"):
        read_table(f"sqlite:///{not_a_database}", table="t")


def test_server_url_without_reachable_server_or_driver():
    with pytest.raises(DataInputError, match="cannot connect to postgresql://"):
        read_table("postgresql://user:secret@127.0.0.1:1/db", table="t")


def test_invalid_sql_url():
    with pytest.raises(DataInputError, match="not a valid SQLAlchemy URL"):
        read_table("sqlite://:bad:url:/", table="t")


def test_table_and_query_together_are_refused(tmp_path, people):
    path = make_sqlite(tmp_path / "data.db", people=people)
    with pytest.raises(DataInputError, match="either table= or query="):
        read_table(path, table="people", query="SELECT 1")


def test_password_is_hidden_in_messages():
    with pytest.raises(DataInputError) as caught:
        read_table("postgresql://user:secret@127.0.0.1:1/db", table="t")
    assert "secret" not in str(caught.value)


def test_sqlite_file_written_by_sqlite3_module(tmp_path):
    path = tmp_path / "raw.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(1, "x"), (2, None)])
    connection.close()
    frame = read_table(path)
    assert frame["a"].tolist() == [1, 2]
    assert frame["b"].isna().tolist() == [False, True]
