// The faye Node server (the reference Bayeux server) for the fan-out bench.
//   node server.js PORT_FILE [TIMEOUT_S]
// Bayeux at /cometd; POST /publish?rate=R&count=N publishes N messages {seq, t} on /bench at R per second
// (t = wall clock in ms when published), the same control endpoint bench/bayeux_server.py offers.
const http = require("http");
const fs = require("fs");
const faye = require("faye");

const portFile = process.argv[2];
const timeout = Number(process.argv[3] || 5);
const bayeux = new faye.NodeAdapter({ mount: "/cometd", timeout });
const now = () => performance.timeOrigin + performance.now();

function publishRun(rate, count) {
  let seq = 0;
  const start = now();
  const tick = () => {
    const due = Math.min(count, Math.floor(((now() - start) / 1000) * rate) + 1);
    while (seq < due) {
      bayeux.getClient().publish("/bench", { seq: seq++, t: now() });
    }
    if (seq < count) setTimeout(tick, Math.max(0, start + (seq / rate) * 1000 - now()));
  };
  tick();
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith("/publish")) {
    const q = new URL(req.url, "http://x").searchParams;
    publishRun(Number(q.get("rate")), Number(q.get("count")));
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
    return;
  }
  if (req.url === "/health") { res.writeHead(200); res.end("ok"); return; }
  res.writeHead(404); res.end();
});
bayeux.attach(server);
server.listen(0, "127.0.0.1", () => {
  fs.writeFileSync(portFile + ".tmp", String(server.address().port));
  fs.renameSync(portFile + ".tmp", portFile);
});
process.on("SIGTERM", () => process.exit(0));
