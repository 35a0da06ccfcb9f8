// Push load on a real `services87 serve`: Genesys Statistics v3 CometD clients fed by the live ingest API
// (plain HTTP/1.1 keep-alive, no client library).
//   node genesysload.js BASE_URL BEARER_TOKEN CLIENTS RATE COUNT [MAX_SECONDS]
// CLIENTS sessions handshake on /statistics/v3/notifications (x-api-key demo-api-key + the bearer token),
// subscribe to /statistics/v3/updates, open one statistics subscription each (CurrentReadyAgents of the
// tenant, bound to the session by its cookie) and long-poll. Then COUNT agent-state events are ingested at
// RATE per second, each flipping one agent between Ready and NotReady, so each changes the statistic and
// every subscription gets one StatisticUpdate (fewer when the server, falling behind, recomputes several
// events at once: the statistic then carries the latest value only). Prints one JSON line: updates delivered, msg/s (first event to
// last delivery), latency from the ingest POST of the newest event before the delivery to the delivery
// (p50/p99 ms), and how long setting the sessions up took. Prints "ready N" on stderr once every client polls.
const [base, token, clientsArg, rateArg, countArg, maxArg] = process.argv.slice(2);
const CLIENTS = Number(clientsArg), RATE = Number(rateArg), COUNT = Number(countArg);
const MAX_S = Number(maxArg || 60);
const { postJSON } = require("./http_client").client(base);
const now = () => performance.timeOrigin + performance.now();
const AUTH = { "x-api-key": "demo-api-key", authorization: "Bearer " + token };
const NOTIFY = "/statistics/v3/notifications";

// the answer's JSON; an answer of status 300 or more is an error
const post = (path, body, cookies, extra) => postJSON(path, body, cookies, extra, true);

const latencies = [];
const sentAt = [];  // ingest POST times, in order
let delivered = 0, firstT = Infinity, lastAt = 0, errors = 0, stopping = false, firstError = null, rehandshakes = 0;
const fail = (e) => { errors++; if (firstError === null) firstError = String(e).slice(0, 300); };

function newestSentBefore(t) {
  let lo = 0, hi = sentAt.length - 1, best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sentAt[mid] <= t) { best = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return best < 0 ? null : sentAt[best];
}

async function join(cookies) {
  const hs = await post(NOTIFY, [{ channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] }], cookies, AUTH);
  const clientId = hs[0].clientId;
  if (!clientId) throw new Error("handshake failed: " + JSON.stringify(hs));
  const sub = await post(NOTIFY, [{ channel: "/meta/subscribe", clientId, subscription: "/statistics/v3/updates" }], cookies, AUTH);
  if (!sub.find((m) => m.channel === "/meta/subscribe" && m.successful)) throw new Error("subscribe failed " + JSON.stringify(sub));
  return clientId;
}

async function client(i, ready) {
  const cookies = new Map();
  let clientId = await join(cookies);
  await post("/statistics/v3/subscriptions", { operationId: "c" + i, data: { statistics: [
    { statisticId: "ready", name: "CurrentReadyAgents", objectType: "Tenant", objectId: "Environment" }] } }, cookies, AUTH);
  let first = true;
  while (!stopping) {
    let replies;
    try {
      replies = await post(NOTIFY, [{ channel: "/meta/connect", clientId, connectionType: "long-polling" }], cookies, AUTH);
    } catch (e) {
      fail(e);
      if (stopping) break;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const t = now();
    for (const m of replies) {
      if (m.channel === "/statistics/v3/updates" && m.data && m.data.name === "StatisticUpdate") {
        const sent = newestSentBefore(t);
        if (sent === null) continue;  // the initial value, before any event
        delivered++;
        latencies.push(t - sent);
        lastAt = t;
      } else if (m.channel === "/meta/connect" && !m.successful) {
        fail(JSON.stringify(m));
        if (m.advice && m.advice.reconnect === "handshake" && !stopping) {
          // as a CometD client does: a new session; the statistics subscription stays bound to the cookie
          rehandshakes++;
          try { clientId = await join(cookies); } catch (e) { fail(e); }
        }
      }
    }
    if (first) { first = false; ready(); }
  }
  try { await post(NOTIFY, [{ channel: "/meta/disconnect", clientId }], cookies, AUTH); } catch (e) { /* going away */ }
}

function pct(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))] : null; }

async function main() {
  let readyCount = 0, allReady;
  const readyP = new Promise((r) => (allReady = r));
  const ready = () => { if (++readyCount === CLIENTS) allReady(); };
  const t0 = now();
  const tasks = [];
  for (let i = 0; i < CLIENTS; i++) {
    tasks.push(client(i, ready).catch((e) => { fail(e); ready(); }));
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 20));
  }
  await readyP;
  const setupS = (now() - t0) / 1000;
  console.error(`ready ${CLIENTS}`);
  await new Promise((r) => setTimeout(r, 500));
  const basic = "Basic " + Buffer.from("demo:demo").toString("base64");
  const start = now();
  const ingests = [];
  for (let n = 0; n < COUNT; n++) {
    const due = start + (n * 1000) / RATE;
    if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
    const ev = { events: [{ id: `scale-${process.pid}-${n}`, type: "agent-state", ts: Date.now(), agent: "anna",
                            status: n % 2 ? "NotReady" : "Ready" }] };
    const t = now();
    sentAt.push(t);
    if (t < firstT) firstT = t;
    // not awaited: the events keep their rate however long the server takes to accept each
    ingests.push(post("/api/ingest/events", ev, null, { authorization: basic }).catch(fail));
  }
  await Promise.all(ingests);
  const expected = CLIENTS * COUNT;
  const deadline = now() + MAX_S * 1000;
  while (delivered < expected && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  stopping = true;
  latencies.sort((a, b) => a - b);
  const seconds = lastAt > firstT ? (lastAt - firstT) / 1000 : 0;
  console.log(JSON.stringify({
    clients: CLIENTS, rate: RATE, count: COUNT, expected, delivered, errors, rehandshakes, first_error: firstError, setup_s: setupS,
    msg_s: seconds > 0 ? delivered / seconds : 0, seconds,
    p50_ms: pct(latencies, 0.5), p99_ms: pct(latencies, 0.99), max_ms: latencies[latencies.length - 1] ?? null,
  }));
  setTimeout(() => process.exit(0), 2000);
  await Promise.race([Promise.all(tasks), new Promise((r) => setTimeout(r, 1500))]);
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
