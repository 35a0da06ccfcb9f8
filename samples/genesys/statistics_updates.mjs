// Subscribes to live statistics of the Genesys Statistics API v3 and prints every CometD update, with the
// official CometD JavaScript client (cometd + cometd-nodejs-client) and Node's fetch.
//
//   npm ci
//   node statistics_updates.mjs <base-url> <user> <password> [--api-key KEY] [--check]
//   node statistics_updates.mjs http://127.0.0.1:8087 demo demo
//
// Flow, as the Genesys statistics client does it: a bearer token from POST /auth/v3/oauth/token; a CometD
// handshake on /statistics/v3/notifications with x-api-key + Authorization headers (the server sets the
// STATISTICS_SESSIONID cookie); subscribe to /statistics/v3/updates and /statistics/v3/service; then
// POST /statistics/v3/subscriptions with the SAME cookie jar, so the updates come to this CometD session.
//
// With --check it runs a self-test (used by the test suite): it ingests an event itself, waits for the
// update, deletes the subscription, and prints one JSON line; it exits non-zero on any failure.
import {adapt} from "cometd-nodejs-client";
import {CometD} from "cometd";

const args = process.argv.slice(2);
const check = args.includes("--check");
const keyAt = args.indexOf("--api-key");
const apiKey = keyAt >= 0 ? args[keyAt + 1] : "demo-api-key";
const positional = args.filter((a, i) => !a.startsWith("--") && !(keyAt >= 0 && i === keyAt + 1));
const [base, user, password] = positional;
if (!base || !user || password === undefined) {
    console.error("usage: node statistics_updates.mjs <base-url> <user> <password> [--api-key KEY] [--check]");
    process.exit(2);
}

// One cookie jar for CometD and REST (the official Genesys Node client does the same).
const jar = {};
adapt({
    cookies: {
        storeCookie(uri, header, callback) {
            const nameValue = header.split(";")[0].trim();
            const eq = nameValue.indexOf("=");
            if (eq > 0) {
                jar[nameValue.substring(0, eq)] = nameValue;
            }
            callback();
        },
        retrieveCookies(context, uri, callback) {
            callback(null, Object.values(jar));
        },
    },
});

async function token() {
    const resp = await fetch(base + "/auth/v3/oauth/token", {
        method: "POST",
        headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + Buffer.from("demo-client:demo-secret").toString("base64"),
        },
        body: new URLSearchParams({grant_type: "password", username: user, password}),
    });
    const body = await resp.json();
    if (!resp.ok) {
        throw new Error(`token: ${JSON.stringify(body)}`);
    }
    return body.access_token;
}

async function rest(headers, method, path, body) {
    const resp = await fetch(base + "/statistics/v3" + path, {
        method,
        headers: {...headers, "Content-Type": "application/json", "Cookie": Object.values(jar).join("; ")},
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {status: resp.status, body: await resp.json()};
}

function subscribe(cometd, channel, listener) {
    return new Promise((resolve, reject) => cometd.subscribe(channel, listener, (reply) =>
        reply.successful ? resolve(reply) : reject(new Error(`subscribe ${channel}: ${JSON.stringify(reply)}`))));
}

async function main() {
    const headers = {"x-api-key": apiKey, "Authorization": "Bearer " + await token()};
    const cometd = new CometD();
    cometd.unregisterTransport("websocket"); // the Genesys clients use long-polling
    cometd.configure({url: base + "/statistics/v3/notifications", logLevel: "warn", requestHeaders: headers});
    await new Promise((resolve, reject) => cometd.handshake((reply) =>
        reply.successful ? resolve(reply) : reject(new Error(`handshake: ${JSON.stringify(reply)}`))));
    if (!jar.STATISTICS_SESSIONID) {
        throw new Error("no STATISTICS_SESSIONID cookie after the handshake");
    }
    const updates = [];
    let wake = () => {};
    await subscribe(cometd, "/statistics/v3/updates", (m) => {
        for (const s of m.data.data.statistics) {
            updates.push(s);
            const v = s.value || {};
            console.log(`${new Date(s.timestamp).toISOString()} ${s.subscriptionId}/${s.statisticId} ${s.name || ""} ` +
                `${s.objectType}:${s.objectId} = ${v.stringValue !== undefined ? v.stringValue : JSON.stringify(v)}`);
        }
        wake();
    });
    await subscribe(cometd, "/statistics/v3/service", (m) => console.log("service:", m.data.data.serviceState));

    const op = "node-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    const created = await rest(headers, "POST", "/subscriptions?verbose=INFO", {operationId: op, data: {statistics: [
        {statisticId: "ready", name: "CurrentReadyAgents", objectType: "Tenant", objectId: "Environment"},
        {statisticId: "calls", objectType: "Tenant", objectId: "Environment",
         definition: {category: "TotalNumber", subject: "DNAction", mainMask: "CallEntered",
                      intervalType: "GrowingWindow", notificationMode: "Immediate"}},
    ]}});
    if (created.status !== 200 || created.body.data.subscriptionId !== op) {
        throw new Error(`subscription: ${JSON.stringify(created.body)}`);
    }
    for (const s of created.body.data.statistics) {
        console.log(`initial ${s.statisticId} ${s.name || ""} = ${s.value.stringValue}`);
    }
    if (!check) {
        console.log(`subscription ${op}: waiting for updates (Ctrl+C to stop)`);
        process.on("SIGINT", async () => {
            await rest(headers, "DELETE", "/subscriptions/" + op);
            cometd.disconnect(() => process.exit(0));
        });
        return;
    }
    // self-test: an ingested call must arrive as an update of "calls"
    const before = updates.length;
    const ingest = await fetch(base + "/api/ingest/events", {
        method: "POST",
        headers: {"x-api-key": apiKey, "Content-Type": "application/json"},
        body: JSON.stringify({events: [{id: op + "-ev", type: "interaction", interaction: op + "-call",
                                        event: "offered", queue: "Node Queue"}]}),
    });
    if (ingest.status !== 200) {
        throw new Error(`ingest: HTTP ${ingest.status}`);
    }
    const got = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no update within 10 s")), 10000);
        wake = () => {
            const u = updates.slice(before).find((s) => s.subscriptionId === op && s.statisticId === "calls");
            if (u) {
                clearTimeout(timer);
                resolve(u);
            }
        };
    });
    const peek = await rest(headers, "GET", `/subscriptions/${op}/statistic-values?statisticIds=calls`);
    const deleted = await rest(headers, "DELETE", "/subscriptions/" + op);
    await new Promise((resolve) => cometd.disconnect(resolve));
    console.log(JSON.stringify({ok: true, update: got, peek: peek.body.data.statistics[0].value.intValue,
                                deleted: deleted.status, cookie: "STATISTICS_SESSIONID" in jar}));
    process.exit(0);
}

main().catch((e) => {
    console.log(JSON.stringify({ok: false, error: String(e && e.stack || e)}));
    process.exit(1);
});
