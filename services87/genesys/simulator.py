"""Live traffic simulator: agents log in, take calls from queues, wrap up, go not ready; callers abandon;
tickets are created, answered and closed.

Every event goes through the ingest path:

* ``services87 serve --simulate``: in the server process, through :func:`services87.genesys.ingest.submit`
  (the function the ``/api/ingest/events`` resource calls after parsing), so store change events reach the
  Statistics API push like any ingested event;
* ``services87 simulate --url ...``: over HTTP to ``POST /api/ingest/events`` of a running server.

Deterministic for a seed; bounded by ``max_events`` (and, for the CLI, ``--seconds``).
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.task import LoopingCall

from services87.engine.storage.live import QUEUE_SUFFIX
from services87.genesys.ingest import normalize_batch, submit

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

REASONS = ("Break", "Lunch", "Meeting", "Training", "Coaching")


@dataclass
class Agent:
    login: str
    groups: list[str]
    status: str = "LoggedOut"
    since: float = 0.0
    call: str | None = None


@dataclass
class Simulation:
    """The state machine; :meth:`step` returns the next small batch of raw ingest events."""

    agents: list[Agent]
    queues: list[str]
    seed: int = 87
    tickets: bool = True
    rnd: random.Random = field(init=False)
    waiting: dict[str, tuple[str, float]] = field(default_factory=dict)  # interaction -> (queue, since)
    open_tickets: list[str] = field(default_factory=list)
    run_id: str = ""

    def __post_init__(self):
        self.rnd = random.Random(self.seed)
        self._ids = itertools.count(1)
        self.run_id = self.run_id or f"{int(time.time() * 1000):x}"

    def _id(self, prefix: str) -> str:
        return f"sim-{self.run_id}-{prefix}{next(self._ids)}"

    def setup(self) -> list[dict]:
        """Places (one per agent, in the agent's first group) and queues (one per group)."""
        out = []
        for i, a in enumerate(self.agents):
            ev = {"id": self._id("p"), "type": "place", "place": f"Place_{a.login}", "dn": str(5001 + i)}
            if a.groups:
                ev["group"] = a.groups[0]
            out.append(ev)
        for q in self.queues:
            out.append({"id": self._id("q"), "type": "queue", "queue": q})
        return out

    def step(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        ts = int(now * 1000)
        rnd = self.rnd
        out: list[dict] = []

        def state(a: Agent, status: str, **kw) -> None:
            a.status, a.since = status, now
            out.append({"id": self._id("s"), "type": "agent-state", "ts": ts, "agent": a.login, "status": status,
                        "place": f"Place_{a.login}", **kw})

        r = rnd.random()
        # keep the queues realistic: fewer new calls (and more abandons) the longer the queues get
        if r < 0.25 and self.queues and len(self.waiting) < max(2, len(self.agents)):
            iid = self._id("call")
            q = rnd.choice(self.queues)
            self.waiting[iid] = (q, now)
            out.append({"id": self._id("i"), "type": "interaction", "ts": ts, "interaction": iid, "event": "offered",
                        "queue": q, "media": "voice"})
        elif r < 0.25 + 0.02 * min(len(self.waiting), 5) and self.waiting:
            iid = rnd.choice(sorted(self.waiting))
            self.waiting.pop(iid)
            out.append({"id": self._id("i"), "type": "interaction", "ts": ts, "interaction": iid, "event": "abandoned"})
        elif 0.4 <= r < 0.48 and self.tickets:
            if self.open_tickets and rnd.random() < 0.5:
                ext = self.open_tickets.pop(rnd.randrange(len(self.open_tickets)))
                if rnd.random() < 0.5:
                    out.append({"id": self._id("t"), "type": "message", "ts": ts, "request": ext,
                                "direction": "outbound", "author": rnd.choice(self.agents).login})
                    self.open_tickets.append(ext)
                else:
                    out.append({"id": self._id("t"), "type": "request", "action": "close", "ts": ts,
                                "request": {"external_id": ext}})
            else:
                ext = self._id("REQ")
                self.open_tickets.append(ext)
                out.append({"id": self._id("t"), "type": "request", "action": "create",
                            "request": {"external_id": ext, "title": "Live request", "status": "New",
                                        "owner": rnd.choice(self.agents).login, "origin": "Phone"}})
                out.append({"id": self._id("t"), "type": "message", "ts": ts, "request": ext, "direction": "inbound"})
        else:
            a = rnd.choice(self.agents)
            if a.status == "LoggedOut":
                state(a, "LoggedIn")
                state(a, "WaitForNextCall")
            elif a.status == "WaitForNextCall":
                mine = [i for i, (q, _s) in self.waiting.items() if q.removesuffix(QUEUE_SUFFIX) in a.groups]
                if mine and rnd.random() < 0.8:
                    iid = min(mine, key=lambda i: self.waiting[i][1])
                    self.waiting.pop(iid)
                    a.call = iid
                    out.append({"id": self._id("i"), "type": "interaction", "ts": ts, "interaction": iid,
                                "event": "answered", "agent": a.login})
                    state(a, "CallInbound")
                elif rnd.random() < 0.3:
                    state(a, "NotReadyForNextCall", reason=rnd.choice(REASONS))
                elif rnd.random() < 0.05:
                    state(a, "LoggedOut")
            elif a.status == "CallInbound":
                out.append({"id": self._id("i"), "type": "interaction", "ts": ts, "interaction": a.call,
                            "event": "released", "agent": a.login})
                a.call = None
                state(a, "AfterCallWork")
            else:  # AfterCallWork, NotReadyForNextCall, LoggedIn
                state(a, "WaitForNextCall")
        return out


def simulation_for(names: dict, groups_of: dict[str, list[str]], seed: int = 87, run_id: str = "") -> Simulation:
    agents = [Agent(login, groups_of.get(login, [])) for login in names["agents"]]
    groups = sorted({g for a in agents for g in a.groups})
    return Simulation(agents, [g + QUEUE_SUFFIX for g in groups] or ["Default" + QUEUE_SUFFIX], seed=seed,
                      run_id=run_id)


# ---------------------------------------------------------------------- in the server process
class InProcessSimulator:
    """Started by ``serve --simulate``: one small batch every ``interval`` seconds via ingest.submit."""

    def __init__(self, hs: Services87Server, interval: float, max_events: int = 0, seed: int = 87):
        self.hs = hs
        self.interval = interval
        self.max_events = max_events
        self.seed = seed
        self.sent = 0
        self.sim: Simulation | None = None
        self._loop: LoopingCall | None = None
        self._stopped = False

    def start(self) -> None:
        def prepare():
            ls = self.hs.get_live_store()
            names = ls.names()
            users = {u.login: u for u in self.hs.get_store().list_users()}
            groups = self.hs.get_store().reference()["groups"]
            groups_of = {login: [groups[g] for g in u.group_ids] for login, u in users.items()}
            return simulation_for(names, groups_of, self.seed)

        def ready(sim: Simulation):
            self.sim = sim
            # places and queues first: a call offered to a queue while the setup batch is still being stored
            # would create the queue in a concurrent transaction and make the setup batch fail
            self._send(sim.setup()).addBoth(lambda _: start_loop(sim))

        def start_loop(sim: Simulation):
            if self._stopped:
                return
            self._loop = LoopingCall(self.tick)
            self._loop.clock = self.hs.reactor
            self._loop.start(self.interval, now=False)
            log.info("simulator started: %d agents, %d queues, one batch every %.1fs", len(sim.agents),
                     len(sim.queues), self.interval)

        self.hs.run_blocking(prepare).addCallbacks(ready, lambda f: log.error("simulator failed to start: %s", f.value))
        self.hs.reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def stop(self) -> None:
        self._stopped = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def tick(self) -> None:
        if self.max_events and self.sent >= self.max_events:
            self.stop()
            return
        self._send(self.sim.step())  # type: ignore[union-attr]

    def _send(self, raw: list[dict]):
        """Submit one batch; the Deferred fires (never fails) once it is stored or refused."""
        if not raw:
            return defer.succeed(None)
        try:
            events = normalize_batch(raw, max(len(raw), 1))
        except Exception as exc:  # pragma: no cover - the simulator only builds valid events
            log.error("simulator built a bad event: %s", exc)
            return defer.succeed(None)
        self.sent += len(events)
        return submit(self.hs, events).addErrback(lambda f: log.warning("simulated batch not stored: %s", f.value))


# ---------------------------------------------------------------------- over HTTP (the CLI)
def post_events(url: str, events: list[dict], headers: dict[str, str], timeout: float = 10.0) -> dict:
    req = urllib.request.Request(url.rstrip("/") + "/api/ingest/events", data=json.dumps({"events": events}).encode(),
                                 headers={"content-type": "application/json", **headers}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the URL is the operator's server
        return json.loads(resp.read().decode())


def run_http(url: str, headers: dict[str, str], agents: list[str], groups_of: dict[str, list[str]], *,
             interval: float = 1.0, max_events: int = 100, seconds: float = 60.0, seed: int = 87,
             echo: Callable[[str], None] = print) -> int:
    """Drive a running server over HTTP; returns the number of events accepted."""
    sim = simulation_for({"agents": agents}, groups_of, seed)
    accepted = 0
    deadline = time.monotonic() + seconds
    batch = sim.setup()
    while True:
        if batch:
            try:
                result = post_events(url, batch, headers)
            except urllib.error.HTTPError as exc:
                echo(f"ingest refused the batch: HTTP {exc.code} {exc.read().decode(errors='replace')[:300]}")
                return accepted
            accepted += result.get("accepted", 0)
            for e in batch:
                if e["type"] in ("agent-state", "interaction"):
                    echo(f"{e['type']:12s} {e.get('agent') or e.get('interaction')}: "
                         f"{e.get('status') or e.get('event')}")
        if accepted >= max_events or time.monotonic() >= deadline:
            return accepted
        time.sleep(interval)
        batch = sim.step()
