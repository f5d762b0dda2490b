"""Azure's failures, as the one sentence a user can act on.

The SDK's own retry policy has already retried what is worth retrying
(throttling answered with 429 and Retry-After, 5xx) by the time an exception
reaches this module; what arrives here is final.
"""

import contextlib

from provisioners.providers.base import ProviderError

CREDENTIALS_HINT = (
    "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal, or sign in with `az login`"
)


@contextlib.contextmanager
def translated(action, options):
    """Run SDK calls that do ``action``; their errors leave as ProviderError."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    try:
        yield
    except ClientAuthenticationError:
        # Checked first: it is an HttpResponseError too, and its text lists
        # every credential tried, on many lines.
        raise ProviderError(f"Azure did not accept the credentials while {action}: {CREDENTIALS_HINT}.") from None
    except HttpResponseError as err:
        raise ProviderError(describe(err, action, options)) from None
    except ServiceRequestError as err:
        raise ProviderError(
            f"Azure Resource Manager could not be reached while {action} ({_one_line(err)}): "
            "check this machine's network and proxy settings."
        ) from None


def describe(err, action, options):
    code = err.error.code if err.error else None
    message = (err.error.message if err.error else None) or err.message or ""
    if code in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
        return (
            f"Azure denied {action} (AuthorizationFailed): give the identity in use the Contributor role, or "
            f"the actions the README lists under 'Azure permissions', on subscription {options.subscription_id}, "
            "then run again."
        )
    if code == "QuotaExceeded" or (code == "OperationNotAllowed" and "quota" in message.lower()):
        return (
            f"Azure refused {action} because it would exceed a quota in {options.location}: ask fewer "
            "or smaller machines, or request a quota increase (portal: Subscriptions, Usage + quotas)."
        )
    return f"Azure refused {action} ({code or err.status_code}): {_one_line(message)}"


def _one_line(text):
    return " ".join(str(text).split()).rstrip(".") + "."
