"""Typed errors. Each message says what went wrong, where, and what to do next."""


class PerpetuumError(Exception):
    """Base class of every error Perpetuum raises on purpose."""


class DataInputError(PerpetuumError, ValueError):
    """The input data cannot be read or used as given (file, column or row is named in the message)."""


class SchemaError(PerpetuumError, ValueError):
    """A schema is invalid or does not match the data it is used with."""


class ConditionError(PerpetuumError, ValueError):
    """A sampling condition names an unknown column, an unseen value, or an impossible range."""


class ParameterError(PerpetuumError, ValueError):
    """A parameter has a value outside what it accepts."""


class NotFittedError(PerpetuumError, RuntimeError):
    """A model was used before `fit` was called."""


class ModelFileError(PerpetuumError, ValueError):
    """A saved model folder is missing, incomplete, or from an incompatible version."""


class SpecError(PerpetuumError, ValueError):
    """A dataset spec is invalid; the message names each offending key path and what to write instead."""


class TransientBackendError(PerpetuumError, RuntimeError):
    """A model backend failed in a way that may pass (timeout, 429, 5xx, connection reset): retry with backoff.

    `retry_after` is how many seconds the server asked the client to wait (its Retry-After header), or None.
    """

    def __init__(self, *args, retry_after: float | None = None):
        super().__init__(*args)
        self.retry_after = retry_after


class GenerationError(PerpetuumError, RuntimeError):
    """A model gave no usable answer (e.g. no JSON matching the schema after the allowed attempts, or a request the
    backend refused); the record fails, the run goes on."""


class RunStopped(PerpetuumError, RuntimeError):
    """A run stopped on purpose before its end: a budget limit would have been crossed, or a quality monitor's
    threshold was. Every record finished before the stop is saved; `reason` says which limit and by how much."""

    def __init__(self, reason: str, *, kind: str = "budget", limit: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.limit = limit


class ScaleOutError(PerpetuumError, RuntimeError):
    """Scaling out failed: Ray is not installed, the cluster cannot be reached, or a worker died mid-run. The
    message says what to install, or how to resume the run."""


class StorageError(PerpetuumError, RuntimeError):
    """An output location (a folder, or an object-store URI such as s3://bucket/prefix) cannot be used: no
    credentials, a bucket that does not exist, an endpoint that does not answer, a refused request. The message
    names the location and what to set or create."""
