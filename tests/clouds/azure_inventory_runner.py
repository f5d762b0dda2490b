"""The real azure.azcollection.azure_rm inventory plugin on a sample file, against the Azure fake.

    python -m tests.clouds.azure_inventory_runner ACCOUNT_FILE SAMPLE_FILE

Prints, as JSON, the groups (hosts and children) and the variables of each
host that the plugin made. It runs in a process of its own because Ansible's
collection loader is installed for good once a plugin is loaded.

Everything of the plugin runs (its option parsing, its batched ARM reads
through azure-core, its host variables, filters, compose and keyed groups)
except AzureRMAuth: that class needs azure-cli-core's table of clouds and the
collection's ~50 pinned Azure SDKs, whose versions conflict with this
project's pins. Its stand-in hands the plugin what AzureRMAuth would have
made: a service principal's credential, the subscription, ARM's endpoint.
"""

import json
import sys
import types

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

from tests.clouds import cli_runner
from tests.clouds.azure_fake import ARM, CREDENTIALS, SUBSCRIPTION, Harness


def _credential_setup(self):
    """What the plugin's own _credential_setup leaves behind, made without AzureRMAuth."""
    from azure.identity import ClientSecretCredential

    module = sys.modules[type(self).__module__]
    credential = ClientSecretCredential(
        CREDENTIALS["AZURE_TENANT_ID"], CREDENTIALS["AZURE_CLIENT_ID"], CREDENTIALS["AZURE_CLIENT_SECRET"]
    )
    cloud = types.SimpleNamespace(endpoints=types.SimpleNamespace(resource_manager=ARM))
    self.azure_auth = types.SimpleNamespace(
        subscription_id=SUBSCRIPTION, azure_credential_track2=credential, _cloud_environment=cloud
    )
    self._clientconfig = module.AzureRMRestConfiguration(credential, SUBSCRIPTION, ARM)
    self.new_client = module.PipelineClient(ARM, config=self._clientconfig)


def main(account, sample):
    with Harness() as harness:
        cli_runner.load("azure", harness.fake, account)
        init_plugin_loader()
        plugin = inventory_loader.get("azure.azcollection.azure_rm")
        type(plugin)._credential_setup = _credential_setup
        inventory = InventoryData()
        plugin.parse(inventory, DataLoader(), sample, cache=False)
        groups = {
            name: {
                "hosts": sorted(host.name for host in group.hosts),
                "children": sorted(child.name for child in group.child_groups),
            }
            for name, group in inventory.groups.items()
        }
        hostvars = {name: inventory.get_host(name).get_vars() for name in inventory.hosts}
    print(json.dumps({"groups": groups, "hostvars": hostvars}, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
