// Event -> pushed update latency through the product's path (plain HTTP/1.1 keep-alive, no client library).
//   node push_latency.js BASE_URL CLIENTS RATE COUNT API_KEY BEARER AGENT [MAX_SECONDS]
// CLIENTS CometD clients of the Genesys Statistics API (/statistics/v3/notifications, long-polling) each
// handshake, subscribe to /statistics/v3/updates and create a statistics subscription (POST
// /statistics/v3/subscriptions with their STATISTICS_SESSIONID cookie) to CurrentAgentState of AGENT. Then
// COUNT agent-state events for AGENT are ingested (POST /api/ingest/events, one event per request) at RATE per
// second, event n putting the agent on place "PL-<run>-<n>". The latency of an update is the time from just
// before its event's ingest request was sent to the moment a client read the StatisticUpdate carrying that
// place. Prints one JSON line: expected/delivered updates, latency p50/p99/max (ms), ingest answer p50 (ms).
const crypto = require("crypto");

const [base, clientsArg, rateArg, countArg, apiKey, bearer, agent, maxArg] = process.argv.slice(2);
const CLIENTS = Number(clientsArg), RATE = Number(rateArg), COUNT = Number(countArg);
const MAX_S = Number(maxArg || 60);
const RUN = crypto.randomBytes(4).toString("hex");
const { post } = require("./http_client").client(base);
const now = () => performance.timeOrigin + performance.now();
const AUTH = { "x-api-key": apiKey, authorization: "Bearer " + bearer };

const sentAt = new Map(); // event number -> send time
const latencies = [];
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

function pct(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))] : null; }

async function main() {
  let readyCount = 0, allReady;
  const readyP = new Promise((r) => (allReady = r));
  const ready = () => { if (++readyCount === CLIENTS) allReady(); };
  for (let i = 0; i < CLIENTS; i++) {
    let counted = false;
    const once = () => { if (!counted) { counted = true; ready(); } };
    client(i, once).catch((e) => { errors++; once(); console.error(String(e)); });
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
    clients: CLIENTS, rate: RATE, count: COUNT, expected, delivered, errors, rehandshakes,
    p50_ms: pct(latencies, 0.5), p99_ms: pct(latencies, 0.99), max_ms: latencies[latencies.length - 1] ?? null,
    ingest_p50_ms: pct(ingestMs, 0.5),
  }));
  setTimeout(() => process.exit(0), 500);
}
main().catch((e) => { console.error(e); process.exit(1); });
