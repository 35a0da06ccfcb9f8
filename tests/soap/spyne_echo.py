"""A bare Spyne ``TwistedWebResource`` (no services87 front layer) for the compat regression tests.

``python -m tests.soap.spyne_echo PORTFILE [--skip constants,method,url] [--no-compat]``
"""

from __future__ import annotations

import os
import sys


def main(argv):
    port_file = argv[0]
    skip = ()
    if "--skip" in argv:
        skip = tuple(argv[argv.index("--skip") + 1].split(","))
    if "--no-compat" not in argv:
        from services87.soap import compat

        compat.apply(skip=skip)
    from spyne import Application, ServiceBase, Unicode, rpc  # noqa: E402
    from spyne.protocol.soap import Soap11
    from spyne.server.twisted import TwistedWebResource
    from twisted.internet import reactor
    from twisted.web.server import Site

    class Echo(ServiceBase):
        @rpc(Unicode, _returns=Unicode)
        def echo(ctx, text):
            return text

    app = Application([Echo], "urn:echo", in_protocol=Soap11(), out_protocol=Soap11())
    port = reactor.listenTCP(0, Site(TwistedWebResource(app)), interface="127.0.0.1")
    with open(port_file + ".tmp", "w") as fh:  # written, then renamed: a reader never sees it half written
        fh.write(str(port.getHost().port))
    os.replace(port_file + ".tmp", port_file)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
