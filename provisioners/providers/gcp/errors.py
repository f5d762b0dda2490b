"""Which Compute Engine errors are retried, and how the others are told.

Only rate limiting is worth retrying: google-api-core's Retry does it with
backoff. A missing permission, a disabled API or an exhausted quota would
give the same answer again, so each becomes one ProviderError sentence
saying what to do. google-api-core is imported inside the functions: the
spec module imports this package only to read the options.
"""

import contextlib
import functools

from provisioners.providers.base import ProviderError

# Compute answers rate limiting with 403 and one of these reasons (429 is
# the newer form); quotas fail inside the operation, or at once with 403.
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
QUOTA_REASONS = {"QUOTA_EXCEEDED", "quotaExceeded"}
API_DISABLED_REASONS = {"accessNotConfigured", "SERVICE_DISABLED"}
RATE_LIMIT_TIMEOUT = 300

CREDENTIALS_HINT = (
    "point GOOGLE_APPLICATION_CREDENTIALS at a service-account key file, or run `gcloud auth application-default login`"
)


def reasons(error):
    """The machine-readable reasons and codes a Google API error carries."""
    found = {error.reason} if getattr(error, "reason", None) else set()
    for item in error.errors or ():
        # An HTTP answer lists dicts with a "reason"; a failed operation lists
        # its own error messages, with a "code".
        if isinstance(item, dict):
            found.add(item.get("reason") or item.get("code"))
        else:
            found.add(getattr(item, "code", None))
    return found - {None}


def is_rate_limited(error):
    from google.api_core import exceptions

    if isinstance(error, exceptions.TooManyRequests):
        return True
    return isinstance(error, exceptions.Forbidden) and bool(reasons(error) & RATE_LIMIT_REASONS)


@functools.cache
def rate_limit_retry():
    """The Retry passed to every Compute call."""
    from google.api_core import retry

    return retry.Retry(predicate=is_rate_limited, initial=1.0, maximum=32.0, multiplier=2.0, timeout=RATE_LIMIT_TIMEOUT)


@contextlib.contextmanager
def api_errors(project):
    """Turn what Compute and google-auth raise into one-sentence ProviderErrors."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    try:
        yield
    except exceptions.RetryError as err:
        raise ProviderError(
            f"GCP kept rate-limiting requests to project {project} for {RATE_LIMIT_TIMEOUT} s; "
            "wait a few minutes, then run the same command again."
        ) from err
    except exceptions.GoogleAPICallError as err:
        raise ProviderError(describe(err, project)) from err
    except auth_exceptions.RefreshError as err:
        raise ProviderError(f"Google refused the credentials found (expired or revoked?): {CREDENTIALS_HINT}.") from err
    except TimeoutError as err:
        raise ProviderError(
            f"a Compute Engine operation in project {project} did not finish in time; "
            "see the project's activity log, then run the same command again."
        ) from err


def describe(error, project):
    from google.api_core import exceptions

    found = reasons(error)
    message = _details(error)
    if found & QUOTA_REASONS:
        return (
            f"GCP quota exceeded in project {project} ({message}): request more quota under "
            "IAM & Admin > Quotas, or ask for fewer or smaller machines."
        )
    if found & API_DISABLED_REASONS:
        return (
            f"the Compute Engine API is off in project {project}: run "
            f"`gcloud services enable compute.googleapis.com --project {project}`."
        )
    if isinstance(error, exceptions.Unauthorized):
        return f"GCP did not accept the credentials ({message}): {CREDENTIALS_HINT}."
    if isinstance(error, exceptions.Forbidden | exceptions.PermissionDenied):
        return (
            f"GCP denied access in project {project} ({message}): grant the account the roles "
            "roles/compute.instanceAdmin.v1, roles/compute.networkAdmin and roles/compute.securityAdmin "
            "(README: Google Cloud permissions), then run the same command again."
        )
    return f"GCP answered {error.code} in project {project} ({message}); fix what it names and run again."


def _details(error):
    """What the error says, on one line: a failed operation's own messages
    say more than its HTTP status text."""
    messages = [
        item.get("message") if isinstance(item, dict) else getattr(item, "message", None) for item in error.errors or ()
    ]
    text = "; ".join(message for message in messages if message) or str(error.message)
    return " ".join(text.split()).rstrip(".")
