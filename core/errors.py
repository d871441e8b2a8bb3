"""The exception hierarchy of CORE.

Every error CORE raises on purpose derives from :class:`CoreError`. Messages
name the object, what was expected, what was received and, where one exists,
the fix. The edges (CLI, API) catch ``CoreError`` and report it; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CoreError(Exception):
    """Base of every error CORE raises deliberately."""

    exit_code = 1


class SettingsError(CoreError):
    """The settings (environment variables or core.toml) are invalid."""

    exit_code = 2


class ConfigurationError(CoreError):
    """The configuration database holds something CORE cannot use."""

    exit_code = 2


class NotFoundError(ConfigurationError):
    """A named object does not exist in the configuration."""


class InvalidNameError(ConfigurationError):
    """A name is not valid where it is used (dag id, contract path part)."""


class DuplicateError(ConfigurationError):
    """A name that must be unique is already taken."""


class TransformationVariableError(ConfigurationError):
    """A transformation's variables do not match its template's schema."""

    variable: str | None = None  # the variable at fault, when there is one


class MissingTransformationVariableError(TransformationVariableError):
    """A required variable has no value and no default."""


class ExtraTransformationVariableError(TransformationVariableError):
    """A variable is set that the template does not declare."""


class TransformationVariableTypeError(TransformationVariableError):
    """A variable's value cannot be read as the declared type."""


class VariableSchemaError(ConfigurationError):
    """A template's variable_structures is not a valid schema."""


class DatabaseError(CoreError):
    """The configuration database could not be reached or migrated."""


class SecretNotFoundError(CoreError):
    """No secret exists under any identifier that was tried."""


class SecretError(CoreError):
    """A secret was asked for or written the wrong way."""


class InvalidSecretError(SecretError):
    """A stored secret is not valid JSON, or lacks or mistypes a field of its type."""


class SecretsBackendError(SecretError):
    """The secrets backend could not be read or written (unreachable, denied, corrupt)."""


class ReadOnlySecretsBackendError(SecretError):
    """The configured secrets backend cannot be written through CORE."""


class ScriptError(CoreError):
    """A script or command was run in the wrong place or the wrong way."""


class MissingExtraError(CoreError):
    """An optional part of CORE (an extra: airflow, web, notebook) is not installed."""

    exit_code = 2


class WorkerServerError(CoreError):
    """The shared worker server cannot be started, found or stopped."""


class LakeError(CoreError):
    """The data lake could not be read or written as asked."""


class ContractError(LakeError):
    """A contract's parts (company, brand, state, dataset, branch) are not valid."""

    exit_code = 2


class ContractNotFoundError(LakeError):
    """A contract's table or file does not exist in the lake."""


class SchemaConflictError(LakeError):
    """Data to publish has a column whose type differs from the table's."""


class NotebookError(CoreError):
    """A notebook transform failed: a cell raised or timed out, or the kernel did not start."""


class InvalidInputError(ConfigurationError):
    """Input to the configuration application has problems, each tied to a field.

    Args:
        problems: ``(field, value, message)`` for every problem found; all are
            reported at once, so a form can show each next to its field.
    """

    def __init__(self, problems: list[tuple[str, object, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, _, message in problems))


class ConflictError(ConfigurationError):
    """A change conflicts with the stored state (a newer version, rows that refer to it)."""


class VersionRequiredError(ConflictError):
    """An update of a versioned row did not say which version it changes (HTTP 428)."""


class AuthenticationError(CoreError):
    """Who is asking cannot be established (no or bad credentials)."""


class PermissionDeniedError(CoreError):
    """The user is known but their role does not allow the action."""


class TransformError(CoreError):
    """A transformation cannot process its data (malformed file, rejections, a failing query)."""


class OrchestratorError(CoreError):
    """A run could not be started: the local runner failed to, or Airflow refused or was down."""


class LogUnavailableError(CoreError):
    """A task's log exists but cannot be read now (CloudWatch or Batch refused or is down)."""


class AlertError(CoreError):
    """A failure alert could not be delivered (SMTP server or webhook unreachable or refusing)."""


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """Return a ' Did you mean …?' hint for an unknown name, or ''.

    Args:
        value: the name that was not found.
        candidates: the names that exist.

    Returns:
        A sentence starting with a space, or an empty string when nothing is close.
    """
    close = difflib.get_close_matches(value, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
