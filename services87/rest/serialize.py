"""The REST twin's representation of engine results: ``StatisticsDataSet`` / ``StatisticsDataValue`` carriers.

JSON (key order as in the vendor's sample)::

    [{"Label": ..., "Values": [{"Label": ..., "Value": 1.0, "Description": ..., "TableRight": null,
                                "FieldProperties": {}}],
      "Description": ..., "TableRight": null, "FieldProperties": {}}]

``TableRight`` is always ``null`` and ``FieldProperties`` an empty dictionary: statistics carry no row or
field rights. XML follows the vendor's DataContract serialization of the same types (namespace
``http://www.superoffice.net/ws/crm/NetServer/Services87``, Carrier fields first, nulls as ``i:nil``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from collections.abc import Iterable

from lxml import etree

from services87.engine.model import DataSet

NS = "http://www.superoffice.net/ws/crm/NetServer/Services87"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SET_FIELDS = ("Label", "Values", "Description", "TableRight", "FieldProperties")
VALUE_FIELDS = ("Label", "Value", "Description", "TableRight", "FieldProperties")
_SET_BY_LOWER = {f.lower(): f for f in SET_FIELDS}
_VALUE_BY_LOWER = {f.lower(): f for f in VALUE_FIELDS}


def _number(v: float):
    return v if math.isfinite(v) else None


def dataset_dict(ds: DataSet) -> dict:
    return {
        "Label": ds.label,
        "Values": [{"Label": v.label, "Value": _number(float(v.value)), "Description": v.description,
                    "TableRight": None, "FieldProperties": {}} for v in ds.values],
        "Description": ds.description,
        "TableRight": None,
        "FieldProperties": {},
    }


# --------------------------------------------------------------------------- $select
class Selection:
    """A parsed ``$select``: which data-set fields survive, and which value fields inside ``Values``.

    Paths are comma-separated, case-insensitive, with ``/`` or ``.`` between levels: ``Label``,
    ``Values`` (the whole array), ``Values/Value``, ``values.label``. ``*`` selects everything. Names
    that are not properties of these types select nothing (as in the vendor's Web API).
    """

    def __init__(self, raw: str | None):
        self.all = True
        self.fields: dict[str, set[str] | None] = {}
        if raw is None or not raw.strip():
            return
        self.all = False
        for part in raw.split(","):
            segs = [s.strip() for s in re.split(r"[/.]", part.strip()) if s.strip()]
            if not segs:
                continue
            if segs == ["*"]:
                self.all = True
                return
            top = _SET_BY_LOWER.get(segs[0].lower())
            if top is None:
                continue
            if top == "Values" and len(segs) > 1:
                if segs[1] == "*":
                    self.fields["Values"] = None
                    continue
                sub = _VALUE_BY_LOWER.get(segs[1].lower())
                if sub is None:
                    continue
                current = self.fields.get("Values", set())
                if current is not None:
                    current.add(sub)
                    self.fields["Values"] = current
            else:
                self.fields[top] = None  # the whole property

    @property
    def key(self) -> tuple:
        """A hashable form of what this selection keeps (for response-cache keys)."""
        if self.all:
            return ("*",)
        return tuple(sorted((k, tuple(sorted(v)) if v is not None else None) for k, v in self.fields.items()))

    def apply(self, ds: dict) -> dict:
        if self.all:
            return ds
        out: dict[str, Any] = {}
        for name in SET_FIELDS:
            if name not in self.fields:
                out[name] = None
            elif name == "Values" and self.fields[name] is not None and ds["Values"] is not None:
                keep = self.fields[name] or ()
                out[name] = [{k: (v[k] if k in keep else None) for k in VALUE_FIELDS} for v in ds["Values"]]
            else:
                out[name] = ds[name]
        return out


def render_json(sets: Iterable[dict]) -> bytes:
    return json.dumps(list(sets), ensure_ascii=False, allow_nan=False).encode("utf-8")


# --------------------------------------------------------------------------- XML
def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _nil(parent, name: str) -> None:
    etree.SubElement(parent, _q(name)).set(f"{{{XSI}}}nil", "true")


def _xml_double(v: float) -> str:
    """xs:double the way .NET's DataContractSerializer writes it (``7``, ``0.5``, ``INF``)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "INF" if v > 0 else "-INF"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _right(parent, name: str, right: dict | None) -> None:
    """A ``TableRight`` / ``FieldRight`` element ({Mask, Reason}), or a nil one."""
    if right is None:
        _nil(parent, name)
        return
    el = etree.SubElement(parent, _q(name))
    etree.SubElement(el, _q("Mask")).text = str(right.get("Mask", ""))
    etree.SubElement(el, _q("Reason")).text = str(right.get("Reason", ""))


def _carrier(parent, d: dict) -> None:
    _right(parent, "TableRight", d.get("TableRight"))
    fp = d.get("FieldProperties")
    if fp is None:
        _nil(parent, "FieldProperties")
    else:
        el = etree.SubElement(parent, _q("FieldProperties"))
        for key, prop in fp.items():
            pair = etree.SubElement(el, _q("FieldPropertyDictionaryKeyValuePair"))
            etree.SubElement(pair, _q("Key")).text = key
            value = etree.SubElement(pair, _q("Value"))
            _right(value, "FieldRight", prop.get("FieldRight"))
            etree.SubElement(value, _q("FieldType")).text = str(prop.get("FieldType", ""))
            etree.SubElement(value, _q("FieldLength")).text = str(int(prop.get("FieldLength", 0)))


def _text_el(parent, name: str, value) -> None:
    if value is None:
        _nil(parent, name)
    else:
        etree.SubElement(parent, _q(name)).text = value


def render_xml(sets: Iterable[dict]) -> bytes:
    root = etree.Element(_q("ArrayOfStatisticsDataSet"), nsmap={None: NS, "i": XSI})
    for ds in sets:
        el = etree.SubElement(root, _q("StatisticsDataSet"))
        _carrier(el, ds)
        _text_el(el, "Label", ds["Label"])
        if ds["Values"] is None:
            _nil(el, "Values")
        else:
            values = etree.SubElement(el, _q("Values"))
            for v in ds["Values"]:
                vel = etree.SubElement(values, _q("StatisticsDataValue"))
                _carrier(vel, v)
                _text_el(vel, "Label", v["Label"])
                if v["Value"] is None:
                    _nil(vel, "Value")
                else:
                    etree.SubElement(vel, _q("Value")).text = _xml_double(v["Value"])
                _text_el(vel, "Description", v["Description"])
        _text_el(el, "Description", ds["Description"])
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
