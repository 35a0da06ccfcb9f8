"""Shared bits of the Python clients of the interop matrix: arguments and the canonical output lines."""

from __future__ import annotations

import argparse

APP_TOKEN = "interop-matrix"
TZ_LOCATION = "Europe/Oslo"


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--base", required=True, help="server base URL, e.g. http://127.0.0.1:8087")
    p.add_argument("--soap", choices=("11", "12"), default="11")
    p.add_argument("--user", default="demo")
    p.add_argument("--password", default="demo")
    p.add_argument("--panels", required=True, help="comma-separated StatusScreenPanelType names")
    return p.parse_args()


def text(value) -> str:
    """Labels as one line: nil/None prints as empty, tabs and newlines as spaces."""
    if value is None:
        return ""
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def emit(panels: list[str], datasets) -> None:
    """Print ``panel<TAB>#set<TAB>label`` per data set and ``panel<TAB>label<TAB>value`` per value.

    ``datasets`` is a list of (set label, [(value label, value), ...]) in request order.
    """
    if len(datasets) != len(panels):
        raise SystemExit(f"expected {len(panels)} data sets, got {len(datasets)}")
    for panel, (label, values) in zip(panels, datasets):
        print(f"{panel}\t#set\t{text(label)}")
        for vlabel, value in values:
            print(f"{panel}\t{text(vlabel)}\t{value!r}")
