"""A machine as one ARM model (the VM, its NIC and public IP defined inside
it), and the Node that a listed VM is read back as.

Every machine gets a public IP: the operator's Ansible reaches each one over
SSH from outside the VNet, and the NSG limits port 22 to ``ssh_cidr``.
"""

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import PUBLIC

from provisioners.providers.base import TAG_POOL, TAG_ROLE, Node

# The Microsoft.Network API version Compute uses to create the NIC and the
# public IP that the VM's networkInterfaceConfigurations define (the newest
# of the two Compute accepts).
NETWORK_API_VERSION = "2022-11-01"


def virtual_machine(options, tags, layout, request, public_key):
    from azure.mgmt.compute.models import (
        HardwareProfile,
        ImageReference,
        LinuxConfiguration,
        ManagedDiskParameters,
        NetworkProfile,
        OSDisk,
        OSProfile,
        PublicIPAddressSku,
        SshConfiguration,
        SshPublicKey,
        StorageProfile,
        SubResource,
        VirtualMachine,
        VirtualMachineNetworkInterfaceConfiguration,
        VirtualMachineNetworkInterfaceIPConfiguration,
        VirtualMachinePublicIPAddressConfiguration,
    )

    name = request.name
    return VirtualMachine(
        location=options.location,
        tags=tags,
        hardware_profile=HardwareProfile(vm_size=options.vm_size),
        storage_profile=StorageProfile(
            image_reference=ImageReference(**options.image_reference),
            os_disk=OSDisk(
                name=layout.os_disk(name),
                create_option="FromImage",
                managed_disk=ManagedDiskParameters(storage_account_type="StandardSSD_LRS"),
                delete_option="Delete",
            ),
        ),
        os_profile=OSProfile(
            computer_name=name,
            admin_username=options.ssh_user,
            linux_configuration=LinuxConfiguration(
                disable_password_authentication=True,
                ssh=SshConfiguration(
                    public_keys=[
                        SshPublicKey(path=f"/home/{options.ssh_user}/.ssh/authorized_keys", key_data=public_key)
                    ]
                ),
            ),
        ),
        # One PUT makes the VM, its NIC and its public IP; deleting the VM
        # deletes all three (and the OS disk), so nothing is left per machine.
        network_profile=NetworkProfile(
            network_api_version=NETWORK_API_VERSION,
            network_interface_configurations=[
                VirtualMachineNetworkInterfaceConfiguration(
                    name=layout.nic(name),
                    tags=tags,
                    primary=True,
                    delete_option="Delete",
                    ip_configurations=[
                        VirtualMachineNetworkInterfaceIPConfiguration(
                            name="primary",
                            primary=True,
                            subnet=SubResource(id=layout.subnet_id),
                            application_security_groups=(
                                [SubResource(id=layout.public_asg_id)] if request.pool == PUBLIC else None
                            ),
                            # Standard SKU addresses are static: known as soon as
                            # the VM exists, and kept across restarts, so the
                            # inventory stays right.
                            public_ip_address_configuration=VirtualMachinePublicIPAddressConfiguration(
                                name=layout.public_ip(name),
                                tags=tags,
                                sku=PublicIPAddressSku(name="Standard", tier="Regional"),
                                public_ip_allocation_method="Static",
                                delete_option="Delete",
                            ),
                        )
                    ],
                )
            ],
        ),
    )


def read_node(vm, nics, public_ips):
    """The Node a VM stands for; ``nics`` and ``public_ips`` map lower-cased IDs to models."""
    nic_id = next(
        (ref.id for ref in vm.network_profile.network_interfaces if ref.primary is not False),
        None,
    )
    private, public = "", ""
    nic_model = nics.get((nic_id or "").lower())
    if nic_model:
        ip_config = next((c for c in nic_model.ip_configurations if c.primary is not False), None)
        if ip_config:
            private = ip_config.private_ip_address or ""
            if ip_config.public_ip_address:
                address = public_ips.get(ip_config.public_ip_address.id.lower())
                public = (address.ip_address if address else None) or ""
    return Node(
        name=vm.name,
        role=vm.tags[TAG_ROLE],
        pool=vm.tags[TAG_POOL],
        address=public or private,
        private_address=private,
        state=machine_state(vm),
    )


def machine_state(vm):
    """Azure's provisioning state until it has succeeded, then the power state ("running", "deallocated", ...)."""
    provisioning = (vm.provisioning_state or "unknown").lower()
    statuses = vm.instance_view.statuses if vm.instance_view else None
    power = [s.code.split("/", 1)[1] for s in statuses or [] if (s.code or "").startswith("PowerState/")]
    if provisioning != "succeeded" or not power:
        return provisioning
    return power[0]
