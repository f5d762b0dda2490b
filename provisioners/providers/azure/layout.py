"""What each of a cluster's Azure resources is called, and its ARM ID.

Names are derived from the cluster's and the machine's names alone, so that a
re-run (or `down` from another checkout) finds the same resources without any
local state.
"""

from dataclasses import dataclass

SUBNET = "nodes"


@dataclass(frozen=True)
class Layout:
    subscription_id: str
    cluster: str

    @property
    def group(self):
        """One resource group per cluster: deleting it deletes everything the cluster had."""
        return f"flotilla-{self.cluster}"

    @property
    def vnet(self):
        return f"flotilla-{self.cluster}-vnet"

    @property
    def nsg(self):
        return f"flotilla-{self.cluster}-nsg"

    @property
    def public_asg(self):
        """The application security group of public agents' NICs: the Internet reaches only it."""
        return f"flotilla-{self.cluster}-public"

    @staticmethod
    def nic(machine):
        """The name of the VM's network interface configuration, and of the NIC Compute makes from it."""
        return f"{machine}-nic"

    @staticmethod
    def public_ip(machine):
        return f"{machine}-ip"

    @staticmethod
    def os_disk(machine):
        return f"{machine}-osdisk"

    def id(self, provider_type, name):
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.group}/providers/{provider_type}/{name}"

    @property
    def subnet_id(self):
        return self.id("Microsoft.Network/virtualNetworks", f"{self.vnet}/subnets/{SUBNET}")

    @property
    def nsg_id(self):
        return self.id("Microsoft.Network/networkSecurityGroups", self.nsg)

    @property
    def public_asg_id(self):
        return self.id("Microsoft.Network/applicationSecurityGroups", self.public_asg)
