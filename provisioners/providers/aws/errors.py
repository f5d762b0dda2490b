"""botocore's exceptions, turned into one sentence the user can act on.

Throttling never reaches here unless botocore's own retries ran out: the
client is built with a retry configuration, so no loop of ours repeats calls.
"""

import contextlib

from provisioners.providers.aws.consistency import IN_USE
from provisioners.providers.base import ProviderError

NO_CREDENTIALS = (
    "no AWS credentials were found: set AWS_PROFILE to a profile of ~/.aws/config, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (run `aws configure` to write them)."
)

DENIED = {
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
    "RequestExpired",
}
FORBIDDEN = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "OptInRequired"}
QUOTA = {
    "InstanceLimitExceeded",
    "VcpuLimitExceeded",
    "InsufficientInstanceCapacity",
    "VpcLimitExceeded",
    "AddressLimitExceeded",
    "SecurityGroupLimitExceeded",
    "RulesPerSecurityGroupLimitExceeded",
}
THROTTLED = {"RequestLimitExceeded", "Throttling", "ThrottlingException"}


def is_gone(err):
    """Whether a ClientError says its object no longer exists (or is detached)."""
    code = err.response.get("Error", {}).get("Code", "")
    return code.endswith(".NotFound") or code == "Gateway.NotAttached"


@contextlib.contextmanager
def aws_errors(doing, region):
    """Turn what botocore raises while ``doing`` into a ProviderError."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
        WaiterError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise ProviderError(NO_CREDENTIALS) from None
    except ProfileNotFound as err:
        raise ProviderError(
            f"the AWS profile '{err.kwargs['profile']}' is not in ~/.aws/config: set AWS_PROFILE to one "
            "that is, or unset it."
        ) from None
    except EndpointConnectionError:
        raise ProviderError(
            f"the AWS EC2 endpoint of region {region} did not answer while {doing}: check the network "
            "and aws.region in the spec."
        ) from None
    except WaiterError as err:
        raise ProviderError(
            f"waiting failed while {doing} ({_flat(str(err)).rstrip('.')}); see the EC2 console, then run "
            "the same command again."
        ) from None
    except ClientError as err:
        raise client_error(err, doing, region) from None
    except BotoCoreError as err:
        raise ProviderError(f"the AWS SDK failed while {doing}: {_flat(str(err))}.") from None


def client_error(err, doing, region):
    error = err.response.get("Error", {})
    code = error.get("Code", "")
    message = _flat(error.get("Message", ""))
    action = f"ec2:{err.operation_name}"
    if code in DENIED:
        return ProviderError(
            f"AWS did not accept the credentials while {doing} ({code}): check AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN."
        )
    if code in FORBIDDEN:
        return ProviderError(
            f"the AWS identity in use may not call {action} in {region} ({code}) while {doing}: allow it "
            "in IAM, or set AWS_PROFILE to an identity that may."
        )
    if code in QUOTA:
        return ProviderError(
            f"an AWS quota or capacity limit stopped {doing} ({code}: {message.rstrip('.')}); ask for a "
            "higher quota in the Service Quotas console, or for fewer or smaller machines."
        )
    if code == IN_USE:
        return ProviderError(
            f"EC2 still held a piece of the cluster's network in use after minutes of waiting, while {doing} "
            f"({code}: {message.rstrip('.')}); something outside Flotilla may use it (see the VPC console): "
            "free it, then run `flotilla down` again."
        )
    if code in THROTTLED:
        return ProviderError(
            f"AWS kept throttling {action} while {doing}, after the SDK's retries; wait a minute and run "
            "the same command again."
        )
    return ProviderError(f"AWS refused {action} while {doing} ({code}: {message.rstrip('.')}).")


def _flat(text):
    return " ".join(text.split())
