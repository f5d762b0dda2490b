"""A machine's three resources (public IP, NIC, VM) as ARM models, and the
Node that a listed VM is read back as.

Every machine gets a public IP: the operator's Ansible reaches each one over
SSH from outside the VNet, and the NSG limits port 22 to ``ssh_cidr``.
"""

from provisioners.providers.base import TAG_POOL, TAG_ROLE, Node


def public_ip(options, tags):
    from azure.mgmt.network.models import PublicIPAddress, PublicIPAddressSku

    # Standard SKU addresses are static: known as soon as the IP exists, and
    # kept across a VM's restarts, so the inventory stays right.
    return PublicIPAddress(
        location=options.location,
        tags=tags,
        sku=PublicIPAddressSku(name="Standard"),
        public_ip_allocation_method="Static",
    )


def nic(options, tags, layout, request):
    from azure.mgmt.network.models import (
        ApplicationSecurityGroup,
        NetworkInterface,
        NetworkInterfaceIPConfiguration,
        PublicIPAddress,
        Subnet,
    )

    ip_config = NetworkInterfaceIPConfiguration(
        name="primary",
        primary=True,
        subnet=Subnet(id=layout.subnet_id),
        private_ip_allocation_method="Dynamic",
        # Deleting the VM deletes its NIC, and the NIC's deletion this address.
        public_ip_address=PublicIPAddress(id=layout.public_ip_id(request.name), delete_option="Delete"),
    )
    if request.pool == "public":
        ip_config.application_security_groups = [ApplicationSecurityGroup(id=layout.public_asg_id)]
    return NetworkInterface(location=options.location, tags=tags, ip_configurations=[ip_config])


def virtual_machine(options, tags, layout, request, public_key):
    from azure.mgmt.compute.models import (
        HardwareProfile,
        ImageReference,
        LinuxConfiguration,
        ManagedDiskParameters,
        NetworkInterfaceReference,
        NetworkProfile,
        OSDisk,
        OSProfile,
        SshConfiguration,
        SshPublicKey,
        StorageProfile,
        VirtualMachine,
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
        network_profile=NetworkProfile(
            network_interfaces=[NetworkInterfaceReference(id=layout.nic_id(name), primary=True, delete_option="Delete")]
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
