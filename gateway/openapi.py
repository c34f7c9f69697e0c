"""One OpenAPI document for the whole platform, merged from every service's own.

Each service's paths are put under its prefix; component schemas keep their names
unless two services define the same name differently, in which case the later one is
renamed ``<Service><Name>`` and its references rewritten.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from pentad.http import PROBES

BEARER = {"ApiKey": {"type": "http", "scheme": "bearer",
                     "description": "An API key from POST /gateway/keys (admins) or `pentad keys create`."}}


# A service builds its document on the first call, which can take seconds on a loaded
# machine; a document missing a service is served but never cached (gateway/api.py).
OPENAPI_TIMEOUT = 20.0


async def fetch_service_docs(http: httpx.AsyncClient, upstreams: dict[str, str]) -> dict[str, dict[str, Any]]:
    async def one(name: str, base: str) -> tuple[str, dict[str, Any] | None]:
        try:
            resp = await http.get(base + "/openapi.json", timeout=OPENAPI_TIMEOUT)
            return name, resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return name, None

    pairs = await asyncio.gather(*(one(n, b) for n, b in upstreams.items()))
    return {name: doc for name, doc in pairs if doc is not None}


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/components/schemas/"):
                name = v.rsplit("/", 1)[1]
                out[k] = "#/components/schemas/" + renames.get(name, name)
            else:
                out[k] = _rewrite_refs(v, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def merge(gateway_doc: dict[str, Any], service_docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {**gateway_doc, "paths": dict(gateway_doc.get("paths", {}))}
    schemas: dict[str, Any] = dict(gateway_doc.get("components", {}).get("schemas", {}))
    tags = list(gateway_doc.get("tags", []))
    for service, doc in sorted(service_docs.items()):
        own = doc.get("components", {}).get("schemas", {})
        renames = {n: f"{service.title()}{n}" for n, s in own.items() if n in schemas and schemas[n] != s}
        doc = _rewrite_refs(doc, renames)
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            # The title too: client generators name their classes after it.
            schemas[renames.get(name, name)] = {**schema, "title": renames[name]} if name in renames else schema
        for path, item in doc.get("paths", {}).items():
            for op in item.values():
                if isinstance(op, dict):
                    op["tags"] = [service]
                    op["operationId"] = f"{service}_{op.get('operationId', '')}"
                    if path not in PROBES:
                        op["security"] = [{"ApiKey": []}]
            merged["paths"][f"/{service}{path}"] = item
        tags.append({"name": service, "description": doc.get("info", {}).get("description", "")})
    merged["components"] = {**gateway_doc.get("components", {}), "schemas": schemas,
                            "securitySchemes": BEARER}
    merged["tags"] = tags
    return merged
