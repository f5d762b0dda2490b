"""What the contract suite asks of each cloud's fake.

A harness starts a stateful fake of one cloud's API at the HTTP layer (moto
for AWS; `responses`-served fakes for GCP and Azure), so that the provider's
real SDK calls run, and answers the suite's questions through that cloud's
own list APIs, never through the provider under test.
"""

from abc import ABC, abstractmethod

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import PUBLIC, TAG_POOL

# The words `openings` reads a cloud's rules into, the same for every cloud.
MEMBERS = "members"  # every machine of the cluster, and nothing else
PUBLIC_AGENTS = "public agents"  # exactly the cluster's public agents
WORLD = "world"  # any address on the Internet
ALL_PORTS = "*"  # a tcp or udp rule that names no port opens them all
EVERY_PROTOCOL = "all"


class Interrupted(BaseException):
    """Raised by a fake mid-way to stand for a killed `flotilla` process.

    A BaseException, like KeyboardInterrupt, so that no SDK retry or
    provider clean-up treats it as an ordinary API error.
    """


class CloudHarness(ABC):
    #: the provider's name in the spec
    provider = None

    def __enter__(self):
        """Start the fake (and any credentials the SDK needs to find)."""
        return self

    def __exit__(self, *exc):  # noqa: B027 - a fake with nothing to stop keeps this
        """Stop the fake; nothing of it outlives the test."""

    @abstractmethod
    def options(self):
        """The provider's section of the spec, for this fake."""

    @abstractmethod
    def machines(self, cluster):
        """The cluster's machines that are not terminated, through the cloud's list API:
        a list of dicts with keys name, state (the cloud's word for running is
        normalised to "running"), tags (dict), address (the address SSH uses)."""

    @abstractmethod
    def networks(self, cluster):
        """Names (or IDs) of the cluster's networks (VPC / network / VNet)."""

    @abstractmethod
    def openings(self, cluster):
        """Everything the cluster's inbound allow rules open, read from the
        cloud's list APIs and told in one spelling for every cloud: a set of
        (protocol, port, source, target). protocol is tcp, udp, esp, an IP
        protocol number or EVERY_PROTOCOL; port a number, None for a protocol
        without ports, or ALL_PORTS; source and target an address range, WORLD,
        or (through ``who``) MEMBERS, PUBLIC_AGENTS or the machines' names."""

    @staticmethod
    def who(machines, names):
        """What a set of machine names stands for among the cluster's ``machines``."""
        names = frozenset(names)
        if names == {m["name"] for m in machines}:
            return MEMBERS
        if names == {m["name"] for m in machines if m["tags"].get(TAG_POOL) == PUBLIC}:
            return PUBLIC_AGENTS
        return tuple(sorted(names))

    @abstractmethod
    def tagged_resources(self, cluster):
        """Every resource still carrying the cluster's tag, of any kind."""

    @abstractmethod
    def fail_next(self, kind, times=1, after=0):
        """Make the next ``times`` machine-creating calls (after ``after``
        successful ones) fail with ``kind``: "throttle" (the cloud's rate-limit
        answer), "permission" (access denied) or "quota" (quota exceeded)."""

    @abstractmethod
    def keep_next_deletion(self):
        """Answer the next machine deletion as done, and keep the machine."""

    @abstractmethod
    def interrupt_after(self, creates):
        """Raise Interrupted on the machine-creating call after ``creates`` calls."""

    # The counters below read a REST fake's own (``self.fake``); a harness
    # that counts elsewhere overrides them.

    @property
    def failed_calls(self):
        """How many requests the fake answered with an injected failure."""
        return self.fake.failed_calls

    @abstractmethod
    def without_credentials(self):
        """A context in which the SDK's credential chain finds nothing."""

    @property
    def mutating_calls(self):
        """How many create/delete/update requests reached the fake so far."""
        return self.fake.mutating_calls

    @property
    def total_calls(self):
        """How many requests of any kind (reads, writes, retries, polls,
        injected failures) reached the fake; bench/cloud_scale.py reads it."""
        return self.fake.total_calls


def ports_between(protocol, low, high):
    """One (protocol, port) per port of a rule's range; ALL_PORTS for the whole range."""
    if low is None or (low, high) in ((-1, -1), (0, 65535), (1, 65535)):
        return [(protocol, ALL_PORTS)]
    return [(protocol, port) for port in range(int(low), int(high) + 1)]
