"""The resource tree: the root, JSON 404s and mounting at multi-segment paths without adapters knowing about
each other."""

from __future__ import annotations

from twisted.web import resource

from services87.http.errors import json_shape


def json_error(request, code: int, message: str, kind: str = "Error") -> bytes:
    """The server's own JSON error shape (services87/http/errors.py: ``json_shape``), status and content type
    set on ``request``."""
    status, content_type, body = json_shape(code, kind, message)
    request.setResponseCode(status)
    request.setHeader(b"content-type", content_type)
    return body


class NotFoundResource(resource.Resource):
    isLeaf = True

    def render(self, request):
        return json_error(request, 404, "No such resource", "NotFound")


class Root(resource.Resource):
    """Root of the tree: unknown paths get a JSON 404, never Twisted's HTML page.

    An adapter may set :attr:`index` to serve ``/`` (the status page does).
    """

    index: resource.Resource | None = None

    def getChild(self, path, request):
        if path == b"" and self.index is not None:
            return self.index
        return NotFoundResource()

    def render(self, request):
        if self.index is not None:
            return self.index.render(request)
        return NotFoundResource().render(request)


class Branch(resource.Resource):
    """An intermediate path segment: unknown children get a JSON 404, never Twisted's HTML page."""

    def getChild(self, path, request):
        return NotFoundResource()

    def render(self, request):
        return NotFoundResource().render(request)


def mount(root: resource.Resource, path: str, leaf: resource.Resource) -> None:
    """Put ``leaf`` at ``path`` (e.g. ``"api/v1"``), creating :class:`Branch` segments as needed."""
    parts = [p.encode() for p in path.strip("/").split("/")]
    node = root
    for seg in parts[:-1]:
        child = node.children.get(seg)
        if child is None:
            child = Branch()
            node.putChild(seg, child)
        node = child
    if parts[-1] in node.children:
        raise ValueError(f"{path} is mounted twice")
    node.putChild(parts[-1], leaf)
