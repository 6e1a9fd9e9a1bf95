"""Ledger operations. Every method is one short transaction; callers never hold connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import asyncpg

from picloss.platform.ledger.migrate import migrate
from picloss.platform.ledger.sealing import DataKeys, Sealed


class LedgerUnavailable(RuntimeError):
    """The database cannot be reached or refused the operation for a transient reason."""


_TRANSIENT = (OSError, asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError,
              asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.TooManyConnectionsError,
              asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.SerializationError,
              asyncpg.exceptions.DeadlockDetectedError, TimeoutError)


class AcceptStatus(Enum):
    ACCEPTED = "accepted"          # new request, event published, committed
    DUPLICATE = "duplicate"        # same (appid, req_seqno) and content: the earlier accept_seqno
    CONFLICT = "conflict"          # same (appid, req_seqno), different content
    NONCE_REPLAYED = "nonce_replayed"


@dataclass(frozen=True)
class AcceptResult:
    status: AcceptStatus
    accept_seqno: str | None = None


@dataclass(frozen=True)
class NewFile:
    idx: int
    fileid: str
    fileurl: str
    filemd5_given: str | None


@dataclass(frozen=True)
class RequestRow:
    accept_seqno: str
    appid: str
    mchid: str
    req_seqno: str
    model: str
    callback_url: str
    state: str
    result_code: str | None
    sealed: Sealed | None              # the stored result (callback body), sealed; None before DONE or expired
    accepted_at: datetime
    done_at: datetime | None
    result_expired_at: datetime | None = None  # set when the retention purge deleted the result
    clear_result: dict[str, Any] | None = None  # a row stored before sealing existed, until re-sealed

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> RequestRow:
        clear = r["result"]
        sealed = Sealed(r["result_key"], bytes(r["result_sealed"])) if r["result_sealed"] is not None else None
        return cls(r["accept_seqno"], r["appid"], r["mchid"], r["req_seqno"], r["model"], r["callback_url"],
                   r["state"], r["result_code"], sealed, r["accepted_at"], r["done_at"], r["result_expired_at"],
                   json.loads(clear) if isinstance(clear, str) else clear)

    @property
    def has_result(self) -> bool:
        return self.sealed is not None or self.clear_result is not None

    def open_result(self, keys: DataKeys) -> dict[str, Any] | None:
        """The callback body; only where it is sent (dispatcher, query). Raises SealError when this process
        does not hold the row's key."""
        if self.sealed is not None:
            return keys.open_json(self.sealed, self.accept_seqno)
        return self.clear_result


@dataclass(frozen=True)
class Stalled:
    """A request claimed for re-drive: what its RequestAccepted event carries."""

    accept_seqno: str
    appid: str
    mchid: str
    req_seqno: str
    model: str
    callback_url: str
    state: str
    accepted_at: datetime
    redrives: int
    files: tuple[NewFile, ...]


@dataclass(frozen=True)
class Delivery:
    accept_seqno: str
    attempts: int


@dataclass(frozen=True)
class FileOutcome:
    idx: int
    filemd5: str | None
    image_class: str | None
    result_code: int
    detail: str | None


# Every accept of a group commit in one statement. Data-modifying CTEs share one snapshot; the foreign keys
# of the file and transition rows are checked at the end of the statement, when the request rows exist. `k`
# numbers the accepts of the group; `existing` is the earlier request of the same (appid, req_seqno), when one
# was committed before this statement began. A group never holds two accepts of one nonce or one req_seqno.
_ACCEPT = """
WITH input AS (
  SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[])
    AS i(k, appid, nonce, ttl_s, accept_seqno, mchid, req_seqno, content_hash, model, callback_url)),
n AS (
  INSERT INTO nonces (appid, nonce, expires_at)
  SELECT appid, nonce, now() + make_interval(secs => ttl_s) FROM input
  ON CONFLICT (appid, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE nonces.expires_at < now()
  RETURNING appid, nonce),
fresh AS (SELECT input.* FROM input JOIN n USING (appid, nonce)),
r AS (
  INSERT INTO requests (accept_seqno, appid, mchid, req_seqno, content_hash, model, callback_url, state)
  SELECT accept_seqno, appid, mchid, req_seqno, content_hash, model, callback_url, 'ACCEPTED' FROM fresh
  ON CONFLICT (appid, req_seqno) DO NOTHING RETURNING accept_seqno),
f AS (
  INSERT INTO request_files (accept_seqno, idx, fileid, fileurl, filemd5_given)
  SELECT u.accept_seqno, u.idx, u.fileid, u.fileurl, u.md5
  FROM unnest($11::text[], $12::int[], $13::text[], $14::text[], $15::text[])
    AS u(accept_seqno, idx, fileid, fileurl, md5)
  JOIN r USING (accept_seqno)),
t AS (
  INSERT INTO state_transitions (accept_seqno, from_state, to_state) SELECT accept_seqno, NULL, 'ACCEPTED' FROM r)
SELECT i.k, fr.k IS NOT NULL AS fresh, r.accept_seqno IS NOT NULL AS inserted,
       e.accept_seqno AS existing, e.content_hash AS existing_hash
FROM input i
LEFT JOIN fresh fr ON fr.k = i.k
LEFT JOIN r ON r.accept_seqno = i.accept_seqno
LEFT JOIN requests e ON e.appid = i.appid AND e.req_seqno = i.req_seqno
"""

# Undo an accept whose event the broker did not acknowledge, only while nobody has started on it.
_TAKE_BACK = """
WITH r AS (DELETE FROM requests WHERE accept_seqno = $1 AND state = 'ACCEPTED' RETURNING accept_seqno),
f AS (DELETE FROM request_files WHERE accept_seqno IN (SELECT accept_seqno FROM r)),
t AS (DELETE FROM state_transitions WHERE accept_seqno IN (SELECT accept_seqno FROM r)),
n AS (DELETE FROM nonces WHERE appid = $2 AND nonce = $3 AND EXISTS (SELECT 1 FROM r))
SELECT count(*) FROM r
"""

_REQUEST_COLUMNS = ("accept_seqno, appid, mchid, req_seqno, model, callback_url, state, result_code, "
                    "result, result_key, result_sealed, result_expired_at, accepted_at, done_at")

# Retention: one batch of results kept past the retention after delivery (or DELIVERY_FAILED) is deleted; the
# row, its states and its attempts stay. SKIP LOCKED: two dispatcher replicas purge disjoint batches.
_PURGE_RESULTS = """
UPDATE requests r SET result = NULL, result_key = NULL, result_sealed = NULL, result_expired_at = now()
FROM (SELECT accept_seqno FROM requests
      WHERE finished_at IS NOT NULL AND (result_sealed IS NOT NULL OR result IS NOT NULL)
        AND finished_at < now() - $1::interval
      ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) old
WHERE r.accept_seqno = old.accept_seqno
"""


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Connections go back to the pool as they are: no method sets session state, listens, keeps a cursor
    or holds an advisory lock past its statement (migrate unlocks its own), and asyncpg still rolls back an
    open transaction. The default reset query would add a round trip to every ledger call."""


@dataclass(frozen=True)
class _Accept:
    appid: str
    nonce: str
    nonce_ttl_s: float
    accept_seqno: str
    mchid: str
    req_seqno: str
    content_hash: str
    model: str
    callback_url: str
    files: tuple[NewFile, ...]


class GroupCommit:
    """Writes concurrent accepts together. A submit starts a writer when fewer than `writers` are busy; each
    writer takes what is queued (up to `max_group`, never two accepts of one nonce or one req_seqno: a later
    one waits for the next group) and writes it in one call of `write`. Alone, an accept goes at once; under
    load the groups grow by themselves, with no timer and no added wait."""

    def __init__(self, write: Callable[[Sequence[_Accept]], Awaitable[list[Any]]], *, writers: int = 1,
                 max_group: int = 64) -> None:
        self._write, self._writers, self._max = write, writers, max_group
        self._queue: list[tuple[_Accept, asyncio.Future[Any]]] = []
        self._busy = 0

    async def submit(self, item: _Accept) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._busy < self._writers:
            self._busy += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await done

    def _take(self) -> list[tuple[_Accept, asyncio.Future[Any]]]:
        group: list[tuple[_Accept, asyncio.Future[Any]]] = []
        rest: list[tuple[_Accept, asyncio.Future[Any]]] = []
        nonces: set[tuple[str, str]] = set()
        seqnos: set[tuple[str, str]] = set()
        for entry in self._queue:
            item = entry[0]
            nonce, seqno = (item.appid, item.nonce), (item.appid, item.req_seqno)
            if len(group) >= self._max or nonce in nonces or seqno in seqnos:
                rest.append(entry)
                continue
            nonces.add(nonce)
            seqnos.add(seqno)
            group.append(entry)
        self._queue = rest
        return group

    async def _drain(self) -> None:
        try:
            while group := self._take():
                try:
                    rows = await self._write([item for item, _ in group])
                except BaseException as exc:
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, done), row in zip(group, rows, strict=True):
                    if not done.done():
                        done.set_result(row)
        finally:
            self._busy -= 1


class Ledger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._group = GroupCommit(self._write_accepts)

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10, apply_migrations: bool = True,
                      timeout_s: float = 5.0, idle_lifetime_s: float = 300.0) -> Ledger:
        """`idle_lifetime_s`: close a pooled connection idle this long (0: never; saves a timer per call)."""

        async def init(conn: asyncpg.Connection) -> None:
            for kind in ("json", "jsonb"):
                await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

        # Every statement here is short and keyed (inserts, primary-key and index lookups): the generic plan is
        # the right one, so PostgreSQL plans each prepared statement once per connection, not on every call.
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init,
                                         server_settings={"plan_cache_mode": "force_generic_plan"},
                                         reset=_keep_session, timeout=timeout_s, command_timeout=30,
                                         max_inactive_connection_lifetime=idle_lifetime_s)
        if apply_migrations:
            async with pool.acquire() as conn:
                await migrate(conn)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> bool:
        try:
            async with self._pool.acquire(timeout=2) as conn:
                return bool(await conn.fetchval("SELECT 1"))
        except Exception:
            return False

    async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        try:
            async with self._pool.acquire(timeout=5) as conn:
                return await fn(conn)
        except _TRANSIENT as exc:
            raise LedgerUnavailable(str(exc)) from exc

    # ---------------------------------------------------------------- gateway

    async def accept(self, *, accept_seqno: str, appid: str, mchid: str, nonce: str, nonce_ttl_s: float,
                     req_seqno: str, content_hash: str, model: str, callback_url: str,
                     files: Sequence[NewFile], publish: Callable[[], Awaitable[None]]) -> AcceptResult:
        """Record the nonce, the request, its files and its first transition, then await `publish()` (the
        broker's ack).

        Accepts that arrive while others are being written are committed together (group commit): one
        statement, one round trip and one WAL flush for all of them, so the ledger keeps up with the gateway
        under load; alone, an accept is written at once. The ledger row is the outbox: it is committed before
        the event goes out, so the orchestrator always finds it. If publish raises, one more statement takes
        the row, its files and the nonce back (the caller answers SYSTEM_BUSY and may retry as is) and the
        error propagates. Should that also fail (the database gone too), or the caller be cancelled, the row
        stays ACCEPTED and the re-drive (`stalled`) publishes it later: an accepted request is never left
        without its event.
        """
        item = _Accept(appid, nonce, nonce_ttl_s, accept_seqno, mchid, req_seqno, content_hash, model,
                       callback_url, tuple(files))
        row = await self._group.submit(item)
        if not row["fresh"]:
            return AcceptResult(AcceptStatus.NONCE_REPLAYED)
        if not row["inserted"]:
            existing = (row["existing"], row["existing_hash"])
            if existing[0] is None:  # a concurrent accept of the same req_seqno committed after our snapshot
                found = await self._run(lambda conn: conn.fetchrow(
                    "SELECT accept_seqno, content_hash FROM requests WHERE appid = $1 AND req_seqno = $2",
                    appid, req_seqno))
                if found is None:  # ... and was taken back again (its publish failed): let the caller retry
                    await self._run(lambda conn: conn.execute(
                        "DELETE FROM nonces WHERE appid = $1 AND nonce = $2", appid, nonce))
                    raise LedgerUnavailable("concurrent accept of the same req_seqno; retry")
                existing = (found["accept_seqno"], found["content_hash"])
            if existing[1] == content_hash:
                return AcceptResult(AcceptStatus.DUPLICATE, existing[0])
            return AcceptResult(AcceptStatus.CONFLICT, existing[0])
        try:
            await publish()
        except Exception:  # not on cancellation: the event may be on its way, so the row stays (re-drive)
            try:
                await self._run(lambda conn: conn.fetchval(_TAKE_BACK, accept_seqno, appid, nonce))
            except LedgerUnavailable:
                pass  # the row stays ACCEPTED: the re-drive publishes it
            raise
        return AcceptResult(AcceptStatus.ACCEPTED, accept_seqno)

    async def _write_accepts(self, group: Sequence[_Accept]) -> list[asyncpg.Record]:
        """One statement for a group of accepts; one result row per accept, in order."""
        keys = list(range(len(group)))
        files = [(a.accept_seqno, f) for a in group for f in a.files]
        rows = await self._run(lambda conn: conn.fetch(
            _ACCEPT, keys, [a.appid for a in group], [a.nonce for a in group], [a.nonce_ttl_s for a in group],
            [a.accept_seqno for a in group], [a.mchid for a in group], [a.req_seqno for a in group],
            [a.content_hash for a in group], [a.model for a in group], [a.callback_url for a in group],
            [s for s, _ in files], [f.idx for _, f in files], [f.fileid for _, f in files],
            [f.fileurl for _, f in files], [f.filemd5_given for _, f in files]))
        by_key = {r["k"]: r for r in rows}
        return [by_key[k] for k in keys]

    async def purge_nonces(self) -> int:
        async def q(conn: asyncpg.Connection) -> int:
            status = await conn.execute("DELETE FROM nonces WHERE expires_at < now()")
            return int(status.split()[-1])

        purged: int = await self._run(q)
        return purged

    async def find(self, appid: str, *, req_seqno: str | None = None,
                   accept_seqno: str | None = None) -> RequestRow | None:
        async def q(conn: asyncpg.Connection) -> asyncpg.Record | None:
            if accept_seqno is not None:
                return await conn.fetchrow(f"SELECT {_REQUEST_COLUMNS} FROM requests "
                                           "WHERE appid = $1 AND accept_seqno = $2", appid, accept_seqno)
            return await conn.fetchrow(f"SELECT {_REQUEST_COLUMNS} FROM requests "
                                       "WHERE appid = $1 AND req_seqno = $2", appid, req_seqno)

        record = await self._run(q)
        return RequestRow.from_record(record) if record else None

    async def attempts(self, accept_seqno: str) -> list[dict[str, Any]]:
        async def q(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            return await conn.fetch("SELECT attempt, started_at, duration_ms, http_status, outcome, error "
                                    "FROM delivery_attempts WHERE accept_seqno = $1 ORDER BY attempt",
                                    accept_seqno)

        return [dict(r) for r in await self._run(q)]

    # ----------------------------------------------------------- orchestrator

    async def get(self, accept_seqno: str) -> RequestRow | None:
        record = await self._run(lambda conn: conn.fetchrow(
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE accept_seqno = $1", accept_seqno))
        return RequestRow.from_record(record) if record else None

    async def files(self, accept_seqno: str) -> list[dict[str, Any]]:
        rows = await self._run(lambda conn: conn.fetch(
            "SELECT idx, fileid, fileurl, filemd5_given FROM request_files WHERE accept_seqno = $1 "
            "ORDER BY idx", accept_seqno))
        return [dict(r) for r in rows]

    async def touch(self, accept_seqno: str) -> None:
        """Progress without a state change (the orchestrator's heartbeat while a long request runs)."""
        await self._run(lambda conn: conn.execute(
            "UPDATE requests SET updated_at = now() WHERE accept_seqno = $1 "
            "AND state IN ('ACCEPTED', 'PROCESSING')", accept_seqno))

    async def stalled(self, older_than_s: float, limit: int) -> list[Stalled]:
        """Claim up to `limit` requests ACCEPTED or PROCESSING with no progress for `older_than_s`: their
        updated_at moves to now (so another replica's re-drive skips them for the next window) and their
        redrives count goes up. The caller publishes each again; the orchestrator handles a repeated event
        idempotently (one result, one delivery)."""

        async def tx(conn: asyncpg.Connection) -> list[Stalled]:
            async with conn.transaction():
                rows = await conn.fetch(
                    "UPDATE requests r SET updated_at = now(), redrives = r.redrives + 1 FROM ("
                    " SELECT accept_seqno FROM requests WHERE state IN ('ACCEPTED', 'PROCESSING')"
                    " AND updated_at < now() - $1::interval ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED"
                    ") s WHERE r.accept_seqno = s.accept_seqno RETURNING r.accept_seqno, r.appid, r.mchid, "
                    "r.req_seqno, r.model, r.callback_url, r.state, r.accepted_at, r.redrives",
                    timedelta(seconds=older_than_s), limit)
                if not rows:
                    return []
                files: dict[str, list[NewFile]] = {}
                for f in await conn.fetch(
                        "SELECT accept_seqno, idx, fileid, fileurl, filemd5_given FROM request_files "
                        "WHERE accept_seqno = ANY($1::text[]) ORDER BY accept_seqno, idx",
                        [r["accept_seqno"] for r in rows]):
                    files.setdefault(f["accept_seqno"], []).append(
                        NewFile(f["idx"], f["fileid"], f["fileurl"], f["filemd5_given"]))
                return [Stalled(r["accept_seqno"], r["appid"], r["mchid"], r["req_seqno"], r["model"],
                                r["callback_url"], r["state"], r["accepted_at"], r["redrives"],
                                tuple(files.get(r["accept_seqno"], ()))) for r in rows]

        claimed: list[Stalled] = await self._run(tx)
        return claimed

    async def transition(self, accept_seqno: str, to_state: str, from_states: Sequence[str]) -> bool:
        """Move to `to_state` only from one of `from_states`; False when the request was elsewhere."""

        async def tx(conn: asyncpg.Connection) -> bool:
            async with conn.transaction():
                prev = await conn.fetchval(
                    "UPDATE requests r SET state = $2, updated_at = now() FROM (SELECT state FROM requests "
                    "WHERE accept_seqno = $1 FOR UPDATE) old WHERE r.accept_seqno = $1 "
                    "AND r.state = ANY($3::text[]) RETURNING old.state", accept_seqno, to_state, list(from_states))
                if prev is None:
                    return False
                await conn.execute("INSERT INTO state_transitions (accept_seqno, from_state, to_state) "
                                   "VALUES ($1, $2, $3)", accept_seqno, prev, to_state)
                return True

        moved: bool = await self._run(tx)
        return moved

    async def complete(self, accept_seqno: str, result_code: str, result: Sealed,
                       files: Sequence[FileOutcome]) -> bool:
        """Store the sealed result body and go DONE, once: a second completion keeps the first result."""

        async def tx(conn: asyncpg.Connection) -> bool:
            async with conn.transaction():
                prev = await conn.fetchval("SELECT state FROM requests WHERE accept_seqno = $1 FOR UPDATE",
                                           accept_seqno)
                if prev not in ("ACCEPTED", "PROCESSING"):
                    return False
                await conn.execute("UPDATE requests SET state = 'DONE', result_code = $2, result_key = $3, "
                                   "result_sealed = $4, done_at = now(), updated_at = now() "
                                   "WHERE accept_seqno = $1", accept_seqno, result_code, result.key_id, result.blob)
                await conn.executemany(
                    "UPDATE request_files SET filemd5 = $3, image_class = $4, result_code = $5, detail = $6 "
                    "WHERE accept_seqno = $1 AND idx = $2",
                    [(accept_seqno, f.idx, f.filemd5, f.image_class, f.result_code, f.detail) for f in files])
                await conn.execute("INSERT INTO state_transitions (accept_seqno, from_state, to_state) "
                                   "VALUES ($1, $2, 'DONE')", accept_seqno, prev)
                return True

        done: bool = await self._run(tx)
        return done

    # ------------------------------------------------------------- dispatcher

    async def ensure_delivery(self, accept_seqno: str) -> bool:
        """Create the delivery row for a DONE request (idempotent). False if the request is unknown."""

        async def q(conn: asyncpg.Connection) -> bool:
            exists = await conn.fetchval("SELECT state FROM requests WHERE accept_seqno = $1", accept_seqno)
            if exists is None:
                return False
            await conn.execute("INSERT INTO deliveries (accept_seqno) VALUES ($1) "
                               "ON CONFLICT (accept_seqno) DO NOTHING", accept_seqno)
            return True

        ok: bool = await self._run(q)
        return ok

    async def claim_due(self, limit: int, lease_s: float) -> list[Delivery]:
        rows = await self._run(lambda conn: conn.fetch(
            "UPDATE deliveries SET lease_until = now() + $2::interval WHERE accept_seqno IN ("
            " SELECT accept_seqno FROM deliveries WHERE status = 'PENDING' AND next_attempt_at <= now()"
            " AND (lease_until IS NULL OR lease_until < now()) ORDER BY next_attempt_at"
            " LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING accept_seqno, attempts",
            limit, timedelta(seconds=lease_s)))
        return [Delivery(r["accept_seqno"], r["attempts"]) for r in rows]

    async def seconds_to_next_due(self) -> float | None:
        value = await self._run(lambda conn: conn.fetchval(
            "SELECT EXTRACT(EPOCH FROM (min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at)))"
            " - now())) FROM deliveries WHERE status = 'PENDING'"))
        return None if value is None else max(0.0, float(value))

    async def pending_deliveries(self) -> int:
        value = await self._run(lambda conn: conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE status = 'PENDING'"))
        return int(value)

    async def record_attempt(self, *, accept_seqno: str, attempt: int, started_at: datetime, duration_ms: int,
                             http_status: int | None, success: bool, error: str | None,
                             retry_in_s: float | None) -> str:
        """Record one attempt; returns the delivery status after it (PENDING, DELIVERED, FAILED)."""

        async def tx(conn: asyncpg.Connection) -> str:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO delivery_attempts (accept_seqno, attempt, started_at, duration_ms, http_status, "
                    "outcome, error) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    accept_seqno, attempt, started_at, duration_ms, http_status,
                    "success" if success else "failure", error)
                if success:
                    status, state = "DELIVERED", "DELIVERED"
                elif retry_in_s is None:
                    status, state = "FAILED", "DELIVERY_FAILED"
                else:
                    status, state = "PENDING", None
                await conn.execute(
                    "UPDATE deliveries SET status = $2, attempts = $3, lease_until = NULL, updated_at = now(), "
                    "next_attempt_at = now() + $4::interval WHERE accept_seqno = $1",
                    accept_seqno, status, attempt, timedelta(seconds=retry_in_s or 0))
                if state is not None:
                    prev = await conn.fetchval("UPDATE requests r SET state = $2, updated_at = now(), "
                                               "finished_at = now() FROM (SELECT state FROM requests "
                                               "WHERE accept_seqno = $1 FOR UPDATE) old "
                                               "WHERE r.accept_seqno = $1 RETURNING old.state",
                                               accept_seqno, state)
                    await conn.execute("INSERT INTO state_transitions (accept_seqno, from_state, to_state) "
                                       "VALUES ($1, $2, $3)", accept_seqno, prev, state)
                return status

        status: str = await self._run(tx)
        return status

    async def reconcile_deliveries(self, older_than_s: float) -> int:
        """Create missing delivery rows for requests DONE longer than `older_than_s` ago."""
        status = await self._run(lambda conn: conn.execute(
            "INSERT INTO deliveries (accept_seqno) SELECT r.accept_seqno FROM requests r "
            "WHERE r.state = 'DONE' AND r.done_at < now() - $1::interval "
            "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.accept_seqno = r.accept_seqno) "
            "ON CONFLICT DO NOTHING", timedelta(seconds=older_than_s)))
        return int(status.split()[-1])

    # ------------------------------------------------------ personal data at rest

    async def purge_results(self, retention_s: float, batch: int) -> int:
        """Delete one batch of results finished more than `retention_s` ago; the number deleted."""
        status = await self._run(lambda conn: conn.execute(_PURGE_RESULTS, timedelta(seconds=retention_s), batch))
        return int(status.split()[-1])

    async def to_reseal(self, current_id: str) -> int:
        """How many stored results are not sealed under `current_id` (clear ones from before sealing included)."""
        value = await self._run(lambda conn: conn.fetchval(
            "SELECT count(*) FROM requests WHERE (result_sealed IS NOT NULL AND result_key <> $1) "
            "OR result IS NOT NULL", current_id))
        return int(value)

    async def reseal(self, keys: DataKeys, batch: int) -> int:
        """Seal one batch of results stored under another key than `keys.current_id` (or in clear, from before
        sealing) with the current key, in one transaction; the number moved. Rows another replica holds are
        skipped (SKIP LOCKED) and taken by a later batch. Raises SealError, changing nothing, when a row's key
        is not in `keys`."""

        async def tx(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                rows = await conn.fetch(
                    f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE (result_sealed IS NOT NULL AND "
                    "result_key <> $1) OR result IS NOT NULL ORDER BY accept_seqno LIMIT $2 FOR UPDATE SKIP LOCKED",
                    keys.current_id, batch)
                moved = []
                for record in rows:
                    row = RequestRow.from_record(record)
                    body = row.open_result(keys)
                    assert body is not None  # selected for holding a result
                    sealed = keys.seal_json(body, row.accept_seqno)
                    moved.append((row.accept_seqno, sealed.key_id, sealed.blob))
                await conn.executemany("UPDATE requests SET result = NULL, result_key = $2, result_sealed = $3 "
                                       "WHERE accept_seqno = $1", moved)
                return len(moved)

        count: int = await self._run(tx)
        return count
