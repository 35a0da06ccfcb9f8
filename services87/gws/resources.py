"""The GWS resources under ``/api/v2``: ``me``, ``workbins`` (``/move``, ``/{id}``) and ``users/{userId}/workbins``."""

from __future__ import annotations

from twisted.web import resource, server

from services87.gws.api import GwsWorkbins


class _Gws(resource.Resource):
    """A GWS resource: JSON errors for unsupported methods, never Twisted's HTML pages."""

    isLeaf = True
    methods: dict[bytes, str] = {}

    def __init__(self, adapter: GwsWorkbins):
        super().__init__()
        self.adapter = adapter

    def render(self, request):
        name = self.methods.get(request.method)
        if name is None:
            request.setHeader(b"allow", b", ".join(sorted(self.methods)))
            self.adapter._write(request, 405, {"statusCode": 10, "statusMessage": "Method not allowed"}, [])
            return server.NOT_DONE_YET
        return getattr(self, name)(request)


class MeResource(_Gws):
    methods = {b"GET": "get"}

    def get(self, request):
        return self.adapter.handle(request, self.adapter.me)


class WorkbinsResource(_Gws):
    """``/api/v2/workbins`` (POST RequestAgentStats, GET list), ``/move`` and ``/{id}``."""

    isLeaf = False
    methods = {b"GET": "get", b"POST": "post"}

    def getChild(self, path, request):
        if path == b"":
            return self
        if request.postpath:
            return _NotFound(self.adapter)
        if path == b"move":
            return MoveResource(self.adapter)
        return WorkbinResource(self.adapter, path.decode("utf-8", "replace"))

    def get(self, request):
        return self.adapter.handle(request, self.adapter.list_workbins)

    def post(self, request):
        return self.adapter.handle(request, self.adapter.request_agent_stats)


class MoveResource(_Gws):
    methods = {b"POST": "post"}

    def post(self, request):
        return self.adapter.handle(request, self.adapter.move)


class WorkbinResource(_Gws):
    methods = {b"GET": "get"}

    def __init__(self, adapter, wb_uuid: str):
        super().__init__(adapter)
        self.wb_uuid = wb_uuid

    def get(self, request):
        return self.adapter.handle(request, lambda r, s: self.adapter.workbin_contents(r, s, self.wb_uuid))


class UsersResource(_Gws):
    """``/api/v2/users/{userId}/workbins``."""

    isLeaf = False
    methods: dict[bytes, str] = {}

    def getChild(self, path, request):
        if path and request.postpath == [b"workbins"]:
            return UserWorkbinsResource(self.adapter, path.decode("utf-8", "replace"))
        return _NotFound(self.adapter)


class UserWorkbinsResource(_Gws):
    methods = {b"POST": "post"}

    def __init__(self, adapter, user_id: str):
        super().__init__(adapter)
        self.user_id = user_id

    def render(self, request):
        request.postpath = []
        return super().render(request)

    def post(self, request):
        return self.adapter.handle(request, lambda r, s: self.adapter.request_agent_stats(r, s, self.user_id))


class _NotFound(_Gws):
    def render(self, request):
        self.adapter._write(request, 404, {"statusCode": 6, "statusMessage": "No such resource"}, [])
        return server.NOT_DONE_YET
