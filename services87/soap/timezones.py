"""The ``TimeZone`` SOAP header (``SoTimeZone``) ↔ the engine's IANA time zone names.

SuperOffice names its time zones by country code (``NO``, ``DK``) or country-region code (``US-NY``,
``AU-ACT``) and numbers them (``SoTimeZoneId``). ``SoTimeZoneLocationCode`` here accepts those codes that
map to one IANA zone, or any IANA name (``Europe/Oslo``). docs/soap.md lists the mapping.
"""

from __future__ import annotations

from services87.engine.timebuckets import UnknownTimeZone, resolve_zone

#: SuperOffice location code → IANA zone.
LOCATION_CODES: dict[str, str] = {
    "UTC": "UTC",
    # Nordic and the rest of Europe (one zone per country)
    "NO": "Europe/Oslo", "SE": "Europe/Stockholm", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki",
    "IS": "Atlantic/Reykjavik", "DE": "Europe/Berlin", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg", "FR": "Europe/Paris", "IT": "Europe/Rome", "CH": "Europe/Zurich",
    "AT": "Europe/Vienna", "PL": "Europe/Warsaw", "CZ": "Europe/Prague", "SK": "Europe/Bratislava",
    "HU": "Europe/Budapest", "GB": "Europe/London", "UK": "Europe/London", "IE": "Europe/Dublin",
    "EE": "Europe/Tallinn", "LV": "Europe/Riga", "LT": "Europe/Vilnius", "GR": "Europe/Athens",
    "RO": "Europe/Bucharest", "BG": "Europe/Sofia", "HR": "Europe/Zagreb", "SI": "Europe/Ljubljana",
    "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
    # Asia / Pacific / Africa
    "BD": "Asia/Dhaka", "IN": "Asia/Kolkata", "JP": "Asia/Tokyo", "CN": "Asia/Shanghai",
    "HK": "Asia/Hong_Kong", "SG": "Asia/Singapore", "AE": "Asia/Dubai", "ZA": "Africa/Johannesburg",
    "NZ": "Pacific/Auckland",
    "AU-ACT": "Australia/Sydney", "AU-NSW": "Australia/Sydney", "AU-VIC": "Australia/Melbourne",
    "AU-QLD": "Australia/Brisbane", "AU-SA": "Australia/Adelaide", "AU-WA": "Australia/Perth",
    "AU-NT": "Australia/Darwin", "AU-TAS": "Australia/Hobart",
    # Americas
    "US-NY": "America/New_York", "US-MA": "America/New_York", "US-NJ": "America/New_York",
    "US-GA": "America/New_York", "US-DC": "America/New_York", "US-IL": "America/Chicago",
    "US-MN": "America/Chicago", "US-CO": "America/Denver", "US-UT": "America/Denver",
    "US-AZ": "America/Phoenix", "US-CA": "America/Los_Angeles", "US-WA": "America/Los_Angeles",
    "US-AK": "America/Anchorage", "US-HI": "Pacific/Honolulu",
    "CA-QC": "America/Toronto", "CA-ON": "America/Toronto", "CA-BC": "America/Vancouver",
    "CA-AB": "America/Edmonton", "BR": "America/Sao_Paulo", "MX": "America/Mexico_City",
}

#: ``SoTimeZoneId`` → location code, for the ids the vendor documents.
TIME_ZONE_IDS: dict[int, str] = {
    1: "UTC", 36: "AU-ACT", 50: "BD", 114: "CA-QC", 140: "DK", 156: "FR", 261: "NO",
    425: "US-CA", 433: "US-HI", 460: "US-NY",
}
_ID_BY_CODE = {code: tz_id for tz_id, code in TIME_ZONE_IDS.items()}
#: IANA zone → preferred location code (first code listed for it).
_CODE_BY_ZONE: dict[str, str] = {}
for _code, _zone in LOCATION_CODES.items():
    _CODE_BY_ZONE.setdefault(_zone, _code)


def zone_for(location_code: str | None, tz_id: int | None) -> str | None:
    """The IANA zone for a ``SoTimeZone``; ``None`` when the header names no zone.

    Raises :class:`UnknownTimeZone` for a code or id that maps to nothing.
    """
    code = (location_code or "").strip()
    if code:
        mapped = LOCATION_CODES.get(code.upper())
        if mapped:
            return mapped
        resolve_zone(code)  # an IANA name, or UnknownTimeZone
        return code
    if tz_id:
        id_code = TIME_ZONE_IDS.get(int(tz_id))
        if id_code is None:
            raise UnknownTimeZone(f"Unknown SoTimeZoneId: {tz_id}")
        return LOCATION_CODES[id_code]
    return None


def id_for(location_code: str | None) -> int | None:
    """The documented ``SoTimeZoneId`` of a location code (or of an IANA zone's code), if any."""
    if not location_code:
        return None
    code = location_code.strip().upper()
    if code in _ID_BY_CODE:
        return _ID_BY_CODE[code]
    by_zone = _CODE_BY_ZONE.get(location_code.strip())
    return _ID_BY_CODE.get(by_zone) if by_zone else None
