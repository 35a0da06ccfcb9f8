"""SuperOffice REST twin."""


def mount(hs, root) -> None:
    pass
