"""The simulator's control API: set faults per lantern or fleet-wide, read what a lantern did.

A small HTTP/1.1 server on the fleet's own event loop (so it touches lantern state safely), bound
to 127.0.0.1 by default; JSON in and out, one request per connection. Every request needs
``Authorization: Bearer <token>``: the token is random per start (or given by the operator) and
printed by ``firmware-sim`` and ``lightctl demo``; without it the answer is 401 and nothing
changes, so a process on the same machine cannot reboot lanterns or swap their trust list.

- ``GET /healthz``: lanterns, gateways connected, trust list version
- ``GET /lanterns/{id}``: online, boot, faults, reported state, acks, programs played, downloads
- ``GET /commands/{id}``: per lantern, how often it played the command and the acks it sent
- ``GET /faults``: the standing faults of every lantern that has any, and which are offline
- ``POST /faults`` ``{"spec": "offline=10@30%;drop_acks=0.2"}``: apply (see firmware_sim/faults.py)
- ``DELETE /faults``: clear every fault; offline lanterns come back
- ``PUT /trust``: a newer trust list (a fleet on another machine than the key store), signed by
  a root key the fleet was provisioned with: unsigned or wrongly signed, it is refused (403)
- ``GET /metrics``: signature checks, verification cache hits, clip retries, acks dropped
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from firmware_sim.faults import FaultClause, Faults, FaultSpecError, parse_faults, select
from firmware_sim.verifier import TrustRefusal, TrustVerifier
from lightctl.protocol.trust import TrustList

if TYPE_CHECKING:
    from firmware_sim.fleet import Fleet

log = logging.getLogger(__name__)

# Requests are tiny (a fault spec, a trust list of a few keys); anything bigger is refused.
MAX_BODY_BYTES = 256 * 1024
# The most recent entries of each list a lantern record returns.
RECORD_TAIL = 200
READ_TIMEOUT_S = 10.0
# 32 random bytes: as strong as the Ed25519 keys the lanterns trust.
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def apply_clauses(fleet: Fleet, clauses: Sequence[FaultClause]) -> dict[str, list[str]]:
    """Apply parsed clauses in order; returns the lantern ids each fault name reached."""
    reached: dict[str, list[str]] = defaultdict(list)
    for clause in clauses:
        ids = select(clause.selector, fleet.lantern_ids)
        for lantern_id in ids:
            unit = fleet.unit(lantern_id)
            if clause.name == "offline":
                unit.link.go_offline(clause.seconds())
            elif clause.name == "reboot":
                fleet.reboot(lantern_id)
            elif clause.name == "clear":
                fleet.set_faults(lantern_id, Faults())
                unit.link.come_back()
            else:
                fleet.set_faults(lantern_id, clause.apply(unit.link.faults))
        reached[clause.name].extend(ids)
        log.info("fault %s applied to %d lanterns", clause.name, len(ids))
    return dict(reached)


def apply_spec(fleet: Fleet, spec: str) -> dict[str, list[str]]:
    """Parse and apply a spec (``FaultSpecError`` before anything changes)."""
    clauses = parse_faults(spec)
    for clause in clauses:
        select(clause.selector, fleet.lantern_ids)  # unknown ids fail before any change
    return apply_clauses(fleet, clauses)


def describe(fleet: Fleet, lantern_id: str) -> dict[str, Any]:
    unit = fleet.unit(lantern_id)
    record = unit.record
    return {
        "id": lantern_id,
        "online": unit.link.online,
        "boot": unit.link.boot,
        "faults": unit.link.faults.to_json(),
        "state": unit.lantern.state(fleet.clock()).model_dump(mode="json", exclude_none=True),
        "acks": [a.model_dump(mode="json", exclude_none=True) for a in record.acks][-RECORD_TAIL:],
        "played": [{"cmd_id": c, "clips": list(h)} for c, h in record.played][-RECORD_TAIL:],
        "fetched": [{"url": u, "sha256": d} for u, d in record.fetched][-RECORD_TAIL:],
        "dropped": list(record.dropped)[-RECORD_TAIL:],
    }


def command_report(fleet: Fleet, cmd_id: str) -> dict[str, Any]:
    """Which lanterns played a command to its end (and how often), what each acked, and when
    each started to sound (the signal) and to speak (its first sentence), wall-clock."""
    played: dict[str, int] = {}
    acks: dict[str, list[str]] = {}
    sounded: dict[str, str] = {}
    spoke: dict[str, str] = {}
    for lantern_id in fleet.lantern_ids:
        record = fleet.unit(lantern_id).record
        times = sum(1 for played_id, _clips in record.played if played_id == cmd_id)
        if times:
            played[lantern_id] = times
        statuses = [a.status.value for a in record.acks if a.cmd_id == cmd_id]
        if statuses:
            acks[lantern_id] = statuses
        sound = next((at for c, at in record.sounded if c == cmd_id), None)
        if sound is not None:
            sounded[lantern_id] = sound.isoformat()
        speech = next((at for c, _first, at in record.speech if c == cmd_id), None)
        if speech is not None:
            spoke[lantern_id] = speech.isoformat()
    return {"cmd_id": cmd_id, "played": played, "acks": acks, "sounded": sounded, "spoke": spoke}


def metrics(fleet: Fleet) -> dict[str, Any]:
    verifier = fleet.verifier
    checks = dict(verifier.stats) if isinstance(verifier, TrustVerifier) else {}
    units = [fleet.unit(i) for i in fleet.lantern_ids]
    return {
        "lanterns": len(units),
        "offline": sum(1 for u in units if not u.link.online),
        "signature_checks": checks,
        "trust_version": verifier.version if isinstance(verifier, TrustVerifier) else None,
        "clip_retries": fleet.fetcher.retries,
        "acks_dropped": sum(u.link.acks_dropped for u in units),
        "programs_played": sum(len(u.record.played) for u in units),
    }


class ControlServer:
    """``start`` binds and serves on the running loop; ``stop`` closes the listener."""

    def __init__(
        self, fleet: Fleet, port: int, host: str = "127.0.0.1", token: str | None = None
    ) -> None:
        self.fleet = fleet
        self.host = host
        self.port = port
        # What every request must present (Authorization: Bearer ...); random unless given.
        self.token = token or new_token()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sockets = self._server.sockets or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("control API on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, headers, body = await asyncio.wait_for(
                _read_request(reader), READ_TIMEOUT_S
            )
            self._authorize(headers)
            status, answer = self.route(method, path, body)
        except _HttpError as exc:
            status, answer = exc.status, {"detail": exc.detail}
            if exc.reason is not None:
                answer["reason"] = exc.reason
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        except Exception:  # the fleet must outlive a bug in its control API
            log.exception("control API request failed")
            status, answer = 500, {"detail": "internal error"}
        data = json.dumps(answer).encode()
        challenge = 'WWW-Authenticate: Bearer realm="firmware-sim"\r\n' if status == 401 else ""
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"{challenge}"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _authorize(self, headers: dict[str, str]) -> None:
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise _HttpError(401, "the control API needs Authorization: Bearer <token>")
        # Constant time: the answer must not tell how much of a guess was right.
        if not hmac.compare_digest(presented.strip().encode(), self.token.encode()):
            raise _HttpError(401, "wrong control API token")

    def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        fleet = self.fleet
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if method == "GET" and parts == ["healthz"]:
            connected = sum(1 for g in fleet.gateways if g.connected)
            return 200, {"lanterns": len(fleet.lantern_ids), "gateways_connected": connected}
        if method == "GET" and parts == ["metrics"]:
            return 200, metrics(fleet)
        if method == "GET" and len(parts) == 2 and parts[0] == "lanterns":
            if parts[1] not in set(fleet.lantern_ids):
                raise _HttpError(404, f"no lantern {parts[1]!r} in this fleet")
            return 200, describe(fleet, parts[1])
        if method == "GET" and len(parts) == 2 and parts[0] == "commands":
            return 200, command_report(fleet, parts[1])
        if parts == ["faults"]:
            return self._faults(method, body)
        if method == "PUT" and parts == ["trust"]:
            return self._trust(body)
        raise _HttpError(404, f"no route {method} {path}")

    def _faults(self, method: str, body: bytes) -> tuple[int, Any]:
        fleet = self.fleet
        if method == "GET":
            units = {i: fleet.unit(i) for i in fleet.lantern_ids}
            faulty = {i: u.link.faults for i, u in units.items() if u.link.faults.any}
            return 200, {
                "faults": {i: f.to_json() for i, f in faulty.items()},
                "offline": [i for i, u in units.items() if not u.link.online],
            }
        if method == "DELETE":
            return 200, {"applied": apply_spec(fleet, "clear")}
        if method == "POST":
            spec = _json(body).get("spec")
            if not isinstance(spec, str):
                raise _HttpError(422, 'body must be {"spec": "NAME[=VALUE][@SELECTOR];..."}')
            try:
                return 200, {"applied": apply_spec(fleet, spec)}
            except FaultSpecError as exc:
                raise _HttpError(422, str(exc)) from None
        raise _HttpError(405, f"{method} not allowed on /faults")

    def _trust(self, body: bytes) -> tuple[int, Any]:
        verifier = self.fleet.verifier
        if not isinstance(verifier, TrustVerifier):
            raise _HttpError(409, "this fleet runs without --trust: it checks no signatures")
        try:
            trust = TrustList.from_bytes(body)
        except ValidationError as exc:
            raise _HttpError(422, str(exc).splitlines()[0]) from None
        refusal = verifier.offer(trust)
        if refusal in (None, TrustRefusal.NOT_NEWER):
            answer: dict[str, Any] = {"taken": refusal is None, "version": verifier.version}
            return 200, answer if refusal is None else {**answer, "reason": refusal.value}
        log.warning("PUT /trust refused: %s (version %d offered)", refusal, trust.version)
        detail = {
            TrustRefusal.UNSIGNED: "the trust list is not signed by a root key",
            TrustRefusal.UNKNOWN_ROOT: f"signed by root {trust.root_kid!r}, not one of ours",
            TrustRefusal.BAD_SIGNATURE: "the root's signature does not match the list",
        }[refusal]
        raise _HttpError(403, f"trust list refused: {detail}", refusal.value)


class _HttpError(Exception):
    def __init__(self, status: int, detail: str, reason: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.reason = reason


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
_REASONS.update({404: "Not Found", 405: "Method Not Allowed"})
_REASONS.update({409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Content"})
_REASONS[500] = "Internal Server Error"


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, path, _version = lines[0].split(" ", 2)
    except ValueError:
        raise _HttpError(400, "bad request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip():
            headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _HttpError(400, "bad Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise _HttpError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    # Read even when the token is missing: closing with unread bytes resets the connection,
    # and the caller would never see the 401 that says why.
    body = await reader.readexactly(length) if length else b""
    return method.upper(), path, headers, body


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _HttpError(400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise _HttpError(422, "body must be a JSON object")
    return data
