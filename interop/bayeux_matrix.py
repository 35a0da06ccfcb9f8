"""Bayeux half of the interop matrix: the official cometd npm client, faye and aiocometd-ng against the
Genesys Statistics API's CometD endpoint ``/statistics/v3/notifications``.

Per cell: the client handshakes (x-api-key + Bearer token, as the Genesys clients send them), subscribes to
``/statistics/v3/updates`` and prints READY. The matrix then opens a REST subscription for
``CurrentAgentState`` of one agent (``POST /statistics/v3/subscriptions``, same user, so its updates go to that
client's session) and ingests one agent-state event (``POST /api/ingest/events``); the client must print the
pushed ``StatisticUpdate`` carrying that subscription and statistic (docs/genesys.md).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import time
import uuid

import requests

from matrix import HERE, PY, Cell, node_version, py_version, tail

API_KEY = "demo-api-key"
AGENT = "frank"
WAIT = 30.0


def token(base: str) -> str:
    r = requests.post(base + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=15,
                      data={"grant_type": "password", "username": "demo", "password": "demo"})
    r.raise_for_status()
    return r.json()["access_token"]


_STATES = ["NotReady", "Ready"]


def next_state() -> str:
    """Alternate the agent's state on every trigger: Immediate notification pushes changes only."""
    _STATES.reverse()
    return _STATES[0]


def trigger(base: str, bearer: str, op_id: str) -> None:
    status = next_state()
    headers = {"x-api-key": API_KEY, "Authorization": "Bearer " + bearer}
    r = requests.post(base + "/statistics/v3/subscriptions?verbose=INFO", headers=headers, timeout=15,
                      json={"operationId": op_id, "data": {"statistics": [
                          {"statisticId": "agent-state", "name": "CurrentAgentState", "objectType": "Agent",
                           "objectId": AGENT}]}})
    if r.status_code != 200:
        raise RuntimeError(f"POST /statistics/v3/subscriptions: {r.status_code} {r.text[:300]}")
    r = requests.post(base + "/api/ingest/events", headers={"x-api-key": API_KEY}, timeout=15,
                      json={"events": [{"id": uuid.uuid4().hex, "type": "agent-state", "agent": AGENT, "status": status}]})
    if r.status_code != 200:
        raise RuntimeError(f"POST /api/ingest/events: {r.status_code} {r.text[:300]}")


def run_bayeux_cell(ctx, cell: Cell, cmd: list[str], bearer: str) -> None:
    op_id = "interop-" + uuid.uuid4().hex[:8]
    t0 = time.monotonic()
    # stdout is read line by line as it comes; stderr goes to a file (a pipe nobody drains until the end would
    # block a chatty client once the pipe buffer is full), read by path once the client has exited
    fd, err_path = tempfile.mkstemp(prefix="bayeux-client-", suffix=".err")
    with os.fdopen(fd, "ab") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    out, update, triggered, error = b"", None, False, ""
    deadline = time.monotonic() + WAIT
    try:
        while time.monotonic() < deadline and update is None:
            if not sel.select(timeout=0.5):
                if proc.poll() is not None:
                    break
                continue
            chunk = proc.stdout.readline()
            if not chunk:
                break
            out += chunk
            line = chunk.decode("utf-8", "replace").strip()
            if line == "READY" and not triggered:
                triggered = True
                trigger(ctx.base, bearer, op_id)
            elif line.startswith("UPDATE "):
                update = json.loads(line[7:])
    except (RuntimeError, requests.RequestException, ValueError) as e:
        error = str(e)
    finally:
        sel.close()
        try:
            rest, _ = proc.communicate(timeout=10)  # keeps draining stdout while the client finishes
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate(timeout=5)
        out += rest or b""
        with open(err_path, "rb") as f:
            err = f.read()
        os.unlink(err_path)
        requests.delete(f"{ctx.base}/statistics/v3/subscriptions/{op_id}", timeout=10,
                        headers={"x-api-key": API_KEY, "Authorization": "Bearer " + bearer})
    cell.seconds = time.monotonic() - t0
    with ctx.log.open("a") as f:
        f.write(f"\n===== {cell.client} {cell.mode}: {' '.join(cmd)}\n--- exit {proc.returncode}\n--- stdout\n"
                f"{tail(out, 4000)}\n--- stderr\n{tail(err, 8000)}\n")
    if error:
        cell.result, cell.detail = "FAIL: trigger", error
        return
    if not triggered:
        cell.result, cell.detail = "FAIL: no handshake/subscribe", tail(err, 1200) or tail(out, 600)
        return
    if update is None:
        cell.result, cell.detail = "FAIL: no update pushed", tail(err, 1200)
        return
    data = update.get("data") or {}
    stats = ((data.get("data") or {}).get("statistics")) or []
    mine = [s for s in stats if s.get("subscriptionId") == op_id and s.get("statisticId") == "agent-state"]
    if data.get("name") != "StatisticUpdate" or not mine:
        cell.result, cell.detail = "FAIL: unexpected update", json.dumps(update)[:1200]
        return
    if proc.returncode != 0:
        cell.result, cell.detail = f"FAIL: exit {proc.returncode} after the update", tail(err, 1200)
        return
    cell.ok, cell.result = True, f"PASS (StatisticUpdate {AGENT}: {json.dumps(mine[0].get('value'))[:40]})"


def bayeux_matrix(ctx, only, server) -> None:
    clients = {
        "cometd (npm)": (f"{node_version('cometd')} + cometd-nodejs-client {node_version('cometd-nodejs-client')}",
                         lambda url, tok, t: ["node", str(HERE / "node" / "cometd_client.mjs"), "--url", url,
                                              "--token", tok, "--api-key", API_KEY, "--transport", t]),
        "faye (npm)": (node_version("faye"),
                       lambda url, tok, t: ["node", str(HERE / "node" / "faye_client.js"), "--url", url,
                                            "--token", tok, "--api-key", API_KEY, "--transport", t]),
        "aiocometd-ng": (py_version(PY, "aiocometd-ng"),
                         lambda url, tok, t: [PY, str(HERE / "clients" / "aiocometd_client.py"), "--url", url,
                                              "--token", tok, "--api-key", API_KEY, "--transport", t]),
    }
    url = ctx.base + "/statistics/v3/notifications"
    try:
        bearer = token(ctx.base)
    except requests.RequestException as e:
        for name, (version, _) in clients.items():
            if only is None or name in only:
                ctx.cells.append(Cell(name, version, "Bayeux", f"FAIL: no bearer token ({e})"))
        return
    for name, (version, command) in clients.items():
        if only is not None and name not in only:
            continue
        for transport in ("long-polling", "websocket"):
            cell = Cell(name, version, f"Bayeux {transport}")
            run_bayeux_cell(ctx, cell, command(url, bearer, transport), bearer)
            ctx.cells.append(cell)
