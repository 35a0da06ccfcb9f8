"""SuperOffice REST twin (``/api/v1``) and the OAuth token endpoint (``/auth/v3/oauth/token``). See docs/rest.md."""

from __future__ import annotations

from services87.http.tree import mount as mount_at


def mount(hs, root) -> None:
    from services87.rest.api import RestApi
    from services87.rest.oauth import OAuthTokenApi

    mount_at(root, "api/v1", RestApi(hs).resource())
    mount_at(root, "auth/v3/oauth", OAuthTokenApi(hs).resource())
