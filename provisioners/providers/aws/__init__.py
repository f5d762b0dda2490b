"""The AWS provider: EC2 instances in a VPC of the cluster's own.

Every instance, volume and network piece carries the cluster's tags, and
everything is found again through them; nothing is remembered locally.
boto3 takes a second to import, so it is imported on first use only.
"""

import math
import uuid

from provisioners.progress import Progress
from provisioners.providers.aws.caller import caller_cidr
from provisioners.providers.aws.errors import NO_CREDENTIALS, aws_errors
from provisioners.providers.aws.inventory import aws_ec2_inventory
from provisioners.providers.aws.network import Network
from provisioners.providers.aws.options import AwsOptions
from provisioners.providers.base import TAG_POOL, TAG_ROLE, Node, Provider, ProviderError

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
        ssh_cidr = self.options.ssh_cidr or caller_cidr()
        with self._errors("checking the image and instance type"):
            self._image = self._known_image() if self.options.image else self._newest_debian()
            self._check_instance_type()
        with self._errors("preparing the network"):
            self._shared = self.network.ensure(self.options, ssh_cidr, self.public_key)

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

    def _check_instance_type(self):
        from botocore.exceptions import ClientError

        kind = self.options.instance_type
        try:
            self.ec2.describe_instance_types(InstanceTypes=[kind])
        except ClientError as err:
            if err.response["Error"]["Code"] != "InvalidInstanceType":
                raise
            raise ProviderError(
                f"aws.instance_type {kind} is not an instance type EC2 offers in {self.region}: "
                "set aws.instance_type to one it does, such as t3.medium."
            ) from None

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
        groups = {}
        for request in requests:
            groups.setdefault((request.role, request.pool), []).append(request)
        with self._errors("creating the machines"):
            launched = []
            for group in groups.values():
                launched += self._launch(group)
            self._wait(launched, "instance_running", "machines ready")

    def _launch(self, requests):
        """One run_instances call for machines of one role and pool; names follow in launch order."""
        shared = self._shared
        public = requests[0].pool == "public"
        tags = [{"Key": k, "Value": v} for k, v in requests[0].tags(self.cluster).items()]
        response = self.ec2.run_instances(
            # botocore retries a timed-out call with the same arguments: the
            # token makes EC2 answer the retry instead of launching again.
            ClientToken=str(uuid.uuid4()),
            ImageId=self._image,
            InstanceType=self.options.instance_type,
            KeyName=shared.key_name,
            MinCount=len(requests),
            MaxCount=len(requests),
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": shared.subnet_id,
                    "Groups": [shared.group_id, *([shared.public_group_id] if public else [])],
                    "AssociatePublicIpAddress": True,
                    "DeleteOnTermination": True,
                }
            ],
            TagSpecifications=[{"ResourceType": kind, "Tags": tags} for kind in ("instance", "volume")],
        )
        instances = sorted(response["Instances"], key=lambda instance: instance["AmiLaunchIndex"])
        for instance, request in zip(instances, requests, strict=True):
            self.ec2.create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "Name", "Value": request.name}])
        return [instance["InstanceId"] for instance in instances]

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
                self.ec2.terminate_instances(InstanceIds=doomed)
                self._wait(doomed, "instance_terminated", "machines deleted")

    def cleanup(self):
        with self._errors("deleting the network"):
            self.network.delete()

    def dynamic_inventory(self):
        return aws_ec2_inventory(self.cluster, self.region, self.ssh_user)


def _node(instance):
    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
    private = instance.get("PrivateIpAddress", "")
    return Node(
        # Named right after launch; a run killed in between leaves the id,
        # which still lets the machine be counted, reached and deleted.
        name=tags.get("Name", instance["InstanceId"]),
        role=tags[TAG_ROLE],
        pool=tags[TAG_POOL],
        address=instance.get("PublicIpAddress") or private,
        private_address=private,
        state=instance["State"]["Name"],
    )
