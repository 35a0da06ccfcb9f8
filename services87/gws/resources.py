"""The GWS routes under ``/api/v2``: ``me``, ``workbins`` (``/move``, ``/{id}``) and ``users/{userId}/workbins``, a
Klein app (services87/http/routing.py); ``notifications`` is the Bayeux endpoint."""

from __future__ import annotations

from klein import Klein
from werkzeug.exceptions import MethodNotAllowed

from services87.gws.api import ANSWERS, GwsWorkbins
from services87.http.routing import Routes, WithNotifications, json_errors


def v2_resource(adapter: GwsWorkbins) -> WithNotifications:
    """``/api/v2``: ``notifications`` is the Bayeux endpoint, everything else :class:`GwsRoutes`."""
    return WithNotifications(Routes(GwsRoutes(adapter), _routing_error), lambda: adapter.bayeux.resource())


class GwsRoutes:
    app = Klein()

    def __init__(self, adapter: GwsWorkbins):
        self.adapter = adapter

    @app.route("/me", methods=["GET"], strict_slashes=False)
    def me(self, request):
        return self.adapter.handle(request, self.adapter.me)

    @app.route("/workbins", methods=["GET"], strict_slashes=False)
    def list_workbins(self, request):
        return self.adapter.handle(request, self.adapter.list_workbins)

    @app.route("/workbins", methods=["POST"], strict_slashes=False)
    def request_agent_stats(self, request):
        return self.adapter.handle(request, self.adapter.request_agent_stats)

    @app.route("/workbins/move", methods=["POST"], strict_slashes=False)
    def move(self, request):
        return self.adapter.handle(request, self.adapter.move)

    @app.route("/workbins/<wb_uuid>", methods=["GET"], strict_slashes=False)
    def workbin_contents(self, request, wb_uuid):
        if wb_uuid == "move":  # GET on the move operation: the method is wrong, not the workbin
            raise MethodNotAllowed(valid_methods=["POST"])
        return self.adapter.handle(request, lambda r, s: self.adapter.workbin_contents(r, s, wb_uuid))

    @app.route("/users/<user_id>/workbins", methods=["POST"], strict_slashes=False)
    def user_workbins(self, request, user_id):
        return self.adapter.handle(request, lambda r, s: self.adapter.request_agent_stats(r, s, user_id))


def _routing_error(request, status: int, kind: str, message: str) -> bytes:
    if status == 404:
        return ANSWERS.answer(request, 404, {"statusCode": 6, "statusMessage": "No such resource"})
    return ANSWERS.answer(request, status, {"statusCode": 10, "statusMessage": "Method not allowed" if status == 405
                                            else message})


json_errors(GwsRoutes.app, _routing_error)
