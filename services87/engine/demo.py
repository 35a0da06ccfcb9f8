"""Deterministic demo data: users, groups, a two-level category tree, statuses, priorities, requests with
messages over the last 400 days, hotlists. The same seed and ``now`` always give the same data.

Demo logins (password = login): ``demo`` (team lead, member of every group, owns requests) and the agents
listed in :data:`AGENTS`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable

from services87.auth.passwords import hash_password
from services87.engine.model import BaseStatus, Direction, Origin
from services87.engine.store import Store

GROUPS = ["Support", "Sales", "Billing", "Technical", "Management"]
CATEGORIES = {
    "Hardware": ["Printers", "Laptops", "Phones"],
    "Software": ["Installation", "Licences", "Bugs", "Updates"],
    "Billing": ["Invoices", "Refunds", "Payment"],
    "Account": ["Login", "Access rights", "New account"],
    "Network": ["VPN", "Wi-Fi", "E-mail"],
}
STATUSES = [("New", BaseStatus.Open), ("In progress", BaseStatus.Open), ("Waiting for customer", BaseStatus.Postponed),
            ("Closed", BaseStatus.Closed), ("Deleted", BaseStatus.Deleted)]
PRIORITIES = [("Low", 1), ("Medium", 2), ("High", 3), ("Critical", 4)]
#: login, full name, groups (indexes into GROUPS), time zone, language
AGENTS = [
    ("demo", "Dana Demo", [0, 1, 2, 3, 4], "Europe/Oslo", "en"),
    ("anna", "Anna Andersen", [0], "Europe/Oslo", "nb"),
    ("bjorn", "Björn Berg", [0, 3], "Europe/Stockholm", "sv"),
    ("clara", "Clara Christensen", [2], "Europe/Copenhagen", "da"),
    ("dirk", "Dirk de Vries", [3], "Europe/Amsterdam", "nl"),
    ("eva", "Eva Engel", [1], "Europe/Berlin", "de"),
    ("frank", "Frank Foster", [0, 1], "Europe/London", "en"),
    ("greta", "Greta Gran", [2, 4], "Europe/Oslo", "nb"),
    ("hans", "Hans Hofmann", [3], "Europe/Berlin", "de"),
    ("ingrid", "Ingrid Isaksen", [0], "America/New_York", "en"),
]
ORIGIN_WEIGHTS = [(Origin.Email, 40), (Origin.Web, 20), (Origin.Phone, 15), (Origin.Chat, 12), (Origin.SMS, 4),
                  (Origin.Facebook, 3), (Origin.Twitter, 2), (Origin.Manual, 3), (Origin.Unknown, 1)]
TITLES = ["Cannot print", "Invoice question", "Password reset", "VPN drops", "New laptop", "Refund request",
          "Licence expired", "Wi-Fi slow", "App crashes", "Access to share", "Phone not syncing", "Update failed",
          "Payment failed", "E-mail bounce", "Account locked"]
DAYS = 400


@dataclass
class DemoRefs:
    users: list[int]
    groups: list[int]
    categories: list[int]
    statuses: dict[str, int]
    priorities: list[int]


def ensure_reference(store: Store, hash_passwords: bool = True) -> DemoRefs:
    groups = [store.ensure_group(g) for g in GROUPS]
    cats = []
    for top, subs in CATEGORIES.items():
        store.ensure_category(top)
        cats.extend(store.ensure_category([top, s]) for s in subs)
    statuses = {name: store.ensure_status(name, base) for name, base in STATUSES}
    prios = [store.ensure_priority(name, rank) for name, rank in PRIORITIES]
    users = []
    for i, (login, name, gidx, tz, lang) in enumerate(AGENTS):
        u = store.find_user(login)
        if u is None:
            uid = store.add_user(login, name, f"{login}@example.com",
                                 hash_password(login) if hash_passwords else None, tz, lang,
                                 [groups[g] for g in gidx], uuid=f"{i + 1:032x}")
        else:
            uid = u.id
        users.append(uid)
    return DemoRefs(users, groups, cats, statuses, prios)


def generate(store: Store, n_requests: int = 5000, seed: int = 87, now: int | None = None, batch: int = 5000,
             progress: Callable[[int], None] | None = None) -> DemoRefs:
    """Fill the store with ``n_requests`` demo requests created over the last 400 days before ``now``."""
    now = int(time.time()) if now is None else int(now)
    refs = ensure_reference(store)
    rnd = random.Random(seed)
    origins = [o for o, _ in ORIGIN_WEIGHTS]
    oweights = [w for _, w in ORIGIN_WEIGHTS]
    open_sts = [refs.statuses["New"], refs.statuses["In progress"], refs.statuses["Waiting for customer"]]
    closed, deleted = refs.statuses["Closed"], refs.statuses["Deleted"]
    # users[0] is demo (team lead): owns a share of requests too
    owner_weights = [6] + [10] * (len(refs.users) - 1)
    start = now - DAYS * 86400
    # creation times: growth over the period, weekday/office-hour shape
    rows = []
    done = 0
    hot: list[tuple[int, int]] = []
    for i in range(n_requests):
        u = rnd.random()
        age_frac = 1 - math.sqrt(u)  # more recent requests are more frequent
        created = int(now - age_frac * (now - start))
        hour_shift = int(rnd.gauss(0, 3) * 3600)
        created = min(now - 60, max(start, created + hour_shift))
        age_days = (now - created) / 86400
        p_open = 0.65 if age_days < 7 else 0.25 if age_days < 30 else 0.02
        r = rnd.random()
        status = rnd.choice(open_sts) if r < p_open else (deleted if r > 0.985 else closed)
        owner = None if rnd.random() < 0.12 else rnd.choices(refs.users, owner_weights)[0]
        group = rnd.choice(refs.groups)
        msgs = []
        t = created
        n_msgs = rnd.choice([1, 2, 2, 3, 3, 4])
        replier = owner or rnd.choice(refs.users)
        for k in range(n_msgs):
            if k % 2 == 0:
                msgs.append((Direction.Inbound, None, t))
                t += int(rnd.expovariate(1 / 5400)) + 60  # mean 1.5 h to reply
            else:
                if t >= now:
                    break
                msgs.append((Direction.Outbound, replier, t))
                t += int(rnd.expovariate(1 / 86400)) + 60
            if t >= now:
                break
        closed_ts = None
        if status == closed:
            closed_ts = min(now - 1, max(t, created + 600))
        rows.append({
            "external_id": f"D{i + 1:07d}",
            "title": rnd.choice(TITLES),
            "category_id": rnd.choice(refs.categories),
            "status_id": status,
            "priority_id": rnd.choices(refs.priorities, [40, 35, 20, 5])[0],
            "origin": int(rnd.choices(origins, oweights)[0]),
            "owner_id": owner,
            "group_id": group,
            "created_ts": created,
            "closed_ts": closed_ts,
            "messages": msgs,
        })
        if len(rows) >= batch:
            _flush(store, rows, hot, rnd, refs)
            done += len(rows)
            rows = []
            if progress:
                progress(done)
    if rows:
        _flush(store, rows, hot, rnd, refs)
        done += len(rows)
        if progress:
            progress(done)
    if hot:  # a second run over the same requests finds their pairs already there
        have = {(u, r["id"]) for u in {u for u, _ in hot} for r in store.hotlist_for(u)}
        if new := [pair for pair in hot if pair not in have]:
            store.add_hotlist_bulk(new)
    from services87.engine.workbin_store import generate_demo as demo_workbins

    demo_workbins(store, refs.users, seed=seed)
    return refs


def _flush(store: Store, rows: list[dict], hot: list, rnd: random.Random, refs: DemoRefs) -> None:
    ids = store.upsert_requests(rows, kind="demo")
    # each user keeps a handful of open requests on the hotlist
    for rid, row in zip(ids, rows):
        if row["status_id"] in (refs.statuses["New"], refs.statuses["In progress"]) and rnd.random() < 0.02:
            user = row["owner_id"] or refs.users[0]
            if sum(1 for u, _ in hot if u == user) < 8:
                hot.append((user, rid))
    # the team lead (demo, the featured log-in) also watches open requests, the most urgent first
    lead, rank = refs.users[0], {p: i for i, p in enumerate(refs.priorities)}
    room = 5 - sum(1 for u, _ in hot if u == lead)
    watch = sorted((-rank[row["priority_id"]], rid) for rid, row in zip(ids, rows)
                   if row["status_id"] in (refs.statuses["New"], refs.statuses["In progress"]) and (lead, rid) not in hot)
    hot.extend((lead, rid) for _, rid in watch[:max(0, room)])
