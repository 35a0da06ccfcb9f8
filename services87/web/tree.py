"""Mounting resources at multi-segment paths without adapters knowing about each other."""

from __future__ import annotations

from twisted.web import resource


class Branch(resource.Resource):
    """An intermediate path segment: unknown children get a JSON 404, never Twisted's HTML page."""

    def getChild(self, path, request):
        from services87.server import NotFoundResource

        return NotFoundResource()

    def render(self, request):
        from services87.server import NotFoundResource

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
