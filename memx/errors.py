"""The two kinds of failure a user can see, and the exit code each maps to.

`ConfigError` (exit 2) is bad input: a config, a flag, a path. Nothing has been written
when it is raised. `MemxFailure` (exit 1) is a runtime fault; its message says what to do
next, usually `memx resume RUN`. This module knows nothing else.
"""


class MemxError(Exception):
    exit_code = 1


class ConfigError(MemxError):
    """Bad input: one line naming the field and the problem."""

    exit_code = 2


class MemxFailure(MemxError):
    """A runtime failure (storage down, actors dead...); the message says what to do next."""

    exit_code = 1


class StorageUnavailable(MemxFailure):
    """The object store stayed unreachable after bounded retries."""
