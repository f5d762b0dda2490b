"""Run the scheduler's API: python3 -m scheduler --port 8181 --token-digest FILE"""

import argparse
from pathlib import Path

from .api import serve


def main():
    parser = argparse.ArgumentParser(prog="python3 -m scheduler", description=__doc__)
    parser.add_argument("--address", default="127.0.0.1", help="where to listen (loopback: the router faces outside)")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument("--token-digest", type=Path, required=True, help="file holding the API token's SHA-256")
    parser.add_argument(
        "--edge-digest",
        type=Path,
        help="file holding the edge credential's SHA-256 (it reads the edge configuration only)",
    )
    args = parser.parse_args()
    edge_digest = args.edge_digest.read_text().strip() if args.edge_digest else None
    serve(args.address, args.port, args.token_digest.read_text().strip(), edge_digest)


if __name__ == "__main__":
    main()
