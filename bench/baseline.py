"""The baseline of every HTTP measure: a bare Twisted resource returning fixed response bytes.

    python bench/baseline.py --body FILE --content-type TYPE --port-file FILE

Answers every GET/POST on every path with the same status 200, content type and bytes, with no parsing
and no thread hop: the fastest a Twisted server on this machine can answer that response.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twisted.internet import reactor
from twisted.web import resource, server


class Fixed(resource.Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes):
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render(self, request):
        request.setHeader(b"content-type", self.content_type)
        return self.body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--body", required=True)
    ap.add_argument("--content-type", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    serve(Fixed(Path(args.body).read_bytes(), args.content_type.encode()), args.port_file)


def serve(root: resource.Resource, port_file: str, backlog: int = 50) -> None:
    """Serve ``root`` on an ephemeral port of 127.0.0.1, write the port to ``port_file`` (atomically: the bench
    reads it as soon as the file exists) and run the reactor."""
    site = server.Site(root)
    site.displayTracebacks = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1", backlog=backlog)
    tmp = Path(port_file + ".tmp")
    tmp.write_text(str(port.getHost().port))
    tmp.replace(port_file)
    reactor.run()


if __name__ == "__main__":
    main()
