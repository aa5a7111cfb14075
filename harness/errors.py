"""Errors the harness reports to users as one clear line (no traceback), and exit statuses."""

EXIT_OK = 0
EXIT_ERROR = 2  # a GilbenchError: bad input, Docker unreachable, ...
EXIT_REGRESSION = 3  # nightly with --fail-on-regression: a plain regression was flagged
EXIT_LOCKED = 75  # another run holds the reports folder's lock (EX_TEMPFAIL: try again later)
EXIT_INTERRUPTED = 130  # Ctrl-C (what was measured is kept)


class GilbenchError(Exception):
    """Base class: the message is complete and names the file/field and what is expected."""


class ConfigError(GilbenchError):
    """A suite file, the compose registry or a command-line value is wrong."""


class BackendUnavailable(GilbenchError):
    """The execution backend cannot be used at all (e.g. Docker is not reachable)."""


class RuntimeUnavailable(GilbenchError):
    """One runtime cannot be built or run here; the message says exactly why (asv's
    EnvironmentUnavailable): the report shows it, the rest of the comparison goes on."""


class ImageBuildError(GilbenchError):
    """An image build failed; the message ends with the last lines of the build log."""


class Interrupted(GilbenchError):
    """Ctrl-C: what was measured is kept; the message says how to resume."""


class RunLocked(GilbenchError):
    """Another run holds the reports folder's lock; the message names its PID, host and run id."""
