"""`flotilla` in a process of its own, against the GCP or Azure fake.

Those fakes are `responses` mocks, which live inside one Python process: a
plain `flotilla` subprocess would reach the real clouds instead. This runner
starts the fake in its own process, loads the account as the previous
command left it, runs the real CLI (`provisioners.cli.main`: its parsing,
output and exit code are the user's) and saves the account again, for the
next command and for the test to read through the fake's list APIs.

    python -m tests.clouds.cli_runner gcp|azure ACCOUNT_FILE flotilla-arguments...
"""

import importlib
import itertools
import pickle
import sys
from pathlib import Path

from provisioners import cli

# What each fake keeps of an account: plain data, no pending operation.
ACCOUNT = {"gcp": ("resources", "operations", "_by_request_id"), "azure": ("groups", "resources")}


def save(cloud, fake, path):
    account = {name: getattr(fake, name) for name in ACCOUNT[cloud]}
    if cloud == "gcp":
        account["next_id"] = next(fake._ids)
    Path(path).write_bytes(pickle.dumps(account))


def load(cloud, fake, path):
    """Give ``fake`` the account saved in ``path``, if any."""
    if not Path(path).exists():
        return
    account = pickle.loads(Path(path).read_bytes())
    for name in ACCOUNT[cloud]:
        setattr(fake, name, account[name])
    # Addresses in use stay taken, as the cloud would keep them.
    if cloud == "gcp":
        fake._ids = itertools.count(account["next_id"])
        used = {
            config.get("natIP")
            for (kind, _, _), resource in fake.resources.items()
            if kind == "instances"
            for interface in resource.get("networkInterfaces", ())
            for config in interface.get("accessConfigs", ())
        }
        fake._external = (a for a in fake._external if str(a) not in used)
    else:
        used = {r["properties"].get("ipAddress") for r in fake.resources.values() if "properties" in r}
        fake.addresses = (a for a in fake.addresses if a not in used)


def main(cloud, path, *arguments):
    harness = importlib.import_module(f"tests.clouds.{cloud}_fake").Harness()
    with harness:
        load(cloud, harness.fake, path)
        try:
            cli.main(args=list(arguments), prog_name="flotilla")
        finally:
            save(cloud, harness.fake, path)


if __name__ == "__main__":
    main(*sys.argv[1:])
