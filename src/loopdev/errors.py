"""One error hierarchy; the CLI maps each class to an exit code and a clear message."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


class LoopdevError(Exception):
    """Base of every error loopdev reports to a user (never shown with a traceback)."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The text shown to the user: the message, then the hint on its own line."""
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(LoopdevError):
    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config file, located at file:line:col and a key path."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(LoopdevError):
    """An invalid loopfile (or values file); carries every problem found, not just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[ConfigProblem] | str, hint: str | None = None) -> None:
        if isinstance(problems, str):
            super().__init__(problems, hint)
            self.problems: list[ConfigProblem] = []
        else:
            super().__init__("\n".join(str(p) for p in problems), hint)
            self.problems = list(problems)


class TemplateError(LoopdevError):
    """A chart template failed to render, or rendered to something that is not an object."""

    exit_code = EXIT_USAGE


class ContextRefused(LoopdevError):
    """The kube context does not look local and is not allowed by the loopfile."""

    exit_code = EXIT_USAGE


class BuildError(LoopdevError):
    pass


class DockerUnavailable(BuildError):
    pass


class DeployError(LoopdevError):
    pass


class ClusterUnreachable(DeployError):
    pass


class UnknownKind(DeployError):
    """The API server does not serve this kind (yet): a CRD missing or not established."""


class SyncError(LoopdevError):
    pass


class NotImplementedYet(UsageError):
    """A command whose body has not landed yet: say so, exit 2, never pretend."""

    def __init__(self, command: str) -> None:
        super().__init__(f"'loopdev {command}' is not implemented yet in this version")
