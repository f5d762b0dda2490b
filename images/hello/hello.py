"""A small HTTP service that says which node and task answered.

GET / answers JSON: the node and task (FLOTILLA_NODE, FLOTILLA_TASK, which
the scheduler sets in every app's environment) and the message of
HELLO_MESSAGE, which tests use to tell versions apart. GET /health answers
200, or 500 while HELLO_UNHEALTHY is set, to make a deployment fail on
purpose.
"""

import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8080


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/":
            self._answer(
                200,
                {
                    "node": os.environ.get("FLOTILLA_NODE", ""),
                    "task": os.environ.get("FLOTILLA_TASK", ""),
                    "hostname": socket.gethostname(),
                    "message": os.environ.get("HELLO_MESSAGE", ""),
                },
            )
        elif self.path == "/health":
            unhealthy = bool(os.environ.get("HELLO_UNHEALTHY"))
            self._answer(500 if unhealthy else 200, {"healthy": not unhealthy})
        else:
            self._answer(404, {"error": f"no {self.path} here: ask for / or /health"})

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    # As PID 1, a process gets no default handler for SIGTERM: without this
    # one, `docker stop` and a rolling update would wait for the kill.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ThreadingHTTPServer(("", PORT), Hello)
    server.serve_forever()


if __name__ == "__main__":
    main()
