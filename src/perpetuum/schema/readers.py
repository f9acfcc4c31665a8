"""Read a table from a file, a DataFrame or a SQL database into a pandas DataFrame.

Every problem with the input raises `DataInputError` with one paragraph that says what is wrong, where (file,
line, byte offset, column or table) and what to do next. Odd but valid data (an all-null column, a constant column,
a single row, mixed types) is returned as is: the schema and the synthesizers decide what to do with it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd
import sqlalchemy
from sqlalchemy import exc as sql_errors

from perpetuum.errors import DataInputError

DELIMITED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: sniff the delimiter
PARQUET_SUFFIXES = {".parquet", ".pq"}
SQLITE_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
SUPPORTED = ".csv, .csv.gz, .tsv, .txt, .parquet, .pq, .db, .sqlite, .sqlite3, a pandas DataFrame or a SQLAlchemy URL"

_URL_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")
_SNIFF_LINES = 50


def read_table(
    source: str | Path | pd.DataFrame,
    *,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read `source` (file path, DataFrame or SQLAlchemy URL) into a new DataFrame.

    `table` and `query` apply to SQL sources only; `encoding` to delimited text files only.
    """
    if isinstance(source, pd.DataFrame):
        _check_unique_names([str(name) for name in source.columns], "the DataFrame")
        return source.copy()
    if not isinstance(source, (str, Path)):
        raise DataInputError(
            f"cannot read a table from a {type(source).__name__}. Pass a file path, a pandas DataFrame or a "
            f"SQLAlchemy URL such as 'sqlite:///data.db'."
        )
    if isinstance(source, str) and _URL_PATTERN.match(source):
        return _read_sql(source, table=table, query=query)
    path = Path(source)
    _check_readable_file(path)
    suffix = _format_suffix(path)
    if suffix in DELIMITED_SUFFIXES:
        return _read_delimited(path, DELIMITED_SUFFIXES[suffix], encoding)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    if suffix in SQLITE_SUFFIXES:
        return _read_sql(f"sqlite:///{path}", table=table, query=query, shown_as=str(path))
    raise DataInputError(
        f"cannot read {path}: the extension {''.join(path.suffixes) or '(none)'!r} is not supported. "
        f"Supported sources: {SUPPORTED}. Convert the file or rename it if its content is one of these formats."
    )


# ---------------------------------------------------------------- files


def json_records(lines, source: Path | str) -> list[dict]:
    """The JSON objects of JSON Lines `lines` (blank lines skipped); DataInputError naming `source` and the line for
    a line that is not JSON or not an object."""
    records = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataInputError(f"{source}, line {line_number}: not JSON ({error.msg}).") from None
        if not isinstance(record, dict):
            raise DataInputError(f"{source}, line {line_number}: a record must be a JSON object.")
        records.append(record)
    return records


def _check_readable_file(path: Path) -> None:
    if path.is_dir():
        raise DataInputError(f"{path} is a directory, not a file. Pass the path of the data file inside it.")
    if not path.exists():
        raise DataInputError(f"the file {path} does not exist. Check the path (relative paths start at {Path.cwd()}).")
    if path.stat().st_size == 0:
        raise DataInputError(f"the file {path} is empty (0 bytes). Check that it was written completely.")


def _format_suffix(path: Path) -> str:
    """The suffix that names the format, looking through a trailing '.gz'."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        if not suffixes or suffixes[-1] not in DELIMITED_SUFFIXES:
            return ".gz"  # only delimited text is read through gzip
    return suffixes[-1] if suffixes else ""


def _is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _open_binary(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")


def _read_delimited(path: Path, delimiter: str | None, encoding: str) -> pd.DataFrame:
    _check_encoding_name(encoding)
    try:
        sample = _read_text_sample(path, encoding)
        if delimiter is None or (delimiter == "," and len(_split_row(sample, ",")) == 1):
            delimiter = _sniff_delimiter(sample)
        header = _split_row(sample, delimiter)
        if not header:
            raise DataInputError(
                f"the file {path} holds no header row (only blank lines). Check that it was written completely."
            )
        _check_unique_names(header, str(path))
        frame = _parse_with_pandas(path, delimiter, encoding)
    except UnicodeDecodeError:
        raise _encoding_error(path, encoding) from None
    except csv.Error as error:
        raise DataInputError(f"cannot parse {path}: {error}. Check the file's quoting and delimiter.") from None
    except (OSError, EOFError) as error:  # includes gzip.BadGzipFile
        raise DataInputError(f"cannot read {path}: {error}. Check that the file is complete and not corrupted.") from None
    if frame.empty and len(frame.columns) > 0:
        raise DataInputError(
            f"the file {path} has a header row ({len(frame.columns)} columns) but no data rows. "
            f"Add data rows or pass the complete file."
        )
    return frame


def _check_encoding_name(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataInputError(
            f"unknown text encoding {encoding!r}. Use a Python codec name such as 'utf-8' or 'latin-1'."
        ) from None


def _read_text_sample(path: Path, encoding: str) -> str:
    """The first lines of the file as text, for the header and the delimiter."""
    with _open_binary(path) as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        lines = [line for _, line in zip(range(_SNIFF_LINES), text)]
    return "".join(lines).lstrip("\ufeff")


def _split_row(sample: str, delimiter: str) -> list[str]:
    """The first non-blank row of the sample, split the way csv (and pandas) split it."""
    for row in csv.reader(io.StringIO(sample), delimiter=delimiter):
        if row:
            return row
    return []


def _sniff_delimiter(sample: str) -> str:
    """The candidate delimiter that splits the sample into the most consistent rows of two or more fields."""
    best, best_score = ",", (0.0, 0)
    for delimiter in CANDIDATE_DELIMITERS:
        rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        width = len(rows[0]) if rows else 0
        if width < 2:
            continue
        # Short rows are legal padding, so only rows wider than the header count against a delimiter.
        consistent = sum(1 for row in rows if 1 < len(row) <= width) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_with_pandas(path: Path, delimiter: str, encoding: str) -> pd.DataFrame:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            # index_col=False: otherwise pandas silently turns the first column into the index when the
            # first data row has one field too many.
            frame = pd.read_csv(
                path, sep=delimiter, encoding=encoding, index_col=False, low_memory=False, compression="infer"
            )
        except pd.errors.ParserError as error:
            raise _ragged_error(path, str(error)) from None
    for warning in caught:
        if issubclass(warning.category, pd.errors.ParserWarning) and "Length of header" in str(warning.message):
            line = _first_wide_line(path, delimiter, encoding)
            raise _ragged_error(path, f"line {line} has more fields than the header" if line else "a row is too long")
    for warning in caught:  # give back the warnings we did not handle
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return frame


def _first_wide_line(path: Path, delimiter: str, encoding: str) -> int | None:
    with _open_binary(path) as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        width = None
        for row in reader:
            if not row:
                continue
            if width is None:
                width = len(row)
            elif len(row) > width:
                return reader.line_num
    return None


def _ragged_error(path: Path, detail: str) -> DataInputError:
    detail = detail.strip().removeprefix("Error tokenizing data. C error: ").rstrip(".")
    if "EOF inside string" in detail:
        advice = "A quote is opened and never closed; close it or escape it, then read the file again."
    else:
        advice = (
            "A row has more fields than the header, usually a value that contains the delimiter without being "
            "quoted. Quote that value or fix the row, then read the file again."
        )
    return DataInputError(f"cannot parse {path}: {detail}. {advice}")


def _encoding_error(path: Path, encoding: str) -> DataInputError:
    offset, line = _first_undecodable_byte(path, encoding)
    where = f" at byte offset {offset} (line {line})" if offset is not None else ""
    gz_note = " of the decompressed text" if _is_gzip(path) and offset is not None else ""
    return DataInputError(
        f"the file {path} is not valid {encoding} text{where}{gz_note}. It was probably saved in another "
        f"encoding: pass encoding='latin-1' (CLI: --encoding latin-1), or the file's real encoding such as 'cp1252'."
    )


def _first_undecodable_byte(path: Path, encoding: str) -> tuple[int | None, int | None]:
    """Byte offset and 1-based line of the first byte the encoding rejects, found by decoding in chunks."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, newlines = 0, 0
    with _open_binary(path) as raw:
        while chunk := raw.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset + error.start, newlines + chunk.count(b"\n", 0, error.start) + 1
            offset += len(chunk)
            newlines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset, newlines + 1
    return None, None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for damaged files
        raise DataInputError(
            f"cannot read {path} as Parquet: {error}. Check that the file is a complete Parquet file."
        ) from None
    _check_unique_names([str(name) for name in frame.columns], str(path))
    if frame.empty:
        raise DataInputError(f"the Parquet file {path} has no rows. Pass a file that holds data.")
    return frame


def _check_unique_names(names: list[str], where: str) -> None:
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise DataInputError(
            f"{where} has duplicate column names: {', '.join(map(repr, repeated))}. Column names must be unique; "
            f"rename the repeated columns in the source."
        )


# ---------------------------------------------------------------- SQL


def _read_sql(url: str, *, table: str | None, query: str | None, shown_as: str | None = None) -> pd.DataFrame:
    if table is not None and query is not None:
        raise DataInputError("pass either table= or query= to read from a database, not both.")
    engine = _create_engine(url)
    where = shown_as or engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            if query is not None:
                frame = _run_query(connection, query, where)
                what = "the query"
            else:
                table = _choose_table(connection, table, where)
                frame = pd.read_sql_table(table, connection)
                what = f"the table {table!r}"
    except (sql_errors.SQLAlchemyError, pd.errors.DatabaseError) as error:
        raise DataInputError(
            f"cannot read from the database {where}: {_first_line(error.__cause__ or error)}. Check the URL, that the server is "
            f"running and reachable, and the credentials."
        ) from None
    finally:
        engine.dispose()
    _check_unique_names([str(name) for name in frame.columns], f"{what} in {where}")
    if frame.empty:
        raise DataInputError(f"{what} in {where} returned no rows. Pass a table or query that holds data.")
    return frame


def _create_engine(url: str) -> sqlalchemy.Engine:
    try:
        parsed = sqlalchemy.make_url(url)
    except (sql_errors.ArgumentError, ValueError):
        raise DataInputError(
            f"{url!r} is not a valid SQLAlchemy URL. Use the form 'dialect+driver://user:password@host/database', "
            f"e.g. 'sqlite:///data.db' or 'postgresql://user@localhost/db'."
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # SQLite would silently create an empty database for a missing file.
        if not Path(parsed.database).is_file():
            raise DataInputError(f"the SQLite database file {parsed.database} does not exist. Check the path in {shown}.")
    try:
        return sqlalchemy.create_engine(parsed)
    except (sql_errors.NoSuchModuleError, ModuleNotFoundError) as error:
        raise DataInputError(
            f"cannot connect to {shown}: its database driver is not installed ({_first_line(error)}). Install that "
            f"package (for PostgreSQL: pip install 'psycopg[binary]'), or name an installed driver in the URL, "
            f"e.g. 'postgresql+psycopg2://...'."
        ) from None
    except sql_errors.ArgumentError as error:
        raise DataInputError(f"cannot use the URL {shown}: {_first_line(error)}. Check the URL's options.") from None


def _run_query(connection: sqlalchemy.Connection, query: str, where: str) -> pd.DataFrame:
    try:
        return pd.read_sql_query(sqlalchemy.text(query), connection)
    except (sql_errors.DBAPIError, pd.errors.DatabaseError) as error:
        raise DataInputError(
            f"the query failed in {where}: {_first_line(error.__cause__ or error)}. Check the SQL and the table and column names."
        ) from None


def _choose_table(connection: sqlalchemy.Connection, table: str | None, where: str) -> str:
    tables = sqlalchemy.inspect(connection).get_table_names()
    listing = ", ".join(map(repr, tables)) or "none"
    if table is None:
        if len(tables) == 1:
            return tables[0]
        raise DataInputError(
            f"the database {where} holds {len(tables)} tables ({listing}); pass table= (CLI: --table) to choose one."
        )
    if table not in tables:
        raise DataInputError(f"the database {where} has no table {table!r}; its tables are: {listing}.")
    return table


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.strip().splitlines()[0].rstrip(".") if text.strip() else type(error).__name__
