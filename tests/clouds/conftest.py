"""What the clouds' tests share."""

import pytest

from tests.clouds.aws_fake import Harness


@pytest.fixture
def aws(tmp_path, monkeypatch):
    """A fresh fake AWS account, and a directory of its own for the cluster files."""
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path))
    with Harness() as harness:
        yield harness
