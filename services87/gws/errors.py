"""GWS errors: ``{"statusCode": code, "statusMessage": message}`` replies and their HTTP statuses."""

from __future__ import annotations

#: GWS statusCode -> HTTP status.
HTTP_STATUS = {0: 200, 1: 400, 2: 400, 3: 403, 4: 500, 5: 403, 6: 404, 10: 400, 20: 401}


class GwsError(Exception):
    """A GWS error reply: ``{"statusCode": code, "statusMessage": message}``."""

    def __init__(self, code: int, message: str, http: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http = http or HTTP_STATUS.get(code, 400)
