"""The Customer Service Status Page (filled in with the feature)."""


def mount(hs, root) -> None:
    pass
