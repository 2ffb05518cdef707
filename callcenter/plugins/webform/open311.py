"""Open311 GeoReport v2 wire formats: the same data as JSON or XML, as the spec shows them.

XML: UTF-8 with the XML declaration; ``services/service``, ``service_definition``,
``service_requests/request``, ``errors/error`` elements; ``true``/``false`` for booleans and an
empty element for a missing value (``<account_id/>``). JSON: lists of flat objects with the same
names, ``null`` for a missing value.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.responses import Response

FORMATS = ("json", "xml")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def _value(el: ET.Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, dict):
        for k, v in value.items():
            _value(ET.SubElement(el, k), v)
    else:
        el.text = str(value)


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """``data`` (a list of dicts under ``root/item``, or one dict under ``root``) as an XML document."""
    top = ET.Element(root)
    if item is None:
        for k, v in data.items():
            if k == "attributes":
                attrs = ET.SubElement(top, "attributes")
                for a in v:
                    _value(ET.SubElement(attrs, "attribute"), a)
            else:
                _value(ET.SubElement(top, k), v)
    else:
        for row in data:
            _value(ET.SubElement(top, item), row)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
        top, encoding="utf-8", xml_declaration=False
    )


def render(fmt: str, root: str, item: str | None, data: Any, status_code: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, data), status_code=status_code, media_type=XML_TYPE)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode(), status_code=status_code, media_type=JSON_TYPE)


def error(fmt: str, code: int, description: str, headers: dict[str, str] | None = None) -> Response:
    """The spec's error shape: ``[{"code": 404, "description": "…"}]`` / ``<errors><error>…``."""
    resp = render(
        fmt if fmt in FORMATS else "json",
        "errors",
        "error",
        [{"code": code, "description": description}],
        code,
    )
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp
