"""The two ways a step ends badly, each with its exit code. Messages are single lines for humans."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class JobError(Exception):
    """A step ended without success; the message says why and what to do."""

    exit_code = EXIT_FAILED


class UsageError(JobError):
    """Missing or malformed input: environment, options, files. Retrying will not help."""

    exit_code = EXIT_USAGE


class StepFailed(JobError):
    """The step could not be done or refused to: unreachable database or destination, a mismatch."""
