"""What the contract suite asks of each cloud's fake.

A harness starts a stateful fake of one cloud's API at the HTTP layer (moto
for AWS; `responses`-served fakes for GCP and Azure), so that the provider's
real SDK calls run, and answers the suite's questions through that cloud's
own list APIs, never through the provider under test.
"""

from abc import ABC, abstractmethod


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
    def port_sources(self, cluster, port):
        """What the cluster's firewall rules let reach ``port``/tcp: address
        ranges, and the groups or tags that stand for the cluster's members."""

    def ssh_sources(self, cluster):
        return self.port_sources(cluster, 22)

    def swarm_port_sources(self, cluster):
        """Must name only the cluster's own members (a security group, a
        network tag, the VNet range), never 0.0.0.0/0."""
        return self.port_sources(cluster, 2377)

    def protocol_word(self, protocol):
        """The cloud's own spelling of ``protocol`` (tcp, udp) in its rules."""
        return protocol

    @abstractmethod
    def esp_sources(self, cluster):
        """What the cluster's rules let send ESP (IP protocol 50), read as the
        cloud spells it: the members only, like the swarm's ports."""

    @abstractmethod
    def tagged_resources(self, cluster):
        """Every resource still carrying the cluster's tag, of any kind."""

    @abstractmethod
    def fail_next(self, kind, times=1, after=0):
        """Make the next ``times`` machine-creating calls (after ``after``
        successful ones) fail with ``kind``: "throttle" (the cloud's rate-limit
        answer), "permission" (access denied) or "quota" (quota exceeded)."""

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
