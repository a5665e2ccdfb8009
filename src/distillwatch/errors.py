"""One root for every error distillwatch raises on purpose; the CLI maps them to exit codes."""

from __future__ import annotations


class DistillwatchError(Exception):
    """Root of the errors a user can act on (bad input, bad configuration)."""

    exit_code = 1


class InputError(DistillwatchError):
    """Input that cannot be read: names the file, and where known the line and field."""

    exit_code = 2

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field!r})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class ConfigError(DistillwatchError):
    """A command-line option or configuration value that cannot be used."""

    exit_code = 2
