"""What the clouds' tests share: a fresh fake account of each cloud."""

import importlib

import pytest


def _account(cloud, tmp_path, monkeypatch):
    """A fresh fake account of ``cloud``, and a directory of its own for the cluster files."""
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path))
    with importlib.import_module(f"tests.clouds.{cloud}_fake").Harness() as harness:
        yield harness


@pytest.fixture
def aws(tmp_path, monkeypatch):
    yield from _account("aws", tmp_path, monkeypatch)


@pytest.fixture
def gcp(tmp_path, monkeypatch):
    yield from _account("gcp", tmp_path, monkeypatch)


@pytest.fixture
def azure(tmp_path, monkeypatch):
    yield from _account("azure", tmp_path, monkeypatch)
