// Bayeux long-polling fan-out load generator (plain HTTP/1.1 keep-alive, no client library).
//   node loadgen.js BASE_URL CLIENTS RATE COUNT [MAX_SECONDS]
// BASE_URL serves Bayeux at /cometd and the publish trigger at /publish. CLIENTS sessions handshake, subscribe
// to /bench and long-poll; then the server is asked to publish COUNT messages at RATE per second. Prints one
// JSON line: delivered messages, msg/s (first publish to last delivery), publish->client latency p50/p99 (ms).
const [base, clientsArg, rateArg, countArg, maxArg] = process.argv.slice(2);
const CLIENTS = Number(clientsArg), RATE = Number(rateArg), COUNT = Number(countArg);
const MAX_S = Number(maxArg || 60);
const { postJSON: post } = require("./http_client").client(base);
const now = () => performance.timeOrigin + performance.now();

const latencies = [];
let delivered = 0, firstT = Infinity, lastAt = 0, errors = 0, stopping = false, firstError = null;
const fail = (e) => { errors++; if (firstError === null) firstError = String(e).slice(0, 300); };
const perClient = new Array(CLIENTS).fill(0);

async function client(i, ready) {
  const cookies = new Map();
  const path = "/cometd";
  const hs = await post(path, [{ channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] }], cookies);
  const clientId = hs[0].clientId;
  if (!clientId) throw new Error("handshake failed: " + JSON.stringify(hs));
  const sub = await post(path, [{ channel: "/meta/subscribe", clientId, subscription: "/bench" }], cookies);
  if (!sub.find((m) => m.channel === "/meta/subscribe" && m.successful)) throw new Error("subscribe failed " + JSON.stringify(sub));
  let first = true;
  while (!stopping) {
    let replies;
    try {
      replies = await post(path, [{ channel: "/meta/connect", clientId, connectionType: "long-polling" }], cookies);
    } catch (e) {
      fail(e);
      if (stopping) break;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const t = now();
    for (const m of replies) {
      if (m.channel === "/bench") {
        delivered++; perClient[i]++;
        latencies.push(t - m.data.t);
        if (m.data.t < firstT) firstT = m.data.t;
        lastAt = t;
      } else if (m.channel === "/meta/connect" && !m.successful) {
        fail(JSON.stringify(m));
      }
    }
    if (first) { first = false; ready(); }
  }
  try { await post(path, [{ channel: "/meta/disconnect", clientId }], cookies); } catch (e) { /* going away */ }
}

function pct(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))] : null; }

async function main() {
  let readyCount = 0;
  let allReady;
  const readyP = new Promise((r) => (allReady = r));
  const ready = () => { if (++readyCount === CLIENTS) allReady(); };
  const tasks = [];
  for (let i = 0; i < CLIENTS; i++) {
    tasks.push(client(i, ready).catch((e) => { fail(e); ready(); }));
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 10));
  }
  await readyP;
  console.error(`ready ${CLIENTS}`); // bench/scaling.py reads the server's memory now
  await new Promise((r) => setTimeout(r, 300)); // every second connect is held now
  await post("/publish?rate=" + RATE + "&count=" + COUNT, {}, new Map());
  const expected = CLIENTS * COUNT;
  const deadline = now() + (COUNT / RATE + MAX_S) * 1000;
  while (delivered < expected && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  stopping = true;
  latencies.sort((a, b) => a - b);
  const seconds = (lastAt - firstT) / 1000;
  console.log(JSON.stringify({
    clients: CLIENTS, rate: RATE, count: COUNT, expected, delivered, errors, first_error: firstError,
    msg_s: seconds > 0 ? delivered / seconds : 0, seconds,
    p50_ms: pct(latencies, 0.5), p99_ms: pct(latencies, 0.99), max_ms: latencies[latencies.length - 1] ?? null,
    min_per_client: Math.min(...perClient),
  }));
  setTimeout(() => process.exit(0), 2000); // do not wait for held connects to time out
  await Promise.race([Promise.all(tasks), new Promise((r) => setTimeout(r, 1500))]);
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
