// Event -> pushed update latency through the product's path (no CometD client library: plain HTTP/1.1
// keep-alive, or one WebSocket per client).
//   node push_latency.js BASE_URL CLIENTS RATE COUNT API_KEY BEARER AGENT [MAX_SECONDS] [TRANSPORT]
// CLIENTS CometD clients of the Genesys Statistics API (/statistics/v3/notifications; TRANSPORT long-polling,
// the default, or websocket) each handshake, subscribe to /statistics/v3/updates and create a statistics
// subscription (POST /statistics/v3/subscriptions with their STATISTICS_SESSIONID cookie) to CurrentAgentState
// of AGENT. Then COUNT agent-state events for AGENT are ingested (POST /api/ingest/events, one event per
// request) at RATE per second, event n putting the agent on place "PL-<run>-<n>". The latency of an update is
// the time from just before its event's ingest request was sent to the moment a client read the
// StatisticUpdate carrying that place. Prints one JSON line: expected/delivered updates, latency p50/p99/max
// (ms), ingest answer p50 (ms). With PL_DEBUG=1 (WebSocket) it also prints, on stderr, each event's updates
// and their first and last latency ("n:count:min-max"), which tells a stall of the server from a spread.
const crypto = require("crypto");

const [base, clientsArg, rateArg, countArg, apiKey, bearer, agent, maxArg, transportArg] = process.argv.slice(2);
const TRANSPORT = transportArg || "long-polling";
const CLIENTS = Number(clientsArg), RATE = Number(rateArg), COUNT = Number(countArg);
const MAX_S = Number(maxArg || 60);
const RUN = crypto.randomBytes(4).toString("hex");
const { post } = require("./http_client").client(base);
const now = () => performance.timeOrigin + performance.now();
const AUTH = { "x-api-key": apiKey, authorization: "Bearer " + bearer };

const sentAt = new Map(); // event number -> send time
const latencies = [];
const perEvent = [];
const ingestMs = [];
let delivered = 0, errors = 0, rehandshakes = 0, stopping = false;
const PLACE = new RegExp(`PL-${RUN}-(\\d+)`, "g");

async function client(i, ready) {
  const cookies = new Map();
  const comet = "/statistics/v3/notifications";
  let clientId;
  async function handshake() {
    const hs = JSON.parse((await post(comet, [{ channel: "/meta/handshake", version: "1.0",
      supportedConnectionTypes: ["long-polling"] }], cookies, AUTH)).text);
    clientId = hs[0].clientId;
    if (!clientId) throw new Error("handshake failed: " + JSON.stringify(hs));
    const sub = JSON.parse((await post(comet, [{ channel: "/meta/subscribe", clientId,
      subscription: "/statistics/v3/updates" }], cookies)).text);
    if (!sub.find((m) => m.channel === "/meta/subscribe" && m.successful)) throw new Error("subscribe failed " + JSON.stringify(sub));
  }
  await handshake();
  // As a CometD client does, the connect loop runs from the handshake on, beside the REST calls: a session whose
  // client stops connecting for longer than the server's max interval is dropped (402, then a new handshake).
  const seen = new Set();
  const loop = (async () => {
    while (!stopping) {
      let reply;
      try {
        reply = await post(comet, [{ channel: "/meta/connect", clientId, connectionType: "long-polling" }], cookies);
      } catch (e) {
        errors++;
        if (stopping) break;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const t = now();
      for (const m of reply.text.matchAll(PLACE)) {
        const n = Number(m[1]);
        if (seen.has(n) || !sentAt.has(n)) continue;
        seen.add(n);
        delivered++;
        latencies.push(t - sentAt.get(n));
      }
      if (reply.text.includes('"reconnect":"handshake"') && !stopping) {
        rehandshakes++;
        await handshake(); // the statistics subscription follows the session cookie to the new session
      }
    }
  })();
  const created = await post("/statistics/v3/subscriptions?verbose=INFO", { operationId: `pl-${RUN}-${i}`,
    data: { statistics: [{ statisticId: "state", name: "CurrentAgentState", objectType: "Agent", objectId: agent }] } },
    cookies, AUTH);
  if (created.status !== 200) throw new Error("statistics subscription failed: " + created.text.slice(0, 300));
  ready();
  await loop;
}

// The same client over WebSocket: one socket per client carries its handshake, subscribe and connects (the
// credentials go in the upgrade's headers, the session cookie comes back on the 101 and goes with the REST call).
const WebSocket = require("faye-websocket");

async function wsClient(i, ready) {
  const cookies = new Map();
  const url = base.replace(/^http/, "ws") + "/statistics/v3/notifications";
  const ws = new WebSocket.Client(url, ["cometd"], { headers: AUTH });
  let clientId, connectId = 0;
  const waiting = new Map(); // message id -> resolve
  const seen = new Set();
  let ids = 0;
  function send(message) {
    const id = String(++ids);
    return new Promise((resolve) => { waiting.set(id, resolve); ws.send(JSON.stringify([{ ...message, id }])); });
  }
  function connect() {
    send({ channel: "/meta/connect", clientId, connectionType: "websocket" }).then((reply) => {
      if (reply.advice && reply.advice.reconnect === "handshake") { errors++; return; }
      if (!stopping) connect();
    });
  }
  ws.on("message", (event) => {
    const t = now();
    const text = event.data;
    for (const m of text.matchAll(PLACE)) {
      const n = Number(m[1]);
      if (seen.has(n) || !sentAt.has(n)) continue;
      seen.add(n);
      delivered++;
      latencies.push(t - sentAt.get(n));
      if (process.env.PL_DEBUG) (perEvent[n] ||= []).push(t - sentAt.get(n));
    }
    if (!text.includes("\"successful\"")) return; // an update: read above; only replies are matched to requests
    for (const m of JSON.parse(text)) {
      if (m.id && waiting.has(m.id)) { const r = waiting.get(m.id); waiting.delete(m.id); r(m); }
    }
  });
  ws.on("error", () => { errors++; });
  await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("close", (e) => reject(new Error("closed " + e.code))); });
  for (const c of [].concat(ws.headers["set-cookie"] || [])) {
    const [kv] = c.split(";");
    const k = kv.indexOf("=");
    cookies.set(kv.slice(0, k).trim(), kv.slice(k + 1).trim());
  }
  const hs = await send({ channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["websocket"] });
  clientId = hs.clientId;
  if (!clientId) throw new Error("handshake failed: " + JSON.stringify(hs));
  const sub = await send({ channel: "/meta/subscribe", clientId, subscription: "/statistics/v3/updates" });
  if (!sub.successful) throw new Error("subscribe failed " + JSON.stringify(sub));
  connect();
  const created = await post("/statistics/v3/subscriptions?verbose=INFO", { operationId: `pl-${RUN}-${i}`,
    data: { statistics: [{ statisticId: "state", name: "CurrentAgentState", objectType: "Agent", objectId: agent }] } },
    cookies, AUTH);
  if (created.status !== 200) throw new Error("statistics subscription failed: " + created.text.slice(0, 300));
  ready();
}

function pct(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))] : null; }

async function main() {
  let readyCount = 0, allReady;
  const readyP = new Promise((r) => (allReady = r));
  const ready = () => { if (++readyCount === CLIENTS) allReady(); };
  for (let i = 0; i < CLIENTS; i++) {
    let counted = false;
    const once = () => { if (!counted) { counted = true; ready(); } };
    (TRANSPORT === "websocket" ? wsClient : client)(i, once).catch((e) => { errors++; once(); console.error(String(e)); });
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 20));
  }
  await readyP;
  await new Promise((r) => setTimeout(r, 1000)); // the first pushes (values at creation) are over
  const start = now();
  for (let n = 0; n < COUNT; n++) {
    const due = start + (n / RATE) * 1000;
    if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
    sentAt.set(n, now());
    const t0 = now();
    post("/api/ingest/events", { events: [{ id: `pl-${RUN}-${n}`, type: "agent-state", agent,
      status: n % 2 ? "Ready" : "NotReady", place: `PL-${RUN}-${n}` }] }, null, { "x-api-key": apiKey })
      .then((r) => { if (r.status !== 200) { errors++; console.error("ingest " + r.status + " " + r.text.slice(0, 200)); } ingestMs.push(now() - t0); })
      .catch(() => errors++);
  }
  const expected = CLIENTS * COUNT;
  const deadline = now() + MAX_S * 1000;
  while (delivered < expected && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  stopping = true;
  latencies.sort((a, b) => a - b);
  ingestMs.sort((a, b) => a - b);
  console.log(JSON.stringify({
    clients: CLIENTS, transport: TRANSPORT, rate: RATE, count: COUNT, expected, delivered, errors, rehandshakes,
    p50_ms: pct(latencies, 0.5), p99_ms: pct(latencies, 0.99), max_ms: latencies[latencies.length - 1] ?? null,
    ingest_p50_ms: pct(ingestMs, 0.5),
  }));
  if (process.env.PL_DEBUG) console.error(perEvent.map((l, n) => l ? `${n}:${l.length}:${Math.round(Math.min(...l))}-${Math.round(Math.max(...l))}` : `${n}:0`).join(' '));
  setTimeout(() => process.exit(0), 500);
}
main().catch((e) => { console.error(e); process.exit(1); });
