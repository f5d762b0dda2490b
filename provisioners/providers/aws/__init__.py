"""The AWS provider: EC2 instances in a VPC of the cluster's own.

Every instance, volume and network piece carries the cluster's tags, and
everything is found again through them; nothing is remembered locally.
boto3 takes a second to import, so it is imported on first use only.
"""

import dataclasses
import logging
import math
import uuid

from provisioners.progress import Progress
from provisioners.providers.aws.caller import caller_cidr
from provisioners.providers.aws.consistency import eventually
from provisioners.providers.aws.errors import NO_CREDENTIALS, aws_errors
from provisioners.providers.aws.inventory import aws_ec2_inventory
from provisioners.providers.aws.network import Network
from provisioners.providers.aws.options import AwsOptions
from provisioners.providers.base import TAG_POOL, TAG_ROLE, Node, Provider, ProviderError

log = logging.getLogger(__name__)

# The official Debian images: https://wiki.debian.org/Cloud/AmazonEC2Image
DEBIAN_OWNER = "136693071363"
DEBIAN_IMAGES = "debian-12-amd64-*"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
# botocore's standard mode retries throttling and transient errors, with
# backoff and a retry budget; 8 attempts ride out a burst at 100 machines.
MAX_ATTEMPTS = 8
POLL_SECONDS = 5
WAIT_TIMEOUT = 600
WAIT_BATCH = 10
# Launches in flight at once: a hundred machines in a tenth of the time,
# well within EC2's request rate for RunInstances.
LAUNCHES_AT_ONCE = 10
# Instances answer their metadata (and role credentials) only to a token
# obtained by PUT (IMDSv2), which a forged GET through a proxied request
# cannot get; the default hop limit of 1 keeps the token from containers.
METADATA_OPTIONS = {"HttpTokens": "required", "HttpEndpoint": "enabled"}


class AwsProvider(Provider):
    Options = AwsOptions
    location_options = ("region",)

    def __init__(self, spec, options, public_key):
        super().__init__(spec, options, public_key)
        self._session = None
        self._ec2 = None
        self._shared = None
        self._image = None

    @property
    def ssh_user(self):
        return self.options.ssh_user

    @property
    def region(self):
        return self.options.region

    @property
    def session(self):
        if self._session is None:
            import boto3

            # A session of our own: the default one is shared process-wide.
            self._session = boto3.session.Session()
        return self._session

    @property
    def ec2(self):
        if self._ec2 is None:
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})
            self._ec2 = self.session.client("ec2", region_name=self.region, config=config)
        return self._ec2

    @property
    def network(self):
        return Network(self.ec2, self.cluster)

    def _errors(self, doing):
        return aws_errors(doing, self.region)

    def check(self):
        with self._errors("checking the AWS credentials"):
            if self.session.get_credentials() is None:
                raise ProviderError(NO_CREDENTIALS)
            partitions = self.session.get_available_partitions()
            if not any(self.region in self.session.get_available_regions("ec2", p) for p in partitions):
                raise ProviderError(
                    f"aws.region {self.region} is not an EC2 region this boto3 knows: correct it in the spec, "
                    "or upgrade boto3 if the region is new."
                )
            # The cheapest call that proves the credentials before anything is made.
            self.ec2.describe_regions(RegionNames=[self.region])

    def prepare(self):
        with self._errors("checking the image and instance type"):
            self._image = self._known_image() if self.options.image else self._newest_debian()
            zones = self._zones()
        with self._errors("preparing the network"):
            self._shared = self.network.ensure(
                self.options, zones, self.options.ssh_cidr, self.public_key, resolve_ssh_cidr=caller_cidr
            )
        # The SSH range is settled once: the saved spec keeps it, so that a
        # later run from another address (CI, home) does not move it.
        if self.options.ssh_cidr is None and len(self._shared.ssh_cidrs) == 1:
            self.options = dataclasses.replace(self.options, ssh_cidr=next(iter(self._shared.ssh_cidrs)))
            self.spec = dataclasses.replace(self.spec, options=self.options)

    def _known_image(self):
        """The spec's image, once EC2 says it has it here: a bad one found
        after the network is made would cost a network made for nothing."""
        from botocore.exceptions import ClientError

        image = self.options.image
        try:
            found = self.ec2.describe_images(ImageIds=[image])["Images"]
        except ClientError as err:
            if not err.response["Error"]["Code"].startswith("InvalidAMIID"):
                raise
            found = []
        if not found:
            raise ProviderError(
                f"aws.image {image} is not an image EC2 has in {self.region}: set aws.image to an AMI id "
                "of that region, or leave it out for the newest official Debian 12 image."
            )
        return image

    def _zones(self):
        """The zones the subnet may be in: those of the region offering the
        instance type (not every zone offers every type), or the spec's one."""
        kind, zone = self.options.instance_type, self.options.zone
        offerings = self.ec2.describe_instance_type_offerings(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [kind]}]
        )["InstanceTypeOfferings"]
        offered = {offering["Location"] for offering in offerings}
        if not offered:
            raise ProviderError(
                f"aws.instance_type {kind} is not an instance type EC2 offers in {self.region}: "
                "set aws.instance_type to one it does, such as t3.medium."
            )
        if zone is None:
            return offered
        if zone not in offered:
            raise ProviderError(
                f"aws.zone {zone} does not offer {kind}: set aws.zone to one that does "
                f"({', '.join(sorted(offered))}), or leave it out for Flotilla to choose."
            )
        return {zone}

    def _newest_debian(self):
        images = self.ec2.describe_images(
            Owners=[DEBIAN_OWNER],
            Filters=[
                {"Name": "name", "Values": [DEBIAN_IMAGES]},
                {"Name": "architecture", "Values": ["x86_64"]},
                {"Name": "state", "Values": ["available"]},
            ],
        )["Images"]
        if not images:
            raise ProviderError(
                f"no official Debian 12 image ({DEBIAN_IMAGES} of owner {DEBIAN_OWNER}) is available in "
                f"{self.region}: set aws.image to an AMI id of that region."
            )
        return max(images, key=lambda image: image["CreationDate"])["ImageId"]

    def list_nodes(self):
        with self._errors("listing the machines"):
            return sorted((_node(instance) for instance in self._instances()), key=lambda node: node.name)

    def _instances(self):
        filters = [*self.network.filters(), {"Name": "instance-state-name", "Values": LIVE_STATES}]
        pages = self.ec2.get_paginator("describe_instances").paginate(Filters=filters)
        return [i for page in pages for reservation in page["Reservations"] for i in reservation["Instances"]]

    def create_nodes(self, requests):
        """One machine per run_instances call, so that each is named as it is
        launched; on a failure, the machines launched are terminated by the
        ids EC2 answered (a tag-filtered list may not show them yet)."""
        with self._errors("creating the machines"):
            launched, error = self._launch_all(requests)
            try:
                if error is not None:
                    raise error
                self._wait(launched, "instance_running", "machines ready")
            except Exception:
                if launched:
                    self._terminate_launched(launched)
                raise

    def _launch_all(self, requests):
        """The ids launched, in the order asked, and the first error. The
        first machine goes alone: a refusal (permission, quota, a bad value)
        comes once, before the rest go LAUNCHES_AT_ONCE at a time."""
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        try:
            launched = [self._launch(requests[0])]
        except Exception as err:
            return [], err
        with ThreadPoolExecutor(LAUNCHES_AT_ONCE) as pool:
            futures = [pool.submit(self._launch, request) for request in requests[1:]]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.cancel()
        done = [future for future in futures if not future.cancelled()]
        launched += [future.result() for future in done if future.exception() is None]
        errors = [future.exception() for future in done if future.exception() is not None]
        return launched, errors[0] if errors else None

    def _terminate_launched(self, instance_ids):
        try:
            with self._errors("removing the machines this run launched"):
                self._terminate(instance_ids)
        except ProviderError as err:
            log.warning("%s; `flotilla down` deletes them", err)

    def _launch(self, request):
        shared = self._shared
        public = request.pool == "public"
        tags = [{"Key": k, "Value": v} for k, v in {**request.tags(self.cluster), "Name": request.name}.items()]
        response = eventually(
            self.ec2.run_instances,
            # botocore retries a timed-out call with the same arguments: the
            # token makes EC2 answer the retry instead of launching again.
            ClientToken=str(uuid.uuid4()),
            ImageId=self._image,
            InstanceType=self.options.instance_type,
            KeyName=shared.key_name,
            MinCount=1,
            MaxCount=1,
            MetadataOptions=METADATA_OPTIONS,
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": shared.subnet_id,
                    "Groups": [shared.group_id, *([shared.public_group_id] if public else [])],
                    "AssociatePublicIpAddress": True,
                    "DeleteOnTermination": True,
                }
            ],
            TagSpecifications=[
                {"ResourceType": kind, "Tags": tags} for kind in ("instance", "volume", "network-interface")
            ],
        )
        return response["Instances"][0]["InstanceId"]

    def _wait(self, instance_ids, waiter_name, what):
        waiter = self.ec2.get_waiter(waiter_name)
        config = {"Delay": POLL_SECONDS, "MaxAttempts": math.ceil(WAIT_TIMEOUT / POLL_SECONDS)}
        progress = Progress(what, len(instance_ids))
        try:
            # In tens: the count moves on a terminal, and a hundred machines
            # cost about ten describe calls once they are ready.
            for start in range(0, len(instance_ids), WAIT_BATCH):
                waiter.wait(InstanceIds=instance_ids[start : start + WAIT_BATCH], WaiterConfig=config)
                progress.update(min(start + WAIT_BATCH, len(instance_ids)))
        finally:
            progress.close()

    def delete_nodes(self, names):
        wanted = set(names)
        with self._errors("deleting the machines"):
            doomed = [i["InstanceId"] for i in self._instances() if _node(i).name in wanted]
            if doomed:
                self._terminate(doomed)

    def _terminate(self, instance_ids):
        eventually(self.ec2.terminate_instances, InstanceIds=instance_ids)
        self._wait(instance_ids, "instance_terminated", "machines deleted")

    def cleanup(self):
        with self._errors("deleting the network"):
            self.network.delete()

    def dynamic_inventory(self):
        return aws_ec2_inventory(self.cluster, self.region, self.ssh_user)


def _node(instance):
    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
    private = instance.get("PrivateIpAddress", "")
    return Node(
        # Named at launch; a machine given the cluster's tags by hand but no
        # Name is still counted, reached and deleted, by its id.
        name=tags.get("Name", instance["InstanceId"]),
        role=tags[TAG_ROLE],
        pool=tags[TAG_POOL],
        address=instance.get("PublicIpAddress") or private,
        private_address=private,
        state=instance["State"]["Name"],
    )
