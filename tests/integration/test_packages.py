"""Packages and the FX table: totals in any currency, delivery checks, withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.integration.models import FxTableRecord
from tests.integration.helpers import as_, listed, register, stakeholder_body
from tests.pillars import FAC, PROBLEM, Pair, feed, last_seq, money, unique
from tests.support import SignedAs, facilitator, provider

# -- packages -----------------------------------------------------------------------------------

RATES = {"USD": "1.0812", "GBP": "0.8563"}


def total_in(components: list[dict[str, Any]], target: str, rates: dict[str, str] = RATES) -> str:
    """The total the way the contract defines it: convert each price exactly, round once."""
    rate = {"EUR": Decimal(1), **{c: Decimal(r) for c, r in rates.items()}}
    exact = sum((Decimal(c["price"]["amount"]) / rate[c["price"]["currency"]] * rate[target] for c in components),
                Decimal(0))
    return format(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f")


@dataclass
class Parties:
    hospital: dict[str, Any]
    hotel: dict[str, Any]
    transfer: dict[str, Any]


async def parties(integ: httpx.AsyncClient, **hotel: Any) -> Parties:
    return Parties(await register(integ, kind="hospital", specialties=["orthopaedics"]),
                   await register(integ, kind="hotel", name=unique("Hotel"), specialties=[], **hotel),
                   await register(integ, kind="transfer", name=unique("Transfers"), specialties=[]))


def package_body(p: Parties, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": unique("Hip package"), "specialty": "orthopaedics", "components": [
        {"kind": "treatment", "stakeholder_id": p.hospital["id"], "description": "hip replacement",
         "price": money("8450.00")},
        {"kind": "stay", "stakeholder_id": p.hotel["id"], "description": "7 nights", "price": money("1234.57", "USD")},
        {"kind": "transfer", "stakeholder_id": p.transfer["id"], "description": "airport", "price": money("95.5")},
    ]}
    body.update(changes)
    return body


async def create_package(integ: httpx.AsyncClient, p: Parties, **changes: Any) -> dict[str, Any]:
    r = await integ.post("/packages", json=package_body(p, **changes))
    assert r.status_code == 201, r.text
    return r.json()


async def put_rates(integ: httpx.AsyncClient, rates: dict[str, str] = RATES) -> None:
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": rates})
    assert r.status_code == 200, r.text


async def test_package_totals_in_its_currency_or_any_other(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    start = await last_seq(integ)
    body = package_body(p)
    r = await integ.post("/packages", json=body)
    assert r.status_code == 201, r.text
    package = r.json()
    assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/packages/{package['id']}"
    assert package["status"] == "published" and package["status_reason"] is None
    assert package["currency"] == "EUR" and package["fx_base"] == "EUR"
    assert package["total"] == money(total_in(body["components"], "EUR"))
    assert package["total"]["amount"] == "9687.35"
    assert package["fx_rates"] == {"USD": "1.0812"}
    assert package["components"][2]["price"] == money("95.50")

    gbp = await integ.get(f"/packages/{package['id']}", params={"currency": "gbp"}, auth=FAC)
    assert gbp.status_code == 200, gbp.text
    assert (gbp.json()["currency"], gbp.json()["total"]) == ("EUR", package["total"])  # its own, kept
    assert gbp.json()["total_in"] == money(total_in(body["components"], "GBP"), "GBP")
    assert gbp.json()["fx_rates"] == {"GBP": "0.8563", "USD": "1.0812"}
    usd = (await integ.get(f"/packages/{package['id']}", params={"currency": "USD"})).json()
    assert usd["total_in"] == money(total_in(body["components"], "USD"), "USD") and usd["fx_rates"] == {"USD": "1.0812"}
    assert package["total_in"] is None and usd["total"] == package["total"]
    own = await integ.get(f"/packages/{package['id']}", auth=as_(p.hotel["id"]))
    assert own.status_code == 200 and own.json()["total"] == package["total"] and own.headers["etag"] == '"1"'

    r = await integ.get(f"/packages/{package['id']}", params={"currency": "XYZ"})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "query.currency", "message": "unknown ISO 4217 currency code", "value": "XYZ"}]
    r = await integ.get(f"/packages/{package['id']}", params={"currency": "euro"})
    assert r.status_code == 422 and r.json()["errors"][0]["suggestion"] == "EUR"
    r = await integ.get(f"/packages/{package['id']}", params={"currency": "JPY"})
    assert r.status_code == 422 and {e["value"] for e in r.json()["errors"]} == {"JPY"}
    assert r.json()["errors"][0]["field"].startswith("components.")

    listed_gbp = (await integ.get("/packages", params={"stakeholder_id": p.hotel["id"], "currency": "GBP"})).json()
    assert [(x["total"], x["total_in"]) for x in listed_gbp["items"]] == [(package["total"], gbp.json()["total_in"])]
    assert await listed(integ, "/packages", specialty="orthopaedics", stakeholder_id=p.transfer["id"]) == [
        package["id"]]

    in_gbp = await create_package(integ, p, currency="gbp")
    assert in_gbp["currency"] == "GBP" and in_gbp["total"] == gbp.json()["total_in"]
    assert (await integ.get(f"/packages/{in_gbp['id']}")).json()["total"]["currency"] == "GBP"

    events = await feed(integ, start)
    assert [(e["type"], e["data"]["package_id"]) for e in events] == [
        ("package.published", package["id"]), ("package.published", in_gbp["id"])]
    assert events[0]["data"]["stakeholder_ids"] == sorted([p.hospital["id"], p.hotel["id"], p.transfer["id"]])


async def test_totals_follow_the_fx_base(integ: httpx.AsyncClient) -> None:
    p = await parties(integ)
    assert (await integ.put("/fx-rates", json={"base": "USD", "rates": {"EUR": "0.9249", "GBP": "0.7921"}})
            ).status_code == 200
    try:
        package = await create_package(integ, p)
        usd_in_eur = Decimal("1234.57") * Decimal("0.9249")
        expected = (Decimal("8450.00") + usd_in_eur + Decimal("95.5")).quantize(Decimal("0.01"))
        assert package["fx_base"] == "USD" and package["total"] == money(format(expected, "f"))
        assert package["fx_rates"] == {"EUR": "0.9249"}
        gbp = (await integ.get(f"/packages/{package['id']}", params={"currency": "GBP"})).json()
        exact = sum((Decimal(a) / Decimal(r) * Decimal("0.7921") for a, r in (
            ("8450.00", "0.9249"), ("1234.57", "1"), ("95.5", "0.9249"))), Decimal(0))
        assert gbp["total_in"] == money(format(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f"), "GBP")
        assert gbp["fx_rates"] == {"EUR": "0.9249", "GBP": "0.7921"}
    finally:
        await put_rates(integ)


async def test_creating_posts_honour_idempotency_keys(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    for path, body in (("/stakeholders", stakeholder_body()), ("/packages", package_body(p))):
        start = await last_seq(integ)
        key = {"Idempotency-Key": unique("create")}
        first = await integ.post(path, json=body, headers=key)
        again = await integ.post(path, json=body, headers=key)
        assert first.status_code == again.status_code == 201, first.text
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        other = await integ.post(path, json={**body, "name": unique("Other")}, headers=key)
        assert other.status_code == 409
        assert len(await feed(integ, start)) == 1, path


async def test_package_components_are_checked(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    start = await last_seq(integ)
    h, t, x = p.hospital["id"], p.hotel["id"], p.transfer["id"]

    def with_components(*specs: tuple[str, str]) -> dict[str, Any]:
        return package_body(p, components=[{"kind": k, "stakeholder_id": s, "description": "d",
                                            "price": money("10")} for k, s in specs])

    cases = [
        (with_components(("treatment", t)), "components.0.stakeholder_id", t),
        (with_components(("treatment", h), ("stay", x)), "components.1.stakeholder_id", x),
        (with_components(("treatment", h), ("transfer", h)), "components.1.stakeholder_id", h),
        (with_components(("treatment", h), ("stay", "stk_nobody")), "components.1.stakeholder_id", "stk_nobody"),
        ({**with_components(("treatment", h)), "specialty": "oncology"}, "components.0.stakeholder_id", h),
        (package_body(p, currency="XYZ"), "currency", "XYZ"),
        (package_body(p, components=[]), "components", None),
        (with_components(("stay", t)), "body", None),
        (with_components(("aftercare", h), ("massage", t)), "components.1.kind", "massage"),
    ]
    for body, field, value in cases:
        r = await integ.post("/packages", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (field, r.text)
        errors = {e["field"]: e for e in r.json()["errors"]}
        assert field in errors, (field, r.json())
        if value is not None:
            assert errors[field]["value"] == value
    float_price = package_body(p)
    float_price["components"][0]["price"] = {"amount": 8450.5, "currency": "EUR"}
    r = await integ.post("/packages", json=float_price)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "components.0.price.amount"
    assert await feed(integ, start) == []
    assert await listed(integ, "/packages", stakeholder_id=h) == []
    # Aftercare may come from a hotel; a stay from a rehab centre.
    rehab = (await register(integ, kind="rehab", specialties=["orthopaedics"]))["id"]
    ok = await integ.post("/packages", json=with_components(("treatment", rehab), ("stay", rehab),
                                                            ("aftercare", t)))
    assert ok.status_code == 201 and ok.json()["total"] == money("30.00")


async def test_a_package_with_an_inactive_party_starts_withdrawn(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ, status="inactive")
    start = await last_seq(integ)
    package = await create_package(integ, p)
    assert package["status"] == "withdrawn"
    assert package["status_reason"] == f"inactive stakeholders: {p.hotel['name']}"
    for auth in (FAC, as_(p.hospital["id"])):
        r = await integ.get(f"/packages/{package['id']}", auth=auth)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert await listed(integ, "/packages", auth=auth, stakeholder_id=p.hospital["id"]) == []
        assert await listed(integ, "/packages", auth=auth, stakeholder_id=p.hospital["id"],
                            status="withdrawn") == []
    assert await listed(integ, "/packages", stakeholder_id=p.hospital["id"], status="withdrawn") == [package["id"]]
    assert await listed(integ, "/packages", stakeholder_id=p.hospital["id"], status="published") == []

    r = await integ.patch(f"/packages/{package['id']}", json={"status": "published"})
    assert r.status_code == 409 and p.hotel["name"] in r.json()["detail"]
    assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "withdrawn"

    assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": "active"})).status_code == 200
    now = (await integ.get(f"/packages/{package['id']}", auth=FAC))
    assert now.status_code == 200 and now.json()["status"] == "published" and now.json()["status_reason"] is None
    events = [(e["type"], e["subject"]) for e in await feed(integ, start) if e["type"].startswith("package.")]
    assert events == [("package.withdrawn", package["id"]), ("package.published", package["id"])]


async def test_packages_follow_their_stakeholders(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    first, second = await create_package(integ, p), await create_package(integ, p)
    start = await last_seq(integ)
    r = await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": "inactive"})
    assert r.status_code == 200
    for package in (first, second):
        got = (await integ.get(f"/packages/{package['id']}")).json()
        assert got["status"] == "withdrawn" and p.hotel["name"] in got["status_reason"]
        assert (await integ.get(f"/packages/{package['id']}", auth=FAC)).status_code == 404
    assert await listed(integ, "/packages", auth=FAC, stakeholder_id=p.hotel["id"]) == []
    assert await listed(integ, "/packages", stakeholder_id=p.hotel["id"], status="withdrawn") == sorted(
        [first["id"], second["id"]])

    # A second party going inactive changes the reason; the package stays withdrawn.
    assert (await integ.patch(f"/stakeholders/{p.transfer['id']}", json={"status": "inactive"})).status_code == 200
    reason = (await integ.get(f"/packages/{first['id']}")).json()["status_reason"]
    assert p.hotel["name"] in reason and p.transfer["name"] in reason
    assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": "active"})).status_code == 200
    got = (await integ.get(f"/packages/{first['id']}")).json()
    assert got["status"] == "withdrawn" and got["status_reason"] == f"inactive stakeholders: {p.transfer['name']}"
    assert (await integ.patch(f"/stakeholders/{p.transfer['id']}", json={"status": "active"})).status_code == 200
    for package in (first, second):
        got = await integ.get(f"/packages/{package['id']}", auth=FAC)
        assert got.status_code == 200 and got.json()["status"] == "published"

    package_events = [(e["type"], e["subject"]) for e in await feed(integ, start) if e["type"].startswith("package.")]
    assert [t for t, s in package_events if s == first["id"]] == [
        "package.withdrawn", "package.withdrawn", "package.withdrawn", "package.published"]
    assert [t for t, s in package_events if s == second["id"]][-1] == "package.published"
    # A change that is not about status leaves packages alone.
    before = await last_seq(integ)
    assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"city": "Opatija"})).status_code == 200
    assert [e["type"] for e in await feed(integ, before)] == ["stakeholder.updated"]


async def test_a_dmo_withdrawal_sticks(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    p = await parties(integ)
    package = await create_package(integ, p)
    pid = package["id"]
    for auth in (as_(p.hospital["id"]), FAC):
        r = await integ.patch(f"/packages/{pid}", json={"status": "withdrawn"}, auth=auth)
        assert r.status_code == 403
    start = await last_seq(integ)
    r = await integ.patch(f"/packages/{pid}", json={"status": "withdrawn"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"', r.text
    assert r.json()["status"] == "withdrawn" and r.json()["status_reason"] == "withdrawn by the DMO"
    stale = await integ.patch(f"/packages/{pid}", json={"name": "late"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412

    for status in ("inactive", "active"):
        assert (await integ.patch(f"/stakeholders/{p.hotel['id']}", json={"status": status})).status_code == 200
    got = (await integ.get(f"/packages/{pid}")).json()
    assert got["status"] == "withdrawn" and got["status_reason"] == "withdrawn by the DMO"
    assert (await integ.get(f"/packages/{pid}", auth=FAC)).status_code == 404

    r = await integ.patch(f"/packages/{pid}", json={"status": "published", "name": "Hip, republished"})
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["status_reason"] is None
    assert r.json()["name"] == "Hip, republished"
    events = [(e["type"], e["subject"]) for e in await feed(integ, start) if e["type"].startswith("package.")]
    assert events == [("package.withdrawn", pid), ("package.published", pid)]
    assert (await integ.get("/packages/pkg_nope")).status_code == 404


async def test_null_package_name_is_422(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    pid = (await create_package(integ, await parties(integ)))["id"]
    r = await integ.patch(f"/packages/{pid}", json={"name": None})
    assert r.status_code == 422


async def test_null_package_status_is_422(integ: httpx.AsyncClient) -> None:
    await put_rates(integ)
    pid = (await create_package(integ, await parties(integ)))["id"]
    r = await integ.patch(f"/packages/{pid}", json={"status": None})
    assert r.status_code == 422
    assert (await integ.get(f"/packages/{pid}")).json()["status"] == "published"


# -- FX -----------------------------------------------------------------------------------------

async def test_fx_table_is_staff_only(integ: httpx.AsyncClient) -> None:
    for caller in (facilitator("stk_f"), provider("stk_p")):
        auth = SignedAs(caller)
        assert (await integ.get("/fx-rates", auth=auth)).status_code == 403
        r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "2"}}, auth=auth)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM


async def test_fx_table_is_replaced_whole_and_checked(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    start = await last_seq(integ)
    r = await integ.put("/fx-rates", json={"base": "eur", "rates": {"usd": "1.0812", "GBP": "0.8563", "EUR": "1"}})
    assert r.status_code == 200, r.text
    assert r.json()["base"] == "EUR" and r.json()["rates"] == {"GBP": "0.8563", "USD": "1.0812"}
    etag = r.headers["etag"]
    got = await integ.get("/fx-rates")
    assert got.json()["rates"] == {"GBP": "0.8563", "USD": "1.0812"} and got.headers["etag"] == etag
    (event,) = await feed(integ, start)
    assert event["type"] == "fx_rates.replaced" and event["data"]["base"] == "EUR"

    bad = [
        ({"base": "EUR", "rates": {"XYZ": "1.2"}}, "rates.XYZ"),
        ({"base": "XYZ", "rates": {}}, "base"),
        ({"base": "EUR", "rates": {"USD": "0"}}, "rates.USD"),
        ({"base": "EUR", "rates": {"USD": "-1.08"}}, "rates.USD"),
        ({"base": "EUR", "rates": {"USD": "lots"}}, "rates.USD"),
        ({"base": "EUR", "rates": {"EUR": "1.1", "USD": "1.08"}}, None),
        ({"rates": {"USD": "1.08"}}, "base"),
    ]
    for body, field in bad:
        r = await integ.put("/fx-rates", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (body, r.text)
        if field:
            assert any(e["field"].startswith(field) for e in r.json()["errors"]), (body, r.json())
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "9"}}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    got = await integ.get("/fx-rates")
    assert got.json()["rates"] == {"GBP": "0.8563", "USD": "1.0812"} and got.headers["etag"] == etag
    assert len(await feed(integ, start)) == 1
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.1"}}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["rates"] == {"USD": "1.1"} and r.headers["etag"] != etag


async def test_fx_table_must_keep_the_currencies_published_packages_use(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08", "GBP": "0.85"}})
    assert r.status_code == 200
    hotel = (await integ.post("/stakeholders", json={"kind": "hotel", "name": unique("Hotel"), "country": "HR",
                                                     "city": "Opatija"})).json()["id"]
    clinic = (await integ.post("/stakeholders", json={
        "kind": "wellness", "name": unique("Spa"), "country": "HR", "city": "Opatija",
        "specialties": ["spa_therapies"]})).json()["id"]
    package = await integ.post("/packages", json={"name": unique("Week"), "specialty": "spa_therapies", "components": [
        {"kind": "treatment", "stakeholder_id": clinic, "description": "spa", "price": money("900")},
        {"kind": "stay", "stakeholder_id": hotel, "description": "7 nights", "price": money("700", "USD")}]})
    assert package.status_code == 201 and package.json()["status"] == "published"
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"GBP": "0.85"}})
    assert r.status_code == 409 and "USD" in r.json()["detail"] and package.json()["id"] in r.json()["detail"]
    assert (await integ.get("/fx-rates")).json()["rates"] == {"GBP": "0.85", "USD": "1.08"}
    assert (await integ.get("/packages", params={"currency": "GBP"})).status_code == 200


async def test_an_approved_drop_of_a_specialty_withdraws_its_packages(integ: httpx.AsyncClient) -> None:
    await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08", "GBP": "0.85", "CHF": "0.94",
                                                                "SEK": "11.2", "NOK": "11.7", "DKK": "7.46"}})
    clinic = (await integ.post("/stakeholders", json={
        "kind": "clinic", "name": unique("Eye clinic"), "country": "HR", "city": "Rijeka",
        "specialties": ["ophthalmology", "checkups"]})).json()["id"]
    package = (await integ.post("/packages", json={"name": unique("LASIK"), "specialty": "ophthalmology",
                                                    "components": [{"kind": "treatment", "stakeholder_id": clinic,
                                                                    "description": "LASIK both eyes",
                                                                    "price": money("1900")}]})).json()
    assert package["status"] == "published"
    async with httpx.AsyncClient(base_url=str(integ.base_url), auth=as_(clinic)) as own:
        assert (await own.patch(f"/stakeholders/{clinic}", json={"specialties": ["checkups"]})).status_code == 200
        assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "published"  # only proposed
        assert (await integ.post(f"/stakeholders/{clinic}/proposal/approve")).status_code == 200
        after = (await integ.get(f"/packages/{package['id']}")).json()
        assert after["status"] == "withdrawn" and "no longer able to deliver" in after["status_reason"]
        assert (await own.patch(f"/stakeholders/{clinic}", json={"specialties": ["checkups", "ophthalmology"]})
                ).status_code == 200
        assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "withdrawn"
    assert (await integ.post(f"/stakeholders/{clinic}/proposal/approve")).status_code == 200
    assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "published"


async def test_totals_beyond_input_bounds_are_still_given(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {"NOK": "11.69"}})).status_code == 200
    clinic = (await integ.post("/stakeholders", json={
        "kind": "clinic", "name": unique("Clinic"), "country": "HR", "city": "Rijeka",
        "specialties": ["checkups"]})).json()["id"]
    big = money("99999999999999")
    r = await integ.post("/packages", json={"name": unique("Huge"), "specialty": "checkups", "components": [
        {"kind": "treatment", "stakeholder_id": clinic, "description": "a", "price": big},
        {"kind": "aftercare", "stakeholder_id": clinic, "description": "b", "price": big}]})
    assert r.status_code == 201, r.text
    assert r.json()["total"] == {"amount": "199999999999998.00", "currency": "EUR"}
    nok = (await integ.get(f"/packages/{r.json()['id']}", params={"currency": "NOK"})).json()
    expected = (Decimal("199999999999998") * Decimal("11.69")).quantize(Decimal("0.01"))
    assert Decimal(nok["total_in"]["amount"]) == expected


async def test_fx_table_keeps_currencies_of_withdrawn_packages_too(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {"SEK": "11.2"}})).status_code == 200
    hotel = (await integ.post("/stakeholders", json={"kind": "hotel", "name": unique("Hotel"), "country": "HR",
                                                     "city": "Opatija"})).json()["id"]
    spa = (await integ.post("/stakeholders", json={"kind": "wellness", "name": unique("Spa"), "country": "HR",
                                                   "city": "Opatija", "specialties": ["spa_therapies"]})).json()["id"]
    package = (await integ.post("/packages", json={"name": unique("Week"), "specialty": "spa_therapies",
                                                    "components": [
        {"kind": "treatment", "stakeholder_id": spa, "description": "spa", "price": money("900")},
        {"kind": "stay", "stakeholder_id": hotel, "description": "7 nights", "price": money("7000", "SEK")}]})).json()
    assert (await integ.patch(f"/stakeholders/{hotel}", json={"status": "inactive"})).status_code == 200
    assert (await integ.get(f"/packages/{package['id']}")).json()["status"] == "withdrawn"
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {}})
    assert r.status_code == 409 and "SEK" in r.json()["detail"]
    assert (await integ.patch(f"/stakeholders/{hotel}", json={"status": "active"})).status_code == 200
    listed = await integ.get("/packages", params={"limit": 500}, auth=FAC)
    assert listed.status_code == 200 and package["id"] in {p["id"] for p in listed.json()["items"]}


# -- extreme but valid FX rates ------------------------------------------------------------------

async def _store_rates(pair: Pair, rates: dict[str, str]) -> None:
    """Rates written before the write-time bounds existed, straight into the FX table."""
    engine = create_async_engine(pair.databases["integration"])
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.update(FxTableRecord.__table__).values(base="EUR", rates=rates))
    finally:
        await engine.dispose()


async def test_fx_rates_out_of_bounds_are_a_422_at_write_time(own_integ: httpx.AsyncClient) -> None:
    integ = own_integ
    for rate in ("0.0000000001", "0.0000009", "1000000.01", "9999999999", "1.00000000001"):
        r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08", "JPY": rate}})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (rate, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["rates.JPY"], r.json()
    r = await integ.put("/fx-rates", json={"base": "EUR", "rates": {"JPY": "1000000", "XAU": "0.000001"}})
    assert r.status_code == 200, r.text
    assert r.json()["rates"] == {"JPY": "1000000", "XAU": "0.000001"}


async def test_extreme_rates_never_break_the_package_list(own_pair: Pair) -> None:
    async with own_pair.client("integration") as integ:
        assert (await integ.put("/fx-rates", json={"base": "EUR", "rates": {"USD": "1.08", "GBP": "0.85"}})
                ).status_code == 200
        clinic = (await register(integ, kind="clinic", specialties=["checkups"]))["id"]
        top = money("99999999999999.9999", "USD")
        r = await integ.post("/packages", json={"name": unique("Huge"), "specialty": "checkups", "components": [
            {"kind": "treatment", "stakeholder_id": clinic, "description": "a", "price": top},
            {"kind": "aftercare", "stakeholder_id": clinic, "description": "b", "price": top}]})
        assert r.status_code == 201, r.text
        package = r.json()["id"]
        # The widest rates the old bounds took (10 decimals, 20 digits): a total of ~2e34 GBP.
        await _store_rates(own_pair, {"USD": "0.0000000001", "GBP": "9999999999.9999999999"})
        for path in ("/packages", f"/packages/{package}"):
            for currency in ({}, {"currency": "GBP"}, {"currency": "USD"}):
                r = await integ.get(path, params=currency)
                assert r.status_code == 200, (path, currency, r.text)
        gbp = (await integ.get(f"/packages/{package}", params={"currency": "GBP"})).json()["total_in"]
        with localcontext() as exact:
            exact.prec = 80
            expected = (2 * Decimal("99999999999999.9999") / Decimal("0.0000000001")
                        * Decimal("9999999999.9999999999")).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        assert gbp == money(format(expected, "f"), "GBP")
        # A rate no bound ever allowed (hand-edited): that one conversion is a 422, never a 500.
        await _store_rates(own_pair, {"USD": "0." + "0" * 70 + "1", "GBP": "0.85"})
        for path in ("/packages", f"/packages/{package}"):
            r = await integ.get(path, params={"currency": "GBP"})
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (path, r.text)
            assert r.json()["errors"][0]["field"] == "query.currency", r.json()


async def test_a_read_package_follows_a_replaced_fx_table(own_integ: httpx.AsyncClient) -> None:
    """Presentations are kept for repeated reads (``pentad.present``): the FX table's
    rates are part of what a total depends on."""
    integ = own_integ
    await put_rates(integ)
    package = await create_package(integ, await parties(integ))
    path = f"/packages/{package['id']}"
    for _ in range(2):
        gbp = (await integ.get(path, params={"currency": "GBP"})).json()
        assert gbp["total_in"] == money(total_in(package["components"], "GBP"), "GBP")
    await put_rates(integ, {"USD": "1.0812", "GBP": "0.9000"})
    new = {"USD": "1.0812", "GBP": "0.9000"}
    gbp = (await integ.get(path, params={"currency": "GBP"})).json()
    assert gbp["total_in"] == money(total_in(package["components"], "GBP", new), "GBP")
    assert gbp["fx_rates"]["GBP"] == "0.9000"
    page = (await integ.get("/packages", params={"currency": "GBP", "limit": 500})).json()
    listed = {p["id"]: p for p in page["items"]}
    assert listed[package["id"]]["total_in"] == gbp["total_in"]
