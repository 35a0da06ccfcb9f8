"""SuperOffice NetServer Services87 SOAP endpoints."""


def mount(hs, root) -> None:
    pass
