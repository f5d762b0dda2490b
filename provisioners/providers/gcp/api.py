"""The Compute Engine clients of one project, and waiting on their operations.

Clients are made on first use, so that neither compute_v1 (about 3 s to
import) nor the credential chain runs before a provider method needs them.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from provisioners.providers.base import ProviderError
from provisioners.providers.gcp.errors import CREDENTIALS_HINT, rate_limit_retry

COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute"
# Read-only, to read the organization policies that bind the project.
PROJECTS_READ_SCOPE = "https://www.googleapis.com/auth/cloudplatformprojects.readonly"
RESOURCE_MANAGER = "https://cloudresourcemanager.googleapis.com/v1"
OPERATION_TIMEOUT = 600
# At most this many requests or operations in flight at once: enough to
# overlap Compute's latency, few enough to stay clear of its rate limits.
PARALLEL = 8


class _ProjectComesFromTheSpec(logging.Filter):
    """google-auth warns, suggesting `gcloud config set project`, when the
    credentials name no project: Flotilla never needs one from them."""

    def filter(self, record):
        return not record.getMessage().startswith("No project ID could be determined")


_QUIET_ABOUT_PROJECT = _ProjectComesFromTheSpec()


class ComputeApi:
    def __init__(self, project):
        self.project = project
        self.parallel = PARALLEL
        self._credentials = None
        self._clients = {}

    def credentials(self):
        """Application Default Credentials, or one sentence on how to provide them."""
        if self._credentials is None:
            import google.auth
            from google.auth.exceptions import DefaultCredentialsError

            logging.getLogger("google.auth._default").addFilter(_QUIET_ABOUT_PROJECT)
            try:
                self._credentials, _ = google.auth.default(scopes=[COMPUTE_SCOPE, PROJECTS_READ_SCOPE])
            except DefaultCredentialsError:
                raise ProviderError(f"no Google Cloud credentials were found: {CREDENTIALS_HINT}.") from None
        return self._credentials

    def _client(self, name):
        if name not in self._clients:
            from google.cloud import compute_v1

            self._clients[name] = getattr(compute_v1, name)(credentials=self.credentials())
        return self._clients[name]

    @property
    def networks(self):
        return self._client("NetworksClient")

    @property
    def subnetworks(self):
        return self._client("SubnetworksClient")

    @property
    def firewalls(self):
        return self._client("FirewallsClient")

    @property
    def instances(self):
        return self._client("InstancesClient")

    @property
    def projects(self):
        return self._client("ProjectsClient")

    def enforced(self, constraint):
        """Whether an organization policy enforces the boolean ``constraint``
        on the project; None when the credentials may not read it."""
        from google.api_core import exceptions
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(self.credentials())
        url = f"{RESOURCE_MANAGER}/projects/{self.project}:getEffectiveOrgPolicy"
        response = session.post(url, json={"constraint": constraint})
        if response.status_code in (401, 403):
            return None
        if not response.ok:
            raise exceptions.from_http_response(response)
        return bool(response.json().get("booleanPolicy", {}).get("enforced"))

    @property
    def zone_operations(self):
        return self._client("ZoneOperationsClient")

    @property
    def retry(self):
        return rate_limit_retry()

    def if_exists(self, method, **request):
        """What ``method`` (a client's get or delete) returns for a resource of
        the project, or None when the resource is not there."""
        from google.api_core.exceptions import NotFound

        try:
            return method(project=self.project, retry=self.retry, **request)
        except NotFound:
            return None

    def run(self, starts, wait=True, missing_ok=False):
        """Start operations, at most ``parallel`` at a time, and return them.

        Each of ``starts`` starts one operation and returns it (or None);
        with ``wait`` each is also waited for (see ``wait``) before its place
        is given to the next. The first starts alone: a refusal that every request would
        meet (a missing permission, an unknown image) then costs one request.
        Like ``wait``, the first failure is raised once every one has ended.
        """
        if not starts:
            return []

        def finish(operation):
            if wait:
                self.wait([operation], missing_ok)
            return operation

        first = starts[0]()
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            futures = [pool.submit(finish, first)]
            futures += [pool.submit(lambda start=start: finish(start())) for start in starts[1:]]
        failures = [future.exception() for future in futures if future.exception() is not None]
        if failures:
            raise failures[0]
        return [future.result() for future in futures]

    def wait(self, operations, missing_ok=False):
        """Wait for every operation to finish, then raise the first one's error.

        None stands for an operation that was not needed (see ``if_exists``).

        Waiting for all, even after one failed, leaves nothing half-way for the
        clean-up that follows a failure to trip over. With ``missing_ok`` an
        operation on a resource that is already gone counts as done.
        """
        from google.api_core.exceptions import GoogleAPICallError, NotFound

        failures = []
        for operation in operations:
            if operation is None:
                continue
            try:
                operation.result(timeout=OPERATION_TIMEOUT, retry=self.retry)
            except GoogleAPICallError as err:
                if not (missing_ok and isinstance(err, NotFound)):
                    failures.append(err)
        if failures:
            raise failures[0]
