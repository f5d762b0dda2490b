"""An app that says who answered: busybox's httpd with a CGI printing the
container's name (Docker sets HOSTNAME to it) and the app's VERSION.

Built here from Debian's static busybox (no registry can be reached), tagged
with a registry-qualified name so that the swarm asks no registry for it,
and carried to the nodes with `docker save` / `docker load`.
"""

import io
import tarfile

from .workload import BUSYBOX

IMAGE = "localhost:5000/edg-who:1"
PORT = 8080
PATH = "/cgi-bin/who"
DOCKERFILE = f"""\
FROM scratch
COPY busybox /bin/busybox
COPY who /www/cgi-bin/who
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "{PORT}", "-h", "/www"]
""".encode()
WHO = b"""#!/bin/busybox sh
echo "Content-Type: text/plain"
echo
echo "$HOSTNAME $VERSION"
"""


def build_image(client):
    """Build the image with ``client`` (the operator's engine); its `docker save` tarball."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data, mode in (("Dockerfile", DOCKERFILE, 0o644), ("who", WHO, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        tar.add(BUSYBOX, arcname="busybox")
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)
    return b"".join(client.images.get(IMAGE).save(named=True))


def definition(app_id, host, instances=2, version="1"):
    """The app, exposed on the edge under ``host``, checked by its own page."""
    return {
        "id": app_id,
        "image": IMAGE,
        "instances": instances,
        "env": {"VERSION": version},
        "health": {"http": PATH, "port": PORT, "grace": 5, "interval": 2},
        "expose": {"port": PORT, "host": host},
    }
