"""The credential and the ARM clients of one provider, each made on first use.

Importing the SDKs takes a while, and `flotilla --help` or another provider
must not pay for it: every import here happens inside a method.
"""

import functools
import logging

ARM_SCOPE = "https://management.azure.com/.default"

# ARM answers throttling with 429 and a Retry-After, which azure-core's retry
# policy honours whatever these say; the backoff below paces only retries of
# answers without one (5xx, dropped connections). Eight retries, backing off
# up to a minute, ride out a short ARM incident without hanging for long.
RETRY = {"retry_total": 8, "retry_backoff_factor": 1.0, "retry_backoff_max": 60}


class AzureClients:
    def __init__(self, options):
        self.options = options

    @functools.cached_property
    def credential(self):
        # The chain finds a service principal in AZURE_* variables, a managed
        # identity, or an `az login` session, in that order.
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()

    def authenticate(self):
        """Get a token now, so that missing credentials stop a run before it creates anything."""
        # When the chain finds nothing it logs every credential it tried, over
        # a dozen lines; the caller reports that in one sentence instead.
        identity_log = logging.getLogger("azure.identity")
        level = identity_log.level
        identity_log.setLevel(logging.ERROR)
        try:
            self.credential.get_token(ARM_SCOPE)
        finally:
            identity_log.setLevel(level)

    @functools.cached_property
    def resources(self):
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self.credential, self.options.subscription_id, **self._settings())

    @functools.cached_property
    def network(self):
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient(self.credential, self.options.subscription_id, **self._settings())

    @functools.cached_property
    def compute(self):
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient(self.credential, self.options.subscription_id, **self._settings())

    def _settings(self):
        settings = dict(RETRY)
        if self.options.polling_interval is not None:
            settings["polling_interval"] = self.options.polling_interval
        return settings
