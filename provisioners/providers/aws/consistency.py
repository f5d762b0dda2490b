"""EC2's eventual consistency, ridden out with a bounded backoff.

EC2 may not yet know a resource it has just created: the first describe,
authorize or attach naming it can answer NotFound (AWS's guide "Eventual
consistency in the Amazon EC2 API" names these cases), and botocore's retry
modes do not retry them. A VPC's parts stay in use for a while after its
machines are terminated (their network interfaces linger), and deleting them
answers DependencyViolation meanwhile. Both are waited out here, for a
bounded time, and only where they are expected.
"""

import time

# What EC2 answers for an id it does not know yet.
NOT_YET = {
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInstanceID.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidKeyPair.NotFound",
}
IN_USE = "DependencyViolation"
# Seconds between tries, doubled each time up to MAX_DELAY: about 30 s in all
# for a new id, and about 3 minutes for a network interface to go.
FIRST_DELAY = 1.0
MAX_DELAY = 8.0
NEW_ID_TRIES = 7
IN_USE_TRIES = 25


def eventually(call, **kwargs):
    """``call(**kwargs)``, tried again while EC2 does not know an id just created."""
    return _retried(call, NOT_YET, NEW_ID_TRIES, kwargs)


def once_freed(call, **kwargs):
    """``call(**kwargs)``, tried again while what it deletes is still in use."""
    return _retried(call, {IN_USE}, IN_USE_TRIES, kwargs)


def _retried(call, codes, tries, kwargs):
    from botocore.exceptions import ClientError

    delay = FIRST_DELAY
    for _ in range(tries - 1):
        try:
            return call(**kwargs)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in codes:
                raise
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
    return call(**kwargs)
