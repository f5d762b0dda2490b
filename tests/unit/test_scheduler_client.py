"""The CLI's scheduler client asks the next master only when that is safe.

Two real HTTPS routers on loopback, each scripted to answer as nginx or as
the scheduler would; every assertion reads which router was asked what.
"""

import datetime
import http.server
import ipaddress
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioners import apps
from provisioners.apps import APIError, SchedulerAPI, credentials_dir
from provisioners.errors import FlotillaError
from provisioners.providers.baremetal import read_inventory

NGINX_502 = (502, "text/html", b"<html><center><h1>502 Bad Gateway</h1></center></html>")
NGINX_504 = (504, "text/html", b"<html><center><h1>504 Gateway Time-out</h1></center></html>")
SWARM_REFUSED = (502, "application/json", b'{"error": "the swarm refused: name conflicts with an existing object"}')
OK = (200, "application/json", b'{"apps": []}')
NO_SUCH_APP = (404, "application/json", b'{"error": "no app web"}')
SILENT = None  # takes the request and never answers


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, which is also the client's CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    (directory / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return directory


class Router:
    """One master's router: answers every request with ``answer`` (or with
    ``answer[method]``), and keeps what it was asked."""

    def __init__(self, tls, answer):
        self.asked = []
        router = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self):
                router.asked.append(self.command)
                if answer is SILENT:
                    time.sleep(2)
                    return
                status, kind, body = answer[self.command] if isinstance(answer, dict) else answer
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _reply

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "ca.pem", tls / "key.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def routers(tls):
    made = []

    def make(*answers):
        these = [Router(tls, answer) for answer in answers]
        made.extend(these)
        return SchedulerAPI([router.url for router in these], tls / "ca.pem", "token", timeout=0.5), these

    yield make
    for router in made:
        router.close()


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{probe.getsockname()[1]}"


def test_a_router_whose_scheduler_is_down_sends_every_method_to_the_next_master(routers):
    for method in ("GET", "PUT", "POST", "DELETE"):
        api, (down, up) = routers(NGINX_502, OK)
        assert api.call(method, "/v1/apps") == {"apps": []}
        assert (down.asked, up.asked) == ([method], [method])


def test_the_schedulers_own_refusal_is_said_once_every_master_refuses(routers):
    api, (refusing, also_refusing) = routers(SWARM_REFUSED, SWARM_REFUSED)
    with pytest.raises(APIError, match="^the swarm refused: name conflicts with an existing object$"):
        api.call("PUT", "/v1/apps/flotilla-edge", {"id": "flotilla-edge"})
    assert (refusing.asked, also_refusing.asked) == (["PUT"], ["PUT"])

    # Another master's swarm may answer (a leader elected meanwhile).
    api, (refusing, answering) = routers(SWARM_REFUSED, OK)
    assert api.call("GET", "/v1/apps") == {"apps": []}
    assert (refusing.asked, answering.asked) == (["GET"], ["GET"])


def test_a_refused_rollback_is_not_sent_to_another_master(routers):
    api, (refusing, other) = routers(SWARM_REFUSED, OK)
    with pytest.raises(APIError, match="^the swarm refused: "):
        api.call("POST", "/v1/apps/web/rollback")
    assert (refusing.asked, other.asked) == (["POST"], [])


@pytest.mark.parametrize("answer", [NGINX_504, SILENT], ids=["router timed out", "no answer in time"])
def test_a_request_that_may_have_been_done_is_sent_again_only_if_that_is_safe(routers, answer):
    api, (slow, other) = routers(answer, OK)
    with pytest.raises(FlotillaError, match="may or may not have done it; see `flotilla app show`"):
        api.call("POST", "/v1/apps/web/rollback")
    assert (slow.asked, other.asked) == (["POST"], [])

    for method in ("GET", "PUT"):
        assert api.call(method, "/v1/apps/web") == {"apps": []}
    assert (slow.asked, other.asked) == (["POST", "GET", "PUT"], ["GET", "PUT"])


def test_a_master_that_takes_no_connection_is_passed_over_for_every_method(routers, tls):
    api, (up,) = routers(OK)
    api.routers.insert(0, closed_port())
    assert api.call("DELETE", "/v1/apps/web") == {"apps": []}
    assert up.asked == ["DELETE"]

    nobody = SchedulerAPI([closed_port(), closed_port()], tls / "ca.pem", "token", timeout=0.5)
    with pytest.raises(FlotillaError, match="^no master's scheduler answers: "):
        nobody.call("GET", "/v1/apps")


def test_the_inventorys_own_router_port_and_credentials_directory_are_used(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "cluster:\n  children:\n    masters:\n      hosts:\n        m1: {ansible_host: 10.0.0.1}\n"
        "        m2: {ansible_host: 10.0.0.2, scheduler_router_port: 9443}\n"
        "  vars: {scheduler_credentials_dir: /srv/secrets}\n"
    )
    listed = read_inventory(str(inventory))
    assert apps.routers(listed) == ["https://10.0.0.1:8443", "https://10.0.0.2:9443"]
    assert str(credentials_dir(inventory, listed)) == "/srv/secrets"
    inventory.write_text("cluster:\n  children:\n    masters:\n      hosts:\n        m1:\n")
    assert credentials_dir(inventory, read_inventory(str(inventory))) == tmp_path / ".credentials"


def test_a_setting_only_ansible_can_render_is_refused_in_one_sentence(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "cluster:\n  children:\n    masters:\n      hosts:\n        m1:\n"
        "  vars: {scheduler_credentials_dir: '{{ playbook_dir }}/s'}\n"
    )
    with pytest.raises(FlotillaError, match="sets scheduler_credentials_dir to a template"):
        credentials_dir(inventory, read_inventory(str(inventory)))


def test_remove_says_gone_only_when_the_scheduler_no_longer_knows_the_app(routers):
    api, (router,) = routers({"DELETE": OK, "GET": NO_SUCH_APP})
    apps.remove(api, "web")
    assert router.asked == ["DELETE", "GET"]
    # A refusal of another kind says nothing about whether it is gone.
    api, _ = routers({"DELETE": OK, "GET": (400, "application/json", b'{"error": "bad request"}')})
    with pytest.raises(APIError, match="^bad request$"):
        apps.remove(api, "web")
