"""Write a copy of a WSDL that keeps only the named operations (portType and binding entries).

Used for the Mono wsdl.exe (ASMX) proxy of SoPrincipal: the four Authenticate* operations share one response
wrapper element (``AuthenticateResponse``, as in the vendor's WSDL), which ASMX's XmlReflectionImporter cannot
map ("references a method and a type"), so the proxy is generated for the operations the client calls.

    python trim_wsdl.py URL OUT.wsdl Op1 [Op2 ...]
"""

from __future__ import annotations

import sys
import urllib.request

from lxml import etree

W = "http://schemas.xmlsoap.org/wsdl/"


def main() -> int:
    url, out, *keep = sys.argv[1:]
    with urllib.request.urlopen(url, timeout=30) as response:
        doc = etree.fromstring(response.read())
    for parent in doc.findall(f"{{{W}}}portType") + doc.findall(f"{{{W}}}binding"):
        for op in parent.findall(f"{{{W}}}operation"):
            if op.get("name") not in keep:
                parent.remove(op)
    with open(out, "wb") as f:
        f.write(etree.tostring(doc, xml_declaration=True, encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
