// Requests workbin statistics and prints the CometD WorkbinStatsMessage, with the official CometD
// JavaScript client (cometd + cometd-nodejs-client) and Node's fetch.
//
//   npm ci
//   node request_agent_stats.mjs <base-url> <user> <password> [workbinType workbinOwner]
//   node request_agent_stats.mjs http://127.0.0.1:8087 anna anna
//   node request_agent_stats.mjs http://127.0.0.1:8087 anna anna Place Place1
//   node request_agent_stats.mjs http://127.0.0.1:8087 anna anna --check
//
// Flow: GET /api/v2/me with HTTP Basic starts the session (JSESSIONID cookie) and hands out the CSRF
// token; the CometD handshake on /api/v2/notifications carries the same cookie; after subscribing to
// /v2/me/workbins, POST /api/v2/workbins replies {"statusCode":0,"referenceId":N} and the statistics
// arrive as a CometD message with that referenceId.
//
// With --check it runs a self-test instead (used by the test suite): the four workbin types, an unknown
// owner, then moves a request into one of its own workbins and waits for the fresh message. It prints
// one JSON line and exits non-zero on any failure.
import {adapt} from "cometd-nodejs-client";
import {CometD} from "cometd";

adapt();

const [base, user, password, ...rest] = process.argv.slice(2);
const check = rest.includes("--check");
if (!base || !user || password === undefined) {
    console.error("usage: node request_agent_stats.mjs <base-url> <user> <password> [workbinType workbinOwner] [--check]");
    process.exit(2);
}
const basic = "Basic " + Buffer.from(`${user}:${password}`).toString("base64");

async function login() {
    const resp = await fetch(base + "/api/v2/me", {headers: {Authorization: basic}});
    const body = await resp.json();
    if (body.statusCode !== 0) {
        throw new Error(`GET /api/v2/me: ${JSON.stringify(body)}`);
    }
    const cookie = (resp.headers.get("set-cookie") || "").match(/JSESSIONID=([^;]+)/);
    if (!cookie) {
        throw new Error("no JSESSIONID cookie");
    }
    const csrfName = resp.headers.get("x-csrf-header") || "X-CSRF-TOKEN";
    return {user: body.user, cookie: `JSESSIONID=${cookie[1]}`, csrf: resp.headers.get(csrfName), csrfName};
}

async function post(session, path, body) {
    const resp = await fetch(base + path, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Cookie": session.cookie, [session.csrfName]: session.csrf},
        body: JSON.stringify(body),
    });
    return {status: resp.status, body: await resp.json()};
}

// Resolves with the next WorkbinStatsMessage whose referenceId is `ref` (optionally matching `pred`).
function waiter(inbox) {
    return (ref, pred = () => true, ms = 8000) => new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no WorkbinStatsMessage for referenceId ${ref}`)), ms);
        const look = () => {
            const i = inbox.messages.findIndex((m) => m.data.referenceId === ref && pred(m.data));
            if (i >= 0) {
                clearTimeout(timer);
                inbox.listeners.delete(look);
                resolve(inbox.messages.splice(i, 1)[0]);
            }
        };
        inbox.listeners.add(look);
        look();
    });
}

async function connect(session) {
    const cometd = new CometD();
    cometd.unregisterTransport("websocket"); // GWS clients use long-polling
    cometd.configure({url: base + "/api/v2/notifications", logLevel: "warn", requestHeaders: {Cookie: session.cookie}});
    const inbox = {messages: [], listeners: new Set()};
    await new Promise((resolve, reject) => {
        cometd.handshake((reply) => {
            if (!reply.successful) {
                reject(new Error(`handshake failed: ${JSON.stringify(reply)}`));
                return;
            }
            cometd.subscribe("/v2/me/workbins", (message) => {
                if (message.data && message.data.messageType === "WorkbinStatsMessage") {
                    inbox.messages.push(message);
                    for (const fn of [...inbox.listeners]) fn();
                }
            }, (ack) => (ack.successful ? resolve() : reject(new Error(`subscribe failed: ${JSON.stringify(ack)}`))));
        });
    });
    return {cometd, next: waiter(inbox)};
}

function disconnect(cometd) {
    return new Promise((resolve) => cometd.disconnect(() => resolve()));
}

async function sample() {
    const session = await login();
    console.log(`logged in as ${session.user.userName} (${session.user.id})`);
    const {cometd, next} = await connect(session);
    const body = {operationName: "RequestAgentStats"};
    const positional = rest.filter((a) => a !== "--check");
    if (positional.length >= 2) {
        body.workbinType = positional[0];
        body.workbinOwner = positional[1];
    }
    const ack = await post(session, "/api/v2/workbins", body);
    console.log("HTTP", ack.status, JSON.stringify(ack.body));
    if (ack.body.statusCode !== 0) {
        await disconnect(cometd);
        return 1;
    }
    const message = await next(ack.body.referenceId);
    console.log("CometD", message.channel, JSON.stringify(message.data, null, 2));
    await disconnect(cometd);
    return 0;
}

async function selfCheck() {
    const session = await login();
    const {cometd, next} = await connect(session);
    const result = {user: session.user.id, types: {}};
    try {
        const cases = [
            ["Agent", {operationName: "RequestAgentStats"}, session.user.id],
            ["Place", {operationName: "RequestAgentStats", workbinType: "Place", workbinOwner: "Place1"}, "Place1"],
            ["AgentGroup", {operationName: "RequestAgentStats", workbinType: "AgentGroup", workbinOwner: "ServiceAgentGroup"}, "ServiceAgentGroup"],
            ["PlaceGroup", {operationName: "RequestAgentStats", workbinType: "PlaceGroup", workbinOwner: "ServicePlaceGroup"}, "ServicePlaceGroup"],
        ];
        let lastRef = 0;
        for (const [type, body, owner] of cases) {
            const ack = await post(session, "/api/v2/workbins", body);
            if (ack.status !== 200 || ack.body.statusCode !== 0 || !(ack.body.referenceId > lastRef)) {
                throw new Error(`${type}: ${JSON.stringify(ack)}`);
            }
            lastRef = ack.body.referenceId;
            if (type === "Agent") {
                result.agentRef = lastRef;
            }
            const message = await next(ack.body.referenceId);
            const entries = Object.values(message.data.workbinStats);
            if (message.channel !== "/v2/me/workbins" || !entries.length
                || !entries.every((e) => e.Type === type && e.Owner === owner && Number.isInteger(e.Count))) {
                throw new Error(`${type}: unexpected message ${JSON.stringify(message)}`);
            }
            result.types[type] = message.data.workbinStats;
        }
        const unknown = await post(session, "/api/v2/workbins", {operationName: "RequestAgentStats", workbinType: "Place", workbinOwner: "NoSuchPlace"});
        if (unknown.body.statusCode !== 6) {
            throw new Error(`unknown owner: ${JSON.stringify(unknown)}`);
        }
        // Move a request into the agent's "Draft" workbin (or out of it, if it is there already): the
        // Agent request above keeps this session informed, so a fresh message follows.
        const agentRef = result.agentRef;
        const mine = await fetch(base + "/api/v2/workbins", {headers: {Cookie: session.cookie}}).then((r) => r.json());
        const target = mine.workbins.find((w) => w.name === "Draft");
        const before = target.count;
        const request = process.env.MOVE_REQUEST || "D0000007";
        let moved = await post(session, "/api/v2/workbins/move", {request, workbin: target.id});
        let expected = before + 1;
        if (moved.body.statusCode === 0 && !moved.body.changed) {
            moved = await post(session, "/api/v2/workbins/move", {request, workbin: null});
            expected = before - 1;
        }
        if (moved.body.statusCode !== 0 || !moved.body.changed) {
            throw new Error(`move: ${JSON.stringify(moved)}`);
        }
        const fresh = await next(agentRef, (d) => d.workbinStats[target.id] && d.workbinStats[target.id].Count === expected);
        result.move = {workbin: target.id, request, before, after: fresh.data.workbinStats[target.id].Count};
        result.ok = true;
    } finally {
        await disconnect(cometd);
    }
    console.log(JSON.stringify(result));
    return 0;
}

try {
    process.exit(await (check ? selfCheck() : sample()));
} catch (error) {
    console.log(JSON.stringify({ok: false, error: String(error.message || error)}));
    process.exit(1);
}
