"""The OpenAPI document as an integrator needs it, derived from the routes so new ones get it free.

FastAPI's own document is reworked once per process (``install_openapi``):

- pydantic's ``X-Input``/``X-Output`` pairs (a model whose JSON form differs from what it
  accepts, as ``Money``) become ``XInput`` and ``X``, each with its own title: client
  generators name classes after titles, and two ``Money`` classes collide;
- each operation lists the statuses it can really give: 401/429 only where a key is needed,
  404 where a path names a record, 409 on writes, 412 where ``If-Match`` is taken, 413 where
  a body is, 502/503/504 where the gateway forwards; every problem as
  ``application/problem+json``;
- ``security`` (the bearer key) on every operation that needs one, and none on the probes;
- the headers the platform reads and sends: ``X-Request-ID`` everywhere, ``Idempotency-Key``
  and ``Idempotent-Replayed`` on POSTs, ``ETag`` where ``If-Match`` is taken, ``Retry-After``
  on 429/502/503/504;
- an example request and answer for every operation, built from the schemas' own examples
  (``example_of``); a field without one takes a realistic value from ``_NAMED`` by its name
  (an id its record's prefix), and a test fails on any placeholder left (``"example"``), so a
  new field needs an ``examples`` or an entry there.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from pentad.errors import PROBLEM_JSON, Problem

SCHEMAS = "#/components/schemas/"
API_KEY = {"ApiKey": {"type": "http", "scheme": "bearer",
                      "description": "An API key, sent as `Authorization: Bearer <key>`. Admins create keys with "
                                     "`POST /gateway/keys`; the first admin key is written to `admin.key` in the "
                                     "data directory by `pentad up`."}}

_STATUS_TEXT = {
    401: "No key, or a key that is unknown or revoked.",
    403: "The key is valid but its role (or the stakeholder it is bound to) may not do this.",
    404: "No such record, or none this key may see.",
    409: "Conflicts with the current state, or an `Idempotency-Key` reused for another request.",
    412: "`If-Match` names a version that is no longer current: read the record again.",
    413: "The body is larger than the platform accepts.",
    422: "Invalid input: an unknown or malformed query parameter or field, each named in `errors`.",
    429: "Over the key's request rate: wait `Retry-After` seconds.",
    502: "The service behind this path answered wrongly: retry after `Retry-After` seconds.",
    503: "The service behind this path is unavailable or contended: retry after `Retry-After` seconds.",
    504: "The service behind this path did not answer in time: retry after `Retry-After` seconds.",
}
PROBLEM_EXAMPLE = {
    "type": "https://pentad.example/problems/validation-error", "title": "Validation error", "status": 422,
    "detail": "The request has invalid fields.", "instance": "/segmentation/segments",
    "request_id": "5f1c0e9a2b7d4c3e8a6f0b1d2c3e4f5a",
    "errors": [{"field": "query.market", "message": "unknown ISO 3166-1 alpha-2 country code; did you mean 'GB'?",
                "value": "UK", "suggestion": "GB"}]}
_RETRY = frozenset({429, 502, 503, 504})
_WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = _WRITES | {"get", "head", "options"}

_REQUEST_ID = {"name": "X-Request-ID", "in": "header", "required": False,
               # No bounds in the schema: a value that is not 1-128 printable characters is not
               # refused, only replaced (a request id must never cost a request).
               "description": "Your id for this request (1-128 letters, digits, `.`, `_`, `:` or `-`); one is "
                              "made when it is absent or unfit. It comes back in the `X-Request-ID` answer header "
                              "and in problems as `request_id`.",
               "schema": {"type": "string"}}
_IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "Any unique string (1-255 characters, a UUID is good). Sending the same POST "
                                   "again with the same key returns the first answer instead of acting twice, "
                                   "for 24 hours; the same key with another request is a 409.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
_HEADERS = {
    "X-Request-ID": {"description": "The request's id (yours, or one made for it): quote it when asking for help.",
                     "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "ETag": {"description": "The record's version: send it back as `If-Match` to change the record "
                            "only if nobody changed it since.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this answer is the stored one of an earlier request "
                                           "with the same `Idempotency-Key`.", "schema": {"type": "string"}},
}

# Declared by routes any valid key may call, whatever its role (``openapi_extra=ANY_KEY``):
# no 403 can come from them. Read, then removed from the document.
_ANY_KEY_MARK = "x-pentad-any-key"
ANY_KEY: dict[str, Any] = {_ANY_KEY_MARK: True}


def operation_id(route: APIRoute) -> str:
    """The route function's name (``create_package``): what a generated client calls its method.
    The gateway prefixes it with the service (``integration_create_package``)."""
    return route.name


def install_openapi(app: FastAPI, *, keyless: Collection[str], forwarded: bool) -> None:
    """``keyless``: paths open without a key; ``forwarded``: the routes are reached through the
    gateway (so 502/503/504 and the gateway's own 413 can answer for them)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            polish(doc, keyless=keyless, forwarded=forwarded)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def polish(doc: dict[str, Any], *, keyless: Collection[str], forwarded: bool) -> None:
    _split_input_output(doc)
    components = doc.setdefault("components", {})
    problem = Problem.model_json_schema(ref_template=SCHEMAS + "{model}")
    for name, schema in {**problem.pop("$defs", {}), "Problem": problem}.items():
        components.setdefault("schemas", {}).setdefault(name, schema)
    components["schemas"]["Problem"]["examples"] = [PROBLEM_EXAMPLE]
    components["securitySchemes"] = API_KEY
    components["headers"] = _HEADERS
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _operation(operation, path, method, doc, keyed=path not in keyless, forwarded=forwarded)
    # FastAPI's own validation error shapes: every 422 here is a Problem, so nothing names them.
    text = str(doc.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if SCHEMAS + name not in text:
            components["schemas"].pop(name, None)


def _operation(op: dict[str, Any], path: str, method: str, doc: dict[str, Any], *,
               keyed: bool, forwarded: bool) -> None:
    headers = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
    statuses = _statuses(op, path, method, headers, keyed=keyed, forwarded=forwarded)
    op["security"] = [{"ApiKey": []}] if keyed else []
    op.setdefault("parameters", []).append(_REQUEST_ID)
    if method == "post":
        op["parameters"].append(_IDEMPOTENCY_KEY)
    responses: dict[str, Any] = op.setdefault("responses", {})
    for code in list(responses):
        if code == "422":
            responses.pop(code)  # FastAPI's automatic one names its own schema; ours is the Problem
        elif code.isdigit() and int(code) >= 400 and _is_problem(responses[code]):
            # Declared by the route: kept with its own words, as problem+json.
            responses[code]["content"] = {PROBLEM_JSON: {"schema": {"$ref": SCHEMAS + "Problem"}}}
            statuses.add(int(code))
    for status in sorted(statuses):
        response = responses.setdefault(str(status), {"description": _STATUS_TEXT.get(status, "Error"),
                                                       "content": {PROBLEM_JSON: {"schema": {
                                                           "$ref": SCHEMAS + "Problem"}}}})
        if status in _RETRY:
            response.setdefault("headers", {})["Retry-After"] = _header("Retry-After")
    etag = "if-match" in headers or _versioned(path, method, op, doc)
    for code, response in responses.items():
        _answer(response, doc, success=code.startswith("2"), etag=etag, replayable=method == "post")
    for media in op.get("requestBody", {}).get("content", {}).values():
        if "schema" in media and "example" not in media:
            media["example"] = example_of(media["schema"], doc, writing=True)


def _statuses(op: dict[str, Any], path: str, method: str, headers: set[str], *,
              keyed: bool, forwarded: bool) -> set[int]:
    """The error statuses this operation can give, from what it takes and where it is served."""
    # Every route refuses unknown query parameters (strict_query), the gateway's own included.
    statuses = {422}
    if keyed:
        statuses |= {401, 429} if op.pop(_ANY_KEY_MARK, False) else {401, 403, 429}
    if "{" in path:
        statuses.add(404)
    if method in _WRITES:
        statuses.add(409)
    if "if-match" in headers:
        statuses.add(412)
    if "requestBody" in op:
        statuses.add(413)
    if forwarded:
        statuses |= {502, 503, 504}
    op.pop(_ANY_KEY_MARK, None)
    return statuses


def _answer(response: dict[str, Any], doc: dict[str, Any], *, success: bool, etag: bool, replayable: bool) -> None:
    """One response's headers and, for a success, its example."""
    heads = response.setdefault("headers", {})
    heads["X-Request-ID"] = _header("X-Request-ID")
    if not success:
        return
    if etag:
        heads["ETag"] = _header("ETag")
    if replayable:
        heads["Idempotent-Replayed"] = _header("Idempotent-Replayed")
    for media in response.get("content", {}).values():
        if "schema" in media and "example" not in media:
            media["example"] = example_of(media["schema"], doc)


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _is_problem(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    if not content:
        return True
    schemas = [m.get("schema", {}).get("$ref", "") for m in content.values()]
    return all(s.endswith("/Problem") or s.endswith("/HTTPValidationError") for s in schemas)


def _versioned(path: str, method: str, op: dict[str, Any], doc: dict[str, Any]) -> bool:
    """A read of a record that is changed with ``If-Match`` (or its creation) gives its ETag."""
    def takes_if_match(path: str) -> bool:
        return any(p.get("name", "").lower() == "if-match"
                   for op in doc.get("paths", {}).get(path, {}).values() if isinstance(op, dict)
                   for p in op.get("parameters", []))

    if method == "get":
        return takes_if_match(path)
    if method == "post" and "201" in op.get("responses", {}):
        return any(takes_if_match(p) for p in doc.get("paths", {}) if re.fullmatch(re.escape(path) + r"/\{[^/]+\}", p))
    return False


def _split_input_output(doc: dict[str, Any]) -> None:
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    renames = {}
    for name in list(schemas):
        for suffix, new in (("-Output", ""), ("-Input", "Input")):
            base = name.removesuffix(suffix)
            if name.endswith(suffix) and base + new not in schemas:
                renames[name] = base + new
    for old, new in renames.items():
        schemas[new] = {**schemas.pop(old), "title": new}
    if renames:
        doc.update(rewrite_refs(doc, renames))


def rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """``node`` with every reference to a renamed component schema following its new name."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(SCHEMAS):
                name = v.removeprefix(SCHEMAS)
                out[k] = SCHEMAS + renames.get(name, name)
            else:
                out[k] = rewrite_refs(v, renames)
        return out
    if isinstance(node, list):
        return [rewrite_refs(v, renames) for v in node]
    return node


# ----- examples ----------------------------------------------------------------------------

# Record ids are `<prefix>_<26 characters>` (pentad.ids): the prefix of each kind of record, by the
# field naming it and by the title of the schema whose `id` it is.
_ID_BODY = "01jd8k2m5q7r9t1v3w5x7z9b2c"
_PREFIX_OF_FIELD = {
    "accreditation": "acc", "action": "act", "assessment": "asm", "campaign": "cmp", "complaint": "cmp",
    "enquiry": "enq", "event": "evt", "facilitator": "stk", "initiative": "ini", "key": "key",
    "membership": "mem", "package": "pkg", "quote": "quo", "scheme": "sch", "segment": "seg",
    "stakeholder": "stk", "entity": "acc", "booked_quote": "quo", "actor_stakeholder": "stk",
}
_PREFIX_OF_TITLE = {
    "Accreditation": "acc", "Action": "act", "Assessment": "asm", "AuditEntry": "aud", "Campaign": "cmp",
    "CloudEvent": "evt", "Complaint": "cmp", "Enquiry": "enq", "Initiative": "ini", "Key": "key",
    "Membership": "mem", "Package": "pkg", "Quote": "quo", "Reaction": "rea", "Rebuild": "rbd",
    "Scheme": "sch", "Segment": "seg", "Spend": "spd", "Stakeholder": "stk",
}
_SEGMENT = "UK orthopaedics, 50+, self-pay"
# What a field holds, by its name, where its schema gives no example; (title, name) first.
_NAMED: dict[Any, Any] = {
    ("Problem", "type"): "https://pentad.example/problems/validation-error", ("Problem", "title"): "Validation error",
    ("Problem", "detail"): "The request has invalid fields.", ("Problem", "instance"): "/segmentation/segments",
    ("FieldError", "field"): "query.market",
    ("FieldError", "message"): "unknown ISO 3166-1 alpha-2 country code; did you mean 'GB'?",
    ("FieldError", "suggestion"): "GB",
    ("CloudEvent", "type"): "capacity.updated", ("CloudEvent", "source"): "integration",
    ("CloudEvent", "subject"): "stk_" + _ID_BODY,
    ("ReactionOut", "source"): "integration", ("ReactionOut", "event_type"): "capacity.updated",
    ("ReactionOut", "kind"): "provider.left_offer", ("ReactionOut", "status"): "done",
    ("ReactionOut", "reason"): "No fresh capacity for orthopaedics in the next 8 weeks.",
    ("SchemeIn", "name"): "Temos Excellence in Medical Tourism",
    ("SchemeOut", "name"): "Temos Excellence in Medical Tourism",
    ("SegmentIn", "name"): _SEGMENT, ("SegmentOut", "name"): _SEGMENT, ("SegmentPatch", "name"): _SEGMENT,
    ("SpecialtyIn", "name"): "Orthopaedics", ("SpecialtyOut", "name"): "Orthopaedics",
    ("StakeholderIn", "name"): "Klinika Adriatic Rijeka", ("StakeholderOut", "name"): "Klinika Adriatic Rijeka",
    ("StakeholderPatch", "name"): "Klinika Adriatic Rijeka", ("OfferProvider", "name"): "Klinika Adriatic Rijeka",
    ("NearMiss", "name"): "Poliklinika Kvarner", ("ProviderInput", "name"): "Klinika Adriatic Rijeka",
    ("SupportingInput", "name"): "Hotel Bellevue Opatija", ("Contact", "name"): "Margaret Hughes",
    ("CampaignIn", "name"): "Knee and hip, spring 2027, UK", ("CampaignOut", "name"): "Knee and hip, spring 2027, UK",
    ("CampaignPatch", "name"): "Knee and hip, spring 2027, UK",
    ("PackageIn", "name"): "Hip replacement with 10 nights' recovery by the sea",
    ("PackageOut", "name"): "Hip replacement with 10 nights' recovery by the sea",
    ("PackagePatch", "name"): "Hip replacement with 10 nights' recovery by the sea",
    ("OfferPackage", "name"): "Hip replacement with 10 nights' recovery by the sea",
    ("KeyIn", "name"): "Hospital booking system", ("KeyOut", "name"): "Hospital booking system",
    ("KeyCreated", "name"): "Hospital booking system", ("StepOut", "name"): "register_stakeholder",
    ("Component", "name"): "credible", ("OfferProvider", "kind"): "hospital", ("ProviderInput", "kind"): "hospital",
    ("SupportingInput", "kind"): "hotel", ("OfferAccreditation", "status"): "valid",
    ("Liveness", "status"): "ok", ("Readiness", "status"): "ok", ("Health", "status"): "ok",
    ("ServiceHealth", "status"): "ok", ("Reason", "detail"): "2 accredited providers with fresh capacity; 3 needed",
    ("ComplaintIn", "description"): "The transfer from Rijeka airport did not arrive; the patient waited two hours.",
    ("ComplaintOut", "description"): "The transfer from Rijeka airport did not arrive; the patient waited two hours.",
    ("QuoteItem", "description"): "Total hip replacement, 4 nights in hospital",
    ("PackageComponent", "description"): "Total hip replacement, 4 nights in hospital",
    ("PackageComponentInput", "description"): "Total hip replacement, 4 nights in hospital",
    ("MilestoneIn", "title"): "Second provider accredited", ("MilestoneOut", "title"): "Second provider accredited",
    "title": "Accredit a second orthopaedic hospital",
    "description": "Support Poliklinika Kvarner through Temos accreditation so the segment has two providers.",
    "service": "integration", "url": "http://127.0.0.1:8002", "currency": "EUR", "fx_base": "EUR", "base": "EUR",
    "certificate_no": "TEMOS-2026-0417", "evidence_url": "https://certificates.example.org/TEMOS-2026-0417.pdf",
    "city": "Rijeka", "covers": "Quality and safety of care for international patients",
    "issuing_body": "Temos International Healthcare Accreditation", "name": "Klinika Adriatic Rijeka",
    "reason": "Certificate checked against the issuing body's register", "reasons": ["no fresh capacity in the window"],
    "resolution": "Transfer firm refunded the patient and changed its dispatch.",
    "status_reason": "Approved by the DMO board on 2026-11-20", "note": "Quarterly review",
    "override_reason": "Budget raised by the board for the spring campaign",
    "owner": "DMO product team", "procedures": ["total_hip_replacement", "total_knee_replacement"],
    "requested_by": "key_" + _ID_BODY, "created_by": "key_" + _ID_BODY, "decided_by": "key_" + _ID_BODY,
    "proposed_by": "key_" + _ID_BODY, "recorded_by": "key_" + _ID_BODY, "filed_by": "key_" + _ID_BODY,
    "actor": "key_" + _ID_BODY, "actor_role": "staff", "action": "update", "prefix": "pk_3fa9c1",
    "key": "pk_3fa9c1d7e5b24a6f8c0e1d2b3a4f5c6d7e8f9a0b1c2d3e4f", "request_id": "5f1c0e9a2b7d4c3e8a6f0b1d2c3e4f5a",
    "idempotency_key": "act_" + _ID_BODY + ":register_stakeholder", "next_cursor": "eyJrIjpbIjIwMjYtMTItMDEiXX0",
    "method": "rule-based v1: each requirement of the segment against the destination's providers",
    "formula": "validly accredited providers / active providers", "explanation": "4 of 5 providers validly accredited",
    "raw": "0.8", "readiness_source": "coordinator", "requirement": "accredited_providers",
    "segment_name": _SEGMENT, "scheme_code": "temos", "specialty": "orthopaedics",
    "specialties": ["orthopaedics"], "proposed_specialties": ["orthopaedics", "cardiology"],
    "languages": ["en", "hr"], "languages_covered": ["en"], "languages_missing": ["de"], "scope": ["routing"],
    "source_market": "GB", "source_markets": ["GB", "IE"], "tracking_code": "uk-hips-spring27",
    "from_status": "new", "to_status": "routed", "kind": "hospital", "status": "ok",
    "event_type": "capacity.updated",
}

# Days that must come in order (a period's end after its start; a certificate issued before now).
_DAYS = {"issued_on": "2026-11-02", "as_of": "2026-11-02", "spent_on": "2026-11-02", "period_start": "2026-12-01",
         "period_end": "2027-11-30", "expires_on": "2029-11-01", "starts_on": "2027-03-01", "ends_on": "2027-05-31",
         "preferred_from": "2027-03-01", "preferred_to": "2027-04-30", "valid_until": "2027-01-31",
         "due_on": "2027-06-30"}


def _named(name: str | None, owner: str | None) -> Any:
    """A realistic value for a field ``name`` of the schema titled ``owner``, or None."""
    if name is None:
        return None
    if (owner, name) in _NAMED:
        return _NAMED[(owner, name)]
    if name == "id" and owner:
        prefix = next((p for stem, p in _PREFIX_OF_TITLE.items() if stem in owner), None)
        return f"{prefix}_{_ID_BODY}" if prefix else None
    if name.endswith(("_id", "_ids")):
        prefix = _PREFIX_OF_FIELD.get(name.rsplit("_", 1)[0])
        if prefix:
            return [f"{prefix}_{_ID_BODY}"] if name.endswith("_ids") else f"{prefix}_{_ID_BODY}"
    return _NAMED.get(name)

_SOON = date(2026, 12, 1)
_FORMATS: dict[str, Any] = {
    "date": _SOON.isoformat(),
    "date-time": datetime(2026, 11, 2, 9, 30, tzinfo=UTC).isoformat().replace("+00:00", "Z"),
    "email": "desk@example.org", "uri": "https://example.org/", "uuid": "7d3e1b5a-0c4f-4a8e-9b1d-2f6a8c9e0b12",
    "duration": "P1D",
}
_MAX_DEPTH = 24


def example_of(schema: dict[str, Any], doc: dict[str, Any], *, writing: bool = False, depth: int = 0,
               name: str | None = None, owner: str | None = None) -> Any:
    """A value valid for ``schema``, from its examples where it has them: for a body
    (``writing``) optional fields are shown only when they carry an example of their own.
    ``name`` and ``owner``: the field this is and the title of the object it is in."""
    if depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        target = doc["components"]["schemas"].get(schema["$ref"].removeprefix(SCHEMAS), {})
        return example_of({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, doc,
                          writing=writing, depth=depth + 1, name=name, owner=owner)
    for key in ("example", "const", "default"):
        if key in schema and not (key == "default" and schema[key] is None and "anyOf" in schema):
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    plain = schema.get("type") == "string" or schema.get("items", {}).get("type") == "string"
    if plain and "format" not in schema and (named := _named(name, owner)) is not None:
        return named
    if schema.get("format") == "date" and name in _DAYS:
        return _DAYS[name]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_of(options[0], doc, writing=writing, depth=depth + 1, name=name, owner=owner)
    if "allOf" in schema:
        return example_of(schema["allOf"][0], doc, writing=writing, depth=depth + 1, name=name, owner=owner)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        out = {}
        for field, prop in schema.get("properties", {}).items():
            if field in required or not writing or _has_example(prop, doc):
                out[field] = example_of(prop, doc, writing=writing, depth=depth + 1, name=field,
                                        owner=schema.get("title"))
        return out
    if kind == "array":
        item = example_of(schema.get("items", {}), doc, writing=writing, depth=depth + 1, owner=owner)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), min(1, int(schema.get("maximum", 1))))
    if kind == "number":
        return max(float(schema.get("minimum", 1.0)), min(1.0, float(schema.get("maximum", 1.0))))
    if kind == "boolean":
        return True
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        return "x" * max(1, schema.get("minLength", 1)) if schema.get("maxLength", 10) < 6 else "example"
    return None


def _has_example(schema: dict[str, Any], doc: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return False  # a nested object is shown only when required
    if "examples" in schema or "example" in schema:
        return True
    return any(_has_example(s, doc) for s in schema.get("anyOf", []) if s.get("type") != "null")

