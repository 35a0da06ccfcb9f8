"""SuperOffice REST twin (``/api/v1``) and the OAuth token endpoint (``/auth/v3/oauth/token``). See docs/rest.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services87.http.tree import Root, mount as mount_at
from services87.rest.api import RestApi
from services87.rest.oauth import OAuthTokenApi

if TYPE_CHECKING:
    from services87.server import Services87Server


def mount(hs: Services87Server, root: Root) -> None:
    mount_at(root, "api/v1", RestApi(hs).resource())
    mount_at(root, "auth/v3/oauth", OAuthTokenApi(hs).resource())
