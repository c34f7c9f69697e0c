"""The served OpenAPI is enough to build on (issue 10): a Python client generated from the
gateway's ``/openapi.json`` by ``openapi-python-client``, with no warning, drives a facilitator
flow and a provider flow; and the document itself says what integrators need (security,
statuses, headers, problem+json, an example of every request and answer, valid for its schema)."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema_rs  # comes with schemathesis
import pytest

from pentad.errors import PROBLEM_JSON
from pentad.http import PROBES
from pentad.openapi import example_of
from tests.platform import Seeded, day, seeded_platform

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# openapi-typescript and tsc, pinned in tests/typescript/package-lock.json; `make install` puts them here.
TYPESCRIPT = Path(__file__).with_name("typescript")
TS_BIN = TYPESCRIPT / "node_modules" / ".bin"


@pytest.fixture(scope="module")
async def plat(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async with seeded_platform(databases, tmp_path_factory.mktemp("client")) as seeded:
        yield seeded


@pytest.fixture(scope="module")
async def doc(plat: Seeded) -> dict[str, Any]:
    async with plat.client() as anonymous:
        r = await anonymous.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]


def _generate(doc_text: str, where: Path) -> tuple[Any, str]:
    """The client package generated from ``doc_text``, imported, and the generator's output."""
    (where / "openapi.json").write_text(doc_text)
    (where / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: nothing to warn about
    name = f"pentad_client_{uuid.uuid4().hex[:8]}"
    done = subprocess.run([str(GENERATOR), "generate", "--path", str(where / "openapi.json"), "--meta", "none",
                           "--output-path", str(where / name), "--config", str(where / "config.yaml")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(name), done.stdout + done.stderr
    finally:
        sys.path.remove(str(where))


@pytest.fixture(scope="module")
async def generated(plat: Seeded, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    async with plat.client() as anonymous:
        text = (await anonymous.get("/openapi.json")).text
    return _generate(text, tmp_path_factory.mktemp("generated"))


def _api(package: Any, module: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.{module}")


async def test_the_client_generates_without_a_warning(generated: tuple[Any, str], doc: dict[str, Any]) -> None:
    package, output = generated
    assert "Warning" not in output and "WARNING" not in output, output
    models = importlib.import_module(f"{package.__name__}.models")
    for schema in ("SegmentOut", "PageSegmentOut", "PackageOut", "PagePackageOut", "Money", "MoneyInput"):
        assert hasattr(models, schema), schema
    for _, _, op in _operations(doc):
        module = importlib.import_module(f"{package.__name__}.api.{op['tags'][0]}.{op['operationId']}")
        assert callable(module.asyncio_detailed), op["operationId"]


async def test_a_facilitator_reads_segments_and_packages_through_the_client(
        plat: Seeded, generated: tuple[Any, str]) -> None:
    package, _ = generated
    client = package.AuthenticatedClient(base_url=plat.url, token=plat.keys["facilitator_a"])
    whoami = await _api(package, "segmentation.segmentation_whoami").asyncio(client=client)
    assert (whoami.role.value, whoami.stakeholder_id) == ("facilitator", plat.agent_a.id)

    segments = await _api(package, "segmentation.segmentation_list_segments").asyncio(
        client=client, market="GB", specialty=plat.specialty)
    assert plat.segment["id"] in [s.id for s in segments.items]
    segment = await _api(package, "segmentation.segmentation_get_segment").asyncio(
        plat.segment["id"], client=client)
    assert (segment.name, segment.source_markets) == (plat.segment["name"], ["GB", "IE"])

    page = await _api(package, "integration.integration_list_packages").asyncio(
        client=client, specialty=plat.specialty)
    ids = [p.id for p in page.items]
    assert plat.package["id"] in ids and plat.withdrawn["id"] not in ids
    one = await _api(package, "integration.integration_get_package").asyncio(plat.package["id"], client=client)
    assert (one.total.amount, one.total.currency) == (plat.package["total"]["amount"], one.currency)
    assert [c.price.amount for c in one.components] == ["5200.00", "900.00", "120.00"]

    refused = await _api(package, "integration.integration_create_package").asyncio_detailed(
        client=client, body=_models(package).PackageIn.from_dict({
            "name": "Not mine", "specialty": plat.specialty, "components": []}))
    assert refused.status_code == 403 and refused.parsed.status == 403  # a Problem, parsed


async def test_a_provider_posts_and_reads_its_capacity_through_the_client(
        plat: Seeded, generated: tuple[Any, str]) -> None:
    package, _ = generated
    models = _models(package)
    client = package.AuthenticatedClient(base_url=plat.url, token=plat.keys["provider_b"])
    me = await _api(package, "integration.integration_whoami").asyncio(client=client)
    own = await _api(package, "integration.integration_get_stakeholder").asyncio(me.stakeholder_id, client=client)
    assert (own.id, own.name) == (plat.hospital_b.id, plat.hospital_b.name)

    rows = [{"specialty": plat.specialty, "date": day(d), "slots_total": 6, "slots_available": 4} for d in (5, 6)]
    post = _api(package, "integration.integration_post_capacity")
    body = models.IntegrationPostCapacityBody.from_dict({"rows": rows})
    result = await post.asyncio(own.id, client=client, body=body, idempotency_key=uuid.uuid4().hex)
    assert (result.inserted, result.updated, result.rejected) == (2, 0, [])

    read = await _api(package, "integration.integration_get_capacity").asyncio(
        own.id, client=client, specialty=plat.specialty, from_=_date(day(5)), to=_date(day(6)))
    assert [(r.date.isoformat(), r.slots_total, r.slots_available) for r in read.items] == [
        (day(5), 6, 4), (day(6), 6, 4)]

    other = await _api(package, "integration.integration_get_capacity").asyncio_detailed(
        plat.hospital_a.id, client=client)
    assert other.status_code == 403


def _models(package: Any) -> Any:
    return importlib.import_module(f"{package.__name__}.models")


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


async def _run(*args: str | Path) -> tuple[int, str, str]:
    """A program's exit code and output; not blocking the loop the platform serves on."""
    process = await asyncio.create_subprocess_exec(*map(str, args), stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    return process.returncode or 0, out.decode(), err.decode()


async def test_typescript_types_generate_without_a_warning_and_a_typed_facilitator_flow_runs(
        plat: Seeded, tmp_path_factory: pytest.TempPathFactory) -> None:
    """openapi-typescript makes types from the served document with no warning; a facilitator's
    first calls written against them (tests/typescript/facilitator.ts) pass `tsc --strict` and
    run under node: segments, the offer, packages in GBP, an enquiry filed."""
    if not (TS_BIN / "openapi-typescript").exists() or shutil.which("node") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openapi-typescript is not installed: `make install` installs it with npm")
        pytest.skip("no npm here: `make install` installs openapi-typescript when npm is there")
    where = tmp_path_factory.mktemp("typescript")
    async with plat.client() as anonymous:
        (where / "openapi.json").write_text((await anonymous.get("/openapi.json")).text)
    code, out, err = await _run(TS_BIN / "openapi-typescript", where / "openapi.json", "-o", where / "pentad.d.ts")
    assert code == 0, out + err
    assert not re.search(r"warn|error|invalid|⚠|✗", out + err, re.IGNORECASE), out + err
    assert "export interface paths" in (where / "pentad.d.ts").read_text()

    for name in ("facilitator.ts", "tsconfig.json"):
        shutil.copy(TYPESCRIPT / name, where / name)
    code, out, err = await _run(TS_BIN / "tsc", "-p", where, "--outDir", where / "out")
    assert code == 0, out + err  # the flow's fields and parameters exist, with these types
    code, out, err = await _run("node", where / "out" / "facilitator.js", plat.url, plat.keys["facilitator_a"],
                                plat.specialty)
    assert code == 0, out + err
    segment_id, enquiry_id, status, *prices = json.loads(out)
    async with plat.client("facilitator_a") as facilitator:
        enquiry = (await facilitator.get(f"/promotion/enquiries/{enquiry_id}")).json()
    assert (enquiry["segment_id"], enquiry["status"]) == (segment_id, status)
    assert f"{plat.package['total']['amount']} EUR = " in " | ".join(prices)


# ----- the document itself ----------------------------------------------------------------

async def test_every_operation_that_needs_a_key_says_so_and_the_probes_do_not(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    for path, method, op in _operations(doc):
        keyless = path in PROBES or path == "/health" or path.endswith(tuple(PROBES))
        assert op.get("security") == ([] if keyless else [{"ApiKey": []}]), (method, path)
        statuses = set(op["responses"])
        assert ({"401", "429"} <= statuses) != keyless, (method, path, statuses)


async def test_problems_are_declared_as_problem_json_with_the_statuses_that_happen(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")) and path != "/health":
                assert list(response["content"]) == [PROBLEM_JSON], (method, path, code)
            assert "X-Request-ID" in str(response.get("headers")), (method, path, code)
            if code in ("429", "502", "503", "504") and PROBLEM_JSON in response["content"]:
                assert "Retry-After" in str(response["headers"]), (method, path, code)
        has = set(op["responses"])
        assert ("413" in has) == ("requestBody" in op), (method, path)
        assert ("412" in has) == any(p["name"] == "if-match" for p in op.get("parameters", [])), (method, path)
        if path.startswith(("/integration/", "/segmentation/")):
            assert {"502", "503", "504"} <= has, (method, path)
        if method == "post":
            assert "Idempotency-Key" in [p["name"] for p in op["parameters"]], path
    live = doc["paths"]["/integration/health/live"]["get"]["responses"]
    assert not {"401", "403", "404", "409"} & set(live)
    package = doc["paths"]["/integration/packages/{package_id}"]
    assert "ETag" in str(package["get"]["responses"]["200"]["headers"])
    assert "ETag" in str(package["patch"]["responses"]["200"]["headers"])


async def test_every_operation_has_an_example_request_and_answer_valid_for_its_schema(doc: dict[str, Any]) -> None:
    """Examples are built from the schemas' own: a new field whose plain value would not pass
    (a pattern, a code) must carry ``examples`` of its own, or this test names it."""
    def check(where: str, media: dict[str, Any]) -> None:
        assert "example" in media, f"{where}: no example"
        validator = jsonschema_rs.validator_for({**media["schema"], "components": doc["components"]},
                                                validate_formats=True)
        errors = [e.message for e in validator.iter_errors(media["example"])]
        assert not errors, f"{where}: the example is not valid: {errors}"

    for path, method, op in _operations(doc):
        for media in op.get("requestBody", {}).get("content", {}).values():
            check(f"{method} {path} request", media)
        answers = {c: r for c, r in op["responses"].items() if c.startswith("2") and r.get("content")}
        assert answers or "204" in op["responses"], f"{method} {path}: no answer"
        for code, response in answers.items():
            for media in response["content"].values():
                check(f"{method} {path} {code}", media)


_RECORD_ID = re.compile(r"[a-z]{3}_[0-9a-z]{26}")  # pentad.ids: a prefix and a time-ordered body
_PLACEHOLDERS = {"example", "string", "foo", "bar", "test", "value"}


def _leaves(value: Any, field: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, k)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v, field)]
    return [(field, value)]


async def test_every_example_is_realistic_not_a_placeholder(doc: dict[str, Any]) -> None:
    """An integrator reads the examples as what real answers look like: no ``"example"`` or
    ``"string"`` for a name, and every record id shaped as the platform makes them."""
    found = []
    for path, method, op in _operations(doc):
        medias = [("request", m) for m in op.get("requestBody", {}).get("content", {}).values()]
        medias += [(code, m) for code, r in op["responses"].items() for m in r.get("content", {}).values()]
        for where, media in medias:
            for field, value in _leaves(media.get("example")):
                is_id = field == "id" or (field.endswith(("_id", "_ids")) and field != "request_id")
                if isinstance(value, str) and (value.lower() in _PLACEHOLDERS or re.fullmatch(r"x+", value)
                                               or (is_id and not _RECORD_ID.fullmatch(value))):
                    found.append(f"{method} {path} {where} {field}={value!r}")
    assert found == [], "\n".join(found)


async def test_descriptions_point_at_no_source_file(doc: dict[str, Any]) -> None:
    import json

    text = json.dumps(doc)
    assert not any(word in text for word in (".py", "services/", "pentad/")), text


async def test_the_examples_are_accepted_by_the_platform(plat: Seeded, doc: dict[str, Any]) -> None:
    """The request example of creating a segment, as shown, is taken as it is."""
    example = doc["paths"]["/segmentation/segments"]["post"]["requestBody"]["content"]["application/json"]["example"]
    async with plat.client("staff") as staff:
        r = await staff.post("/segmentation/segments", json=example)
    assert r.status_code == 201, r.text


# ----- strict inputs on every operation --------------------------------------------------------

_LISTS = {"scheme_id": "/administration/schemes", "assessment_id": "/development/assessments",
          "action_id": "/dmo/actions", "quote_id": "/promotion/quotes"}


async def _path_ids(plat: Seeded, doc: dict[str, Any]) -> dict[str, str]:
    """A real record for each kind of id a path names: the seeded ones, and one of each kind more
    made from the document's own example of its creation (with real ids in it)."""
    ids = {"segment_id": plat.segment["id"], "package_id": plat.package["id"], "stakeholder_id": plat.hospital_a.id}
    if "made" in plat.extra:
        return {**ids, **plat.extra["made"]}
    async with plat.client("admin") as admin:
        for name, path in _LISTS.items():
            if (r := await admin.get(path)).status_code == 200 and (items := r.json()["items"]):
                ids[name] = items[0]["id"]

        async def make(who: str, path: str, **real: Any) -> str:
            body = {**_example_body(doc["paths"][path]["post"]), **real}
            async with plat.client(who) as client:
                r = await client.post(path, json=body)
            assert r.status_code == 201, (path, r.text)
            return str(r.json()["id"])

        hospital, month_ago = plat.hospital_a.id, str(datetime.now(UTC).date() - timedelta(days=30))
        ids["accreditation_id"] = await make("staff", "/administration/accreditations", stakeholder_id=hospital,
                                             scheme_id=ids["scheme_id"], issued_on=month_ago)
        ids["membership_id"] = await make("staff", "/administration/memberships", stakeholder_id=hospital)
        ids["complaint_id"] = await make("staff", "/administration/complaints", stakeholder_id=hospital)
        ids["initiative_id"] = await make("staff", "/development/initiatives", segment_id=plat.segment["id"])
        ids["campaign_id"] = await make("staff", "/promotion/campaigns", segment_ids=[plat.segment["id"]])
        ids["enquiry_id"] = await make("facilitator_a", "/promotion/enquiries", specialty=plat.specialty,
                                       preferred_from=day(20), preferred_to=day(40))
    plat.extra["made"] = {k: v for k, v in ids.items() if k not in ("segment_id", "package_id", "stakeholder_id")}
    return ids


def _filled(path: str, ids: dict[str, str]) -> tuple[str, bool]:
    """``path`` with its ids, and whether each is a real record's."""
    names = re.findall(r"\{([^}]+)\}", path)
    for name in names:
        path = path.replace("{" + name + "}", ids.get(name, "zz_missing"))
    return path, all(n in ids for n in names)


def _declared(op: dict[str, Any], status: int) -> bool:
    return str(status) in op["responses"]


async def test_every_operation_refuses_an_unknown_query_parameter_naming_it(plat: Seeded, doc: dict[str, Any]) -> None:
    """Checked before anything else (no record is looked up, nothing acts), as a declared 422."""
    ids = {**await _path_ids(plat, doc), "key_id": "key_missing"}  # never a real key: no DELETE may revoke one
    async with plat.client("admin") as admin:
        for path, method, op in _operations(doc):
            body = _example_body(op)
            r = await admin.request(method.upper(), _filled(path, ids)[0], params={"colour": "blue"},
                                    **({"json": body} if body is not None else {}))
            assert r.status_code == 422 and _declared(op, 422), (method, path, r.status_code, r.text)
            assert r.headers["content-type"] == PROBLEM_JSON
            assert [e["field"] for e in r.json()["errors"]] == ["query.colour"], (method, path, r.text)


# Only the coordinator itself activates a campaign (after checking the offer): no API key may.
_NOT_FOR_KEYS = {"/promotion/campaigns/{campaign_id}/activation"}
# A quote needs an enquiry routed to a provider first: its body is covered by the schema check alone.
_NO_RECORD_HERE = {"/promotion/quotes/{quote_id}"}


def _example_body(op: dict[str, Any]) -> Any:
    return op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")


async def test_every_body_refuses_an_unknown_field_naming_it(plat: Seeded, doc: dict[str, Any]) -> None:
    """Each operation's own example with one field more: a 422 naming that field, declared. An
    operation on a kind of record the platform has none of yet is covered by the schema check below."""
    ids = {**await _path_ids(plat, doc), "key_id": "key_missing"}
    tried = []
    async with plat.client("admin") as admin:
        for path, method, op in _operations(doc):
            body = _example_body(op)
            target, real = _filled(path, ids)
            if not isinstance(body, dict) or not real:
                continue
            r = await admin.request(method.upper(), target, json={**body, "colour": "blue"},
                                    headers={"If-Match": '"1"'})
            if r.status_code == 403 and path in _NOT_FOR_KEYS:
                continue
            assert r.status_code == 422 and _declared(op, 422), (method, path, r.status_code, r.text)
            assert "colour" in [e["field"] for e in r.json()["errors"]], (method, path, r.text)
            tried.append((method, path))
    untried = [(m, p) for p, m, op in _operations(doc) if isinstance(_example_body(op), dict)
               and (m, p) not in tried and p not in _NOT_FOR_KEYS | _NO_RECORD_HERE]
    assert untried == [], untried


def _open_objects(schema: dict[str, Any], doc: dict[str, Any], seen: frozenset[str] = frozenset(),
                  where: str = "") -> list[str]:
    """Where ``schema`` has an object taking fields it does not name (a map's values aside)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [] if name in seen else _open_objects(doc["components"]["schemas"][name], doc, seen | {name},
                                                     where + "/" + name)
    found = []
    if schema.get("type") == "object" or "properties" in schema:
        extra = schema.get("additionalProperties", True)
        if extra is True or (extra == {} and "properties" in schema):
            found.append(where or "/")
        if isinstance(extra, dict) and extra:
            found += _open_objects(extra, doc, seen, where + "/*")
        for name, prop in schema.get("properties", {}).items():
            found += _open_objects(prop, doc, seen, f"{where}.{name}")
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _open_objects(option, doc, seen, where)
    if "items" in schema:
        found += _open_objects(schema["items"], doc, seen, where + "[]")
    return found


async def test_every_request_body_says_it_takes_no_other_field(doc: dict[str, Any]) -> None:
    """What the served document promises is what the services do (above): an unknown field is refused."""
    for path, method, op in _operations(doc):
        for media in op.get("requestBody", {}).get("content", {}).values():
            assert _open_objects(media["schema"], doc) == [], (method, path)



def _date_fields(schema: dict[str, Any], doc: dict[str, Any], where: tuple[str | int, ...] = (),
                 seen: frozenset[str] = frozenset()) -> list[tuple[tuple[str | int, ...], str]]:
    """Where a request body takes a date or a date-time (a list's first item standing for all)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [] if name in seen else _date_fields(doc["components"]["schemas"][name], doc, where, seen | {name})
    if schema.get("format") in ("date", "date-time"):
        return [(where, schema["format"])]
    found = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _date_fields(option, doc, where, seen)
    for name, prop in schema.get("properties", {}).items():
        found += _date_fields(prop, doc, (*where, name), seen)
    if "items" in schema:
        found += _date_fields(schema["items"], doc, (*where, 0), seen)
    return found


def _with(body: Any, where: tuple[str | int, ...], value: Any) -> Any:
    """``body`` with the field at ``where`` set to ``value``; None when the example has no parent for it."""
    copy = json.loads(json.dumps(body))
    parent = copy
    for step in where[:-1]:
        if isinstance(step, int) and not (isinstance(parent, list) and len(parent) > step):
            return None
        if isinstance(step, str) and not (isinstance(parent, dict) and step in parent):
            return None
        parent = parent[step]
    if not isinstance(parent, dict):
        return None
    parent[where[-1]] = value
    return copy


# Capacity rows are checked row by row (the contract: good rows apply, each bad one is reported
# in `rejected` with its index): a number or a non-ISO date there is a rejected row, not a 422
# (tests/integration/test_capacity.py rows 7, 8 and 19).
_ROW_BY_ROW = {("post", "/integration/stakeholders/{stakeholder_id}/capacity", "rows.0.date")}


async def test_every_date_in_a_body_refuses_a_number_or_other_text_naming_it(plat: Seeded,
                                                                              doc: dict[str, Any]) -> None:
    """pydantic's lax mode would read ``1795928911`` as a Unix time: every date and date-time field
    of every request body takes ISO 8601 text only (a date YYYY-MM-DD, a date-time with its
    offset), as its ``format`` says; each operation's own example with one such field spoiled."""
    ids = {**await _path_ids(plat, doc), "key_id": "key_missing"}
    fields, tried = [], []
    async with plat.client("admin") as admin:
        for path, method, op in _operations(doc):
            for media in op.get("requestBody", {}).get("content", {}).values():
                for where, fmt in _date_fields(media["schema"], doc):
                    name = ".".join(map(str, where))
                    fields.append((method, path, name))
                    body, (target, real) = _example_body(op), _filled(path, ids)
                    if (method, path, name) in _ROW_BY_ROW or not real or path in _NOT_FOR_KEYS:
                        continue
                    other_text = "1 Dec 2026" if fmt == "date" else "2026-12-01"  # a date-time needs its time
                    for bad in (1795928911, other_text):
                        spoiled = _with(body, where, bad)
                        if spoiled is None and isinstance(body, dict):  # e.g. an optional list left out
                            full = example_of(media["schema"], doc)
                            spoiled = _with({**body, where[0]: full[where[0]]}, where, bad)
                        assert spoiled is not None, (method, path, name)
                        r = await admin.request(method.upper(), target, json=spoiled, headers={"If-Match": '"1"'})
                        assert r.status_code == 422 and _declared(op, 422), (method, path, name, bad, r.text)
                        assert name in [e["field"] for e in r.json()["errors"]], (method, path, name, bad, r.text)
                    tried.append((method, path, name))
    assert ("post", "/promotion/enquiries", "consent.given_at") in tried and len(tried) >= 10, tried
    skipped = {(m, p, n) for m, p, n in fields if (m, p, n) not in tried}
    assert skipped == _ROW_BY_ROW | {(m, p, n) for m, p, n in fields if p in _NO_RECORD_HERE | _NOT_FOR_KEYS}, skipped


async def test_iso_dates_in_a_body_are_still_taken(plat: Seeded, doc: dict[str, Any]) -> None:
    """An enquiry with its window as YYYY-MM-DD and its consent's moment with an offset is filed."""
    body = {**_example_body(doc["paths"]["/promotion/enquiries"]["post"]), "specialty": plat.specialty,
            "preferred_from": day(21), "preferred_to": day(35)}
    given = (datetime.now(UTC) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=2))).replace(microsecond=0)
    body["consent"] = {**body["consent"], "given_at": given.isoformat()}
    async with plat.client("facilitator_a") as facilitator:
        r = await facilitator.post("/promotion/enquiries", json=body)
        assert r.status_code == 201, r.text
        read = (await facilitator.get(f"/promotion/enquiries/{r.json()['id']}")).json()
    assert (read["preferred_from"], read["preferred_to"]) == (day(21), day(35))
    assert datetime.fromisoformat(read["consent"]["given_at"]) == given
