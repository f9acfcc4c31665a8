"""Output folders that may live in an object store: a local path or a URI such as s3://bucket/prefix, written
through pyarrow's file systems.

    folder = open_folder("s3://bucket/runs/stories")      # checks the credentials and the bucket first
    folder.write_bytes("plan.json", data)                 # whole or not at all, locally and on S3
    folder.names("part-"), folder.read_bytes("plan.json"), folder.upload(local_path, "data.parquet")

S3 is configured by the standard AWS variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (or
AWS_PROFILE and the shared credentials file, a web-identity or container role, an instance role), AWS_REGION or
AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for another S3 service (MinIO, Ceph, moto). Keys
given as variables travel with the folder when it is sent to Ray workers (as a pyarrow file system passed to Ray
Data does); other credentials are looked up on each worker. Other schemes pyarrow knows (gs://, hdfs://) are
opened with `pyarrow.fs.FileSystem.from_uri`.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

from perpetuum.errors import StorageError

__all__ = ["OutputFolder", "is_remote", "open_folder"]


def is_remote(location) -> bool:
    """Whether `location` is a URI of a file system other than this machine's (s3://, gs://, ...)."""
    if isinstance(location, OutputFolder):
        return not location.local
    text = str(location)
    scheme = urlparse(text).scheme
    return "://" in text and len(scheme) > 1 and scheme != "file"


def open_folder(location, check: bool = True) -> OutputFolder:
    """The folder at `location` (a path or a URI); `check` makes sure a remote one can be reached before any work
    starts (credentials found, bucket there), with a StorageError that says what to set otherwise."""
    if isinstance(location, OutputFolder):
        return location
    if not is_remote(location):
        from pyarrow.fs import LocalFileSystem

        return OutputFolder(LocalFileSystem(), str(Path(location).resolve()), str(location), local=True)
    uri = str(location).rstrip("/")
    if urlparse(uri).scheme == "s3":
        filesystem, base = _s3_filesystem(uri)
    else:
        from pyarrow.fs import FileSystem

        try:
            filesystem, base = FileSystem.from_uri(uri)
        except (OSError, ValueError) as error:
            raise StorageError(f"cannot open {uri!r}: {_first_line(error)}") from None
    folder = OutputFolder(filesystem, base.rstrip("/"), uri, local=False)
    if check:
        folder.check()
    return folder


class OutputFolder:
    """A folder on a pyarrow file system. Names are relative to it, with "/" between parts."""

    def __init__(self, filesystem, base: str, uri: str, local: bool) -> None:
        self.filesystem = filesystem
        self.base = base
        self.uri = uri
        self.local = local

    def __repr__(self) -> str:
        return f"OutputFolder({self.uri!r})"

    def location(self, name: str = "") -> str:
        """Where `name` is, as the user would write it (a path, or a URI)."""
        if self.local:
            return str(Path(self.uri) / name) if name else self.uri
        return f"{self.uri}/{name}" if name else self.uri

    def _path(self, name: str) -> str:
        return f"{self.base}/{name}" if name else self.base

    def check(self) -> None:
        """The bucket (or the folder above a local one) exists and answers; a StorageError otherwise."""
        from pyarrow.fs import FileType

        bucket = self.base.split("/", 1)[0]
        try:
            found = self.filesystem.get_file_info(bucket).type
        except OSError as error:
            raise StorageError(f"cannot reach {self.uri}: {_first_line(error)}. Check the credentials "
                               "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the endpoint (AWS_ENDPOINT_URL)"
                               ) from None
        if found == FileType.NotFound:
            raise StorageError(f"the bucket {bucket!r} of {self.uri} does not exist{_where()}; create it (e.g. `aws "
                               f"s3 mb s3://{bucket}`) or write to another one")

    def exists(self, name: str) -> bool:
        from pyarrow.fs import FileType

        return self._call(lambda: self.filesystem.get_file_info(self._path(name)).type != FileType.NotFound, name)

    def names(self, prefix: str = "", under: str = "") -> list[str]:
        """Sorted names of the files directly in the folder (or in its subfolder `under`) that start with `prefix`."""
        from pyarrow.fs import FileSelector, FileType

        selector = FileSelector(self._path(under), allow_not_found=True)
        infos = self._call(lambda: self.filesystem.get_file_info(selector), under)
        return sorted(info.base_name for info in infos
                      if info.type == FileType.File and info.base_name.startswith(prefix))

    def is_empty(self) -> bool:
        from pyarrow.fs import FileSelector

        selector = FileSelector(self.base, allow_not_found=True)
        return not self._call(lambda: self.filesystem.get_file_info(selector), "")

    def read_bytes(self, name: str) -> bytes:
        def read() -> bytes:
            with self.filesystem.open_input_stream(self._path(name)) as stream:
                return stream.read()

        return self._call(read, name)

    def open_input_file(self, name: str):
        """A seekable file (for reading a Parquet footer without the whole object)."""
        return self._call(lambda: self.filesystem.open_input_file(self._path(name)), name)

    def write_bytes(self, name: str, data: bytes) -> str:
        """Write `data` under `name`, replacing what was there; a reader never sees half of it (a local file is
        written under a temporary name and renamed; an S3 object appears only when its upload completes)."""
        if self.local:
            target = Path(self._path(name))
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
            try:
                temporary.write_bytes(data)
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
            return self.location(name)

        def write() -> None:
            with self.filesystem.open_output_stream(self._path(name)) as stream:
                stream.write(data)

        self._call(write, name)
        return self.location(name)

    def upload(self, local_path: str | Path, name: str) -> str:
        """Copy a local file or folder (a Hugging Face dataset folder) to `name`; returns its location."""
        from pyarrow.fs import LocalFileSystem, copy_files

        local_path = Path(local_path)
        if local_path.is_dir():
            self._call(lambda: copy_files(str(local_path.resolve()), self._path(name),
                                          source_filesystem=LocalFileSystem(), destination_filesystem=self.filesystem),
                       name)
        else:
            self.write_bytes(name, local_path.read_bytes())
        return self.location(name)

    def download(self, name: str, local_path: str | Path) -> Path:
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        local_path.write_bytes(self.read_bytes(name))
        return local_path

    def delete(self, name: str) -> None:
        self._call(lambda: self.filesystem.delete_file(self._path(name)), name)

    def _call(self, operation, name: str):
        try:
            return operation()
        except FileNotFoundError:
            raise StorageError(f"{self.location(name)} does not exist") from None
        except OSError as error:
            raise StorageError(f"cannot access {self.location(name)}: {_first_line(error)}") from None


def _s3_filesystem(uri: str):
    from pyarrow.fs import S3FileSystem

    parsed = urlparse(uri)
    if not parsed.netloc:
        raise StorageError(f"{uri!r} names no bucket; write s3://BUCKET/PREFIX")
    options: dict = {"region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                     "connect_timeout": 5.0}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        endpoint_url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=endpoint_url.netloc, scheme=endpoint_url.scheme or "https")
    if _credentials_source() == "environment":
        options.update(access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                       session_token=os.environ.get("AWS_SESSION_TOKEN") or None)
    try:
        filesystem = S3FileSystem(**options)
    except (OSError, ValueError) as error:
        raise StorageError(f"cannot open {uri}: {_first_line(error)}") from None
    return filesystem, f"{parsed.netloc}{parsed.path}"


def _credentials_source() -> str:
    """Where AWS credentials come from, in the AWS SDK's order; a StorageError when there are none, since an
    unsigned request would only fail later and less clearly (or, on some servers, succeed anonymously)."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_SECRET_ACCESS_KEY"):
        if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
            raise StorageError("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; set both")
        return "environment"
    if os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return "web identity"
    if os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "container role"
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
             os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")]
    if os.environ.get("AWS_PROFILE") or any(Path(name).expanduser().is_file() for name in files):
        return "profile"
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true" and _instance_metadata_answers():
        return "instance role"
    raise StorageError(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for "
        "temporary ones), or AWS_PROFILE with ~/.aws/credentials; for another S3 service also set AWS_ENDPOINT_URL"
    )


def _instance_metadata_answers() -> bool:
    """Whether the EC2/ECS instance-metadata service is there (it hands out an instance role's credentials)."""
    try:
        socket.create_connection(("169.254.169.254", 80), timeout=1.0).close()
    except OSError:
        return False
    return True


def _where() -> str:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return f" at {endpoint}" if endpoint else ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
