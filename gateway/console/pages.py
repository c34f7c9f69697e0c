"""The DMO back-office console: server-rendered pages at ``/console`` for staff and admins.

Every figure on a page comes from the gateway's public API, called with the signed-in key
(``calls.py``); every form posts a CSRF token. Nothing here is in the public OpenAPI.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from importlib import resources as package_files
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.console import charts, signouts
from gateway.console.calls import Api, ApiError, SignedOut
from gateway.console.session import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    ConsoleSession,
    Sessions,
    csrf_ok,
)
from pentad.state import state_of

log = structlog.get_logger("pentad.console")



def _page_query(next: Annotated[str | None, Query()] = None,
                notice: Annotated[str | None, Query()] = None) -> None:
    """The query parameters the console's own redirects add (``?next=`` after sign-in, ``?notice=``
    after an action), declared so that the gateway's strict query check lets them through."""


router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(_page_query)])
templates = Jinja2Templates(directory=str(package_files.files("gateway.console") / "templates"))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _when(value: str | None) -> str:
    """An API timestamp as people read it (minutes, UTC)."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


templates.env.filters["duration"] = _duration
templates.env.filters["when"] = _when
STAFF_ROLES = frozenset({"admin", "staff"})
OPEN_ENQUIRIES = ("new", "routed", "responded", "quoted", "booked")
TERMINAL = frozenset({"succeeded", "failed", "compensated"})
LAUNCH_WAIT_SECONDS = 10.0
HEAT_WEEKS = 8
NAV = (("scorecard", "/console", "Scorecard"), ("segments", "/console/segments", "Segments"),
       ("providers", "/console/providers", "Providers"), ("capacity", "/console/capacity", "Capacity"),
       ("campaigns", "/console/campaigns", "Campaigns"), ("enquiries", "/console/enquiries", "Enquiries"),
       ("approvals", "/console/approvals", "Approvals"), ("actions", "/console/actions", "Actions"))


def _sessions(request: Request) -> Sessions:
    app_state = request.app.state
    found: Sessions | None = getattr(app_state, "console_sessions", None)
    if found is None:
        found = app_state.console_sessions = Sessions(state_of(request)["settings"].secret.encode())
    return found


async def _signed_in(request: Request) -> ConsoleSession | None:
    """The request's session: its cookie opens, and it was not signed out (on any replica)."""
    session = _sessions(request).open(request.cookies.get(SESSION_COOKIE))
    if session is None or await signouts.ended(state_of(request)["db"], session.id):
        return None
    return session


def _secure_headers(response: Response) -> Response:
    # Pages hold a DMO's working data: never cached, never framed, no script but our own.
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["content-security-policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return response


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    session: ConsoleSession | None = context.pop("session", None)
    response = templates.TemplateResponse(request, name, {
        "nav": NAV, "session": session, "csrf": session.csrf if session else "",
        "notice": request.query_params.get("notice"), **context}, status_code=status)
    return _secure_headers(response)


def _signed_out(request: Request) -> Response:
    target = "/console/login"
    if request.method == "GET" and request.url.path != "/console":
        target += "?" + urlencode({"next": request.url.path})
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")
    return _secure_headers(response)


Page = Callable[[Request, ConsoleSession, Api], Awaitable[Response]]


async def _page(request: Request, handler: Page, session: ConsoleSession | None = None) -> Response:
    """Runs a page with the session's key (``session``: already checked); signs out when there is
    none (or it stopped working)."""
    session = session or await _signed_in(request)
    if session is None:
        return _signed_out(request)
    api = Api.of(request, session.key)
    try:
        return await handler(request, session, api)
    except SignedOut:
        return _signed_out(request)
    except ApiError as exc:
        return render(request, "error.html", status=502 if exc.status >= 500 else exc.status, session=session,
                      title="The API refused", problem=exc.problem, messages=exc.messages)
    finally:
        await api.aclose()


async def _form_session(request: Request, csrf: str | None) -> ConsoleSession | Response:
    """The session a form was posted in, or the refusal: no session, or a CSRF token that is not its."""
    session = await _signed_in(request)
    if session is None:
        return _signed_out(request)
    if not csrf_ok(session, csrf):
        log.warning("console.csrf_refused", path=request.url.path)
        return render(request, "error.html", status=403, session=session, title="Form refused",
                      messages=["This form was not sent from this console session (CSRF token missing or "
                                "wrong). Reload the page and try again."], problem={})
    return session


async def _action(request: Request, csrf: str | None, act: Callable[[Api], Awaitable[str]]) -> Response:
    """A form's effect through the API, then back to a page (``act`` returns where to)."""
    found = await _form_session(request, csrf)
    if isinstance(found, Response):
        return found

    async def run(request: Request, _: ConsoleSession, api: Api) -> Response:
        return _secure_headers(RedirectResponse(await act(api), status_code=303))

    return await _page(request, run, found)


Csrf = Annotated[str | None, Form()]


# -- sign-in and out -------------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    # Only a console path: never an open redirect to another site.
    if target and target.startswith("/console") and "//" not in target and "\\" not in target:
        return target
    return "/console"


def _login_page(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, error=error,
                      login_csrf=_sessions(request).login_token(nonce),
                      next=_safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path=COOKIE_PATH, secure=True, httponly=True,
                        samesite="strict")
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, key: Annotated[str, Form()] = "", csrf: Csrf = None,
                next: Annotated[str, Form()] = "/console") -> Response:
    sessions = _sessions(request)
    if not sessions.login_token_ok(request.cookies.get(LOGIN_COOKIE), csrf):
        return _login_page(request, status=403, error="The sign-in form expired or was not sent from this page: "
                                                      "try again.")
    key = key.strip()
    if not key or len(key) > 512:
        return _login_page(request, status=422, error="Enter an API key.")
    api = Api.of(request, key)
    try:
        who = await api.get("/integration/whoami")
    except SignedOut:
        return _login_page(request, status=401, error="That key is not valid (unknown or revoked).")
    except ApiError as exc:
        return _login_page(request, status=exc.status, error="; ".join(exc.messages))
    finally:
        await api.aclose()
    if who["role"] not in STAFF_ROLES:
        log.info("console.refused_role", role=who["role"], key_id=who["key_id"])
        return _login_page(request, status=403, error=f"This console is for DMO staff and admins; a "
                                                      f"{who['role']} key cannot sign in here.")
    session = sessions.new(key=key, role=who["role"])
    response = _secure_headers(RedirectResponse(_safe_next(next), status_code=303))
    response.set_cookie(SESSION_COOKIE, sessions.seal(session), max_age=SESSION_SECONDS, path=COOKIE_PATH,
                        secure=True, httponly=True, samesite="strict")
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    log.info("console.signed_in", key_id=who["key_id"], role=who["role"])
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Csrf = None) -> Response:
    found = await _form_session(request, csrf)
    if isinstance(found, Response):
        return found
    # Ended in the database, not only in this browser: a copy of the cookie is refused by every replica.
    await signouts.end(state_of(request)["db"], found)
    log.info("console.signed_out", role=found.role)
    response = _secure_headers(RedirectResponse("/console/login?notice=Signed+out", status_code=303))
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")
    return response


# -- scorecard ------------------------------------------------------------------------------------

@router.get("")
async def scorecard(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        card, (points, cut) = await asyncio.gather(api.get("/dmo/scorecard"), api.all("/development/assessments"))
        return render(request, "scorecard.html", session=session, page="scorecard", card=card,
                      bars=charts.pillar_bars(card), bar_width=charts.BAR_WIDTH,
                      columns=charts.assessment_columns(points), trend_height=charts.TREND_HEIGHT, cut=cut)
    return await _page(request, page)


# -- segments ------------------------------------------------------------------------------------

@router.get("/segments")
async def segments(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        found, cut = await api.all("/segmentation/segments")
        active = [s for s in found if s.get("status", "active") == "active"]
        readiness = await asyncio.gather(*(api.get(f"/dmo/segments/{quote(s['id'], safe='')}/readiness")
                                           for s in active))
        return render(request, "segments.html", session=session, page="segments",
                      rows=list(zip(active, readiness, strict=True)), cut=cut)
    return await _page(request, page)


@router.get("/segments/{segment_id}/offer")
async def offer(request: Request, segment_id: str) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        sid = quote(segment_id, safe="")
        segment, found = await asyncio.gather(api.get(f"/segmentation/segments/{sid}"),
                                              api.get(f"/dmo/segments/{sid}/offer", explain="true", limit=100))
        return render(request, "offer.html", session=session, page="segments", segment=segment, offer=found)
    return await _page(request, page)


# -- providers ------------------------------------------------------------------------------------

def _today() -> date:
    return datetime.now(UTC).date()


@router.get("/providers")
async def providers(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        today = _today()
        (stakeholders, cut), (accreditations, _), (schemes, _), (performance, _) = await asyncio.gather(
            api.all("/integration/stakeholders", status="active"), api.all("/administration/accreditations"),
            api.all("/administration/schemes"), api.all("/promotion/performance/providers"))
        names = {s["id"]: s["name"] for s in stakeholders}
        specialties = sorted({sp for s in stakeholders for sp in s.get("specialties") or []})
        weekly = (await api.all("/integration/capacity/weekly", specialty=specialties, **{
            "from": today.isoformat(), "to": (today + timedelta(weeks=HEAT_WEEKS)).isoformat()}))[0] \
            if specialties else []
        fresh: dict[str, int] = {}
        for row in weekly:
            fresh[row["stakeholder_id"]] = fresh.get(row["stakeholder_id"], 0) + row["fresh_slots"]
        horizon = today + timedelta(days=90)
        lapsing = sorted((a for a in accreditations if a["status"] in ("valid", "expiring")
                          and date.fromisoformat(a["expires_on"]) <= horizon), key=lambda a: a["expires_on"])
        held: dict[str, list[dict[str, Any]]] = {}
        for a in accreditations:
            held.setdefault(a["stakeholder_id"], []).append(a)
        providers = [s for s in stakeholders if s["kind"] not in ("facilitator", "insurer")]
        return render(request, "providers.html", session=session, page="providers", providers=providers,
                      held=held, fresh=fresh, names=names, schemes={s["id"]: s for s in schemes},
                      performance={p["stakeholder_id"]: p for p in performance}, lapsing=lapsing,
                      timeline=[(a, (date.fromisoformat(a["expires_on"]) - today).days) for a in lapsing],
                      weeks=HEAT_WEEKS, cut=cut)
    return await _page(request, page)


# -- capacity -------------------------------------------------------------------------------------

@router.get("/capacity")
async def capacity(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        today = _today()
        start = today - timedelta(days=today.weekday())
        end = start + timedelta(weeks=HEAT_WEEKS, days=-1)
        segs, _ = await api.all("/segmentation/segments")
        specialties = sorted({sp for s in segs for sp in s.get("specialties") or []})
        rows = (await api.all("/integration/capacity/weekly", specialty=specialties,
                              **{"from": today.isoformat(), "to": end.isoformat()}))[0] if specialties else []
        weeks = [(start + timedelta(weeks=i)) for i in range(HEAT_WEEKS)]
        labels = [f"{w.isocalendar().year}-W{w.isocalendar().week:02d}" for w in weeks]
        grid = {sp: dict.fromkeys(labels, 0) for sp in specialties}
        for row in rows:
            if row["specialty"] in grid and row["week"] in grid[row["specialty"]]:
                grid[row["specialty"]][row["week"]] += row["fresh_slots"]
        top = max((v for cells in grid.values() for v in cells.values()), default=0)
        return render(request, "capacity.html", session=session, page="capacity", weeks=list(zip(labels, weeks,
                      strict=True)), grid=grid, top=top, level=charts.heat_level)
    return await _page(request, page)


# -- campaigns -------------------------------------------------------------------------------------

@router.get("/campaigns")
async def campaigns(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        found, cut = await api.all("/promotion/campaigns")
        funnels = await asyncio.gather(*(api.get("/promotion/attribution", campaign_id=c["id"]) for c in found))
        segs, _ = await api.all("/segmentation/segments")
        return render(request, "campaigns.html", session=session, page="campaigns",
                      rows=list(zip(found, funnels, strict=True)), segments={s["id"]: s for s in segs}, cut=cut,
                      share=_spend_share)
    return await _page(request, page)


def _spend_share(campaign: dict[str, Any]) -> float:
    try:
        budget = float(campaign["budget"]["amount"])
        return min(1.0, float(campaign["spent"]["amount"]) / budget) if budget > 0 else 0.0
    except (KeyError, TypeError, ValueError):
        return 0.0


@router.post("/campaigns/{campaign_id}/launch")
async def launch(request: Request, campaign_id: str, csrf: Csrf = None,
                 open_initiatives: Annotated[bool, Form()] = False) -> Response:
    async def act(api: Api) -> str:
        action = await api.post("/dmo/actions/launch-campaign", {"campaign_id": campaign_id,
                                                                 "open_initiatives": open_initiatives},
                                idempotent=True)
        await _settled(api, action)
        return f"/console/actions/{quote(action['id'], safe='')}"
    return await _action(request, csrf, act)


async def _settled(api: Api, action: dict[str, Any]) -> dict[str, Any]:
    """The action once it ended, or as it stands after LAUNCH_WAIT_SECONDS (the page then refreshes)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + LAUNCH_WAIT_SECONDS
    while action["status"] not in TERMINAL and loop.time() < until:
        await asyncio.sleep(0.2)
        action = await api.get(f"/dmo/actions/{quote(action['id'], safe='')}")
    return action


# -- enquiries -------------------------------------------------------------------------------------

@router.get("/enquiries")
async def enquiries(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        (found, cut), (stakeholders, _) = await asyncio.gather(
            api.all("/promotion/enquiries", status=list(OPEN_ENQUIRIES)), api.all("/integration/stakeholders"))
        now = datetime.now(UTC)

        def deadline(e: dict[str, Any]) -> str:
            pending = [a["respond_by"] for a in e["assignments"] if a["status"] == "pending"]
            return min(pending) if pending else "9999"

        found.sort(key=lambda e: (not any(a["breached"] for a in e["assignments"]), deadline(e)))
        return render(request, "enquiries.html", session=session, page="enquiries", rows=found, cut=cut,
                      names={s["id"]: s["name"] for s in stakeholders}, now=now.isoformat(),
                      breached=sum(any(a["breached"] for a in e["assignments"]) for e in found))
    return await _page(request, page)


# -- approvals -------------------------------------------------------------------------------------

@router.get("/approvals")
async def approvals(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        (pending, _), (proposals, _), (stakeholders, _), (schemes, _) = await asyncio.gather(
            api.all("/administration/accreditations", status="pending"),
            api.all("/integration/stakeholders", proposal="pending"), api.all("/integration/stakeholders"),
            api.all("/administration/schemes"))
        return render(request, "approvals.html", session=session, page="approvals", pending=pending,
                      proposals=proposals, names={s["id"]: s["name"] for s in stakeholders},
                      schemes={s["id"]: s for s in schemes})
    return await _page(request, page)


@router.post("/approvals/accreditations/{accreditation_id}")
async def decide_accreditation(request: Request, accreditation_id: str, csrf: Csrf = None,
                               decision: Annotated[str, Form()] = "",
                               reason: Annotated[str, Form()] = "") -> Response:
    async def act(api: Api) -> str:
        body: dict[str, Any] = {"status": "valid" if decision == "approve" else "revoked"}
        if reason.strip():
            body["reason"] = reason.strip()
        await api.patch(f"/administration/accreditations/{quote(accreditation_id, safe='')}", body)
        return "/console/approvals?" + urlencode({"notice": f"Accreditation {accreditation_id}: "
                                                             f"{'verified' if decision == 'approve' else 'rejected'}."})
    if decision not in ("approve", "reject"):
        return await _bad_decision(request, csrf)
    return await _action(request, csrf, act)


@router.post("/approvals/proposals/{stakeholder_id}")
async def decide_proposal(request: Request, stakeholder_id: str, csrf: Csrf = None,
                          decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "") -> Response:
    async def act(api: Api) -> str:
        body = {"reason": reason.strip()} if reason.strip() else {}
        await api.post(f"/integration/stakeholders/{quote(stakeholder_id, safe='')}/proposal/{decision}", body)
        return "/console/approvals?" + urlencode({"notice": f"Proposal of {stakeholder_id}: {decision}d."})
    if decision not in ("approve", "reject"):
        return await _bad_decision(request, csrf)
    return await _action(request, csrf, act)


async def _bad_decision(request: Request, csrf: str | None) -> Response:
    found = await _form_session(request, csrf)
    if isinstance(found, Response):
        return found
    return render(request, "error.html", status=422, session=found, title="Choose approve or reject",
                  messages=["decision: must be approve or reject"], problem={})


# -- actions and reactions ---------------------------------------------------------------------------

@router.get("/actions")
async def actions(request: Request) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        (done, cut), (reactions, _) = await asyncio.gather(api.all("/dmo/actions"), api.all("/dmo/reactions"))
        return render(request, "actions.html", session=session, page="actions", actions=list(reversed(done)),
                      reactions=list(reversed(reactions)), cut=cut)
    return await _page(request, page)


@router.get("/actions/{action_id}")
async def action(request: Request, action_id: str) -> Response:
    async def page(request: Request, session: ConsoleSession, api: Api) -> Response:
        found = await api.get(f"/dmo/actions/{quote(action_id, safe='')}")
        return render(request, "action.html", session=session, page="actions", action=found,
                      running=found["status"] not in TERMINAL,
                      refresh=2 if found["status"] not in TERMINAL else None)
    return await _page(request, page)

