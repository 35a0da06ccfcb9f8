"""GWS errors: ``{"statusCode": code, "statusMessage": message}`` replies and their HTTP statuses."""

from __future__ import annotations

from services87.http.errors import HttpError

#: GWS statusCode -> HTTP status.
HTTP_STATUS = {0: 200, 1: 400, 2: 400, 3: 403, 4: 500, 5: 403, 6: 404, 10: 400, 20: 401}


class GwsError(HttpError):
    """A GWS error reply: ``{"statusCode": code, "statusMessage": message}``; its HTTP status is ``http`` or the
    one of ``code`` (:data:`HTTP_STATUS`)."""

    def __init__(self, code: int, message: str, http: int | None = None):
        super().__init__(http or HTTP_STATUS.get(code, 400), f"GwsStatus{code}", message)
        self.code = code

    @property
    def http(self) -> int:
        return self.status
