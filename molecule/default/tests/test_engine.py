"""The engine as the common and engine roles leave it on a node."""

import json


def test_engine_package_is_installed(host):
    assert host.package("docker.io").is_installed


def test_engine_runs_now_and_at_boot(host):
    service = host.service("docker")
    assert service.is_enabled
    assert service.is_running


def test_daemon_configuration_rotates_logs(host):
    config = host.file("/etc/docker/daemon.json")
    assert config.user == "root"
    assert config.mode == 0o644
    settings = json.loads(config.content_string)
    assert settings["log-driver"] == "json-file"
    # The role defaults: dockerd wants both values as strings.
    assert settings["log-opts"] == {"max-size": "10m", "max-file": "3"}


def test_daemon_answers_with_its_configuration(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["ServerVersion"]
    assert info["LoggingDriver"] == "json-file"
    assert info["Swarm"]["LocalNodeState"] == "inactive"
