// The Customer Service Status Page. Numbers come from the REST twin (POST /api/v1/Agents/CustomerService/
// GetStatistics, session cookie + X-XSRF-TOKEN); live updates come from the Genesys Statistics API's Bayeux
// push (/statistics/v3/notifications, official CometD client, WebSocket), with REST polling as the fallback.
import {
  ArcElement, BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController,
  LineElement, PieController, PointElement, Tooltip,
} from "chart.js";
import {CometD} from "cometd";
import {LANGUAGES, language, setLanguage, t, translateDom} from "./i18n.js";

Chart.register(ArcElement, BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController,
  LineElement, PieController, PointElement, Tooltip);

const STATS_URL = "/api/v1/Agents/CustomerService/GetStatistics";
const STATISTICS = "/statistics/v3";
const LINE = new Set(["NumberOfCreatedRequestsPerDay", "NumberOfCreatedRequestsPerWeek",
  "NumberOfCreatedRequestsPerMonth", "UserResponseTimePerDay", "UserReponseTimePerWeek", "UserResponseTimePerMonth"]);
const PIE = new Set(["OpenRequestsPerPriority", "OpenRequestsPerStatus", "OpenRequestsPerOrigin", "OwnOpenRequests"]);
const PER_USER = new Set(["OwnOpenRequests", "Hotlist", "StatusScreen"]);
// Accessible palette (distinguishable, dark enough for white gridlines and legends).
const COLORS = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d",
  "#4d7c0f", "#1d4ed8", "#9a3412", "#374151"];
const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(500, Number(params.get("poll")) || 3000);
const LIVE_GRACE_MS = 3000;

const $ = (id) => document.getElementById(id);
const app = {
  me: null, prefs: null, labels: {}, cards: new Map(), charts: new Map(), refreshes: 0, inflight: null,
  pending: false, live: null, lastValues: {}, genesys: {agents: new Map(), queues: new Map(), refused: new Map()},
};
window.statusPage = app; // for tests and debugging

// ----------------------------------------------------------------------------------------------- HTTP
function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

class HttpError extends Error {
  constructor(status, body) {
    super((body && (body.Message || body.message || (body.status && body.status.message))) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function http(method, url, body, headers = {}) {
  const h = {Accept: "application/json", ...headers};
  if (method !== "GET") h["X-XSRF-TOKEN"] = cookie("XSRF-TOKEN");
  if (body !== undefined) h["Content-Type"] = "application/json";
  const resp = await fetch(url, {method, headers: h, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body)});
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) throw new HttpError(resp.status, data);
  return data;
}

function statisticsHeaders() {
  const s = (app.me && app.me.statistics) || {};
  return {"x-api-key": s.apiKey || "", Authorization: "Bearer " + (s.accessToken || "")};
}

// ----------------------------------------------------------------------------------------------- formatting
function fmtNumber(v) {
  return new Intl.NumberFormat(language(), {maximumFractionDigits: 2}).format(v);
}

function fmtTime(date = new Date()) {
  try {
    return new Intl.DateTimeFormat(language(), {hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZone: app.prefs.timeZone, timeZoneName: "short"}).format(date);
  } catch (e) {
    return date.toISOString();
  }
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(r);
}

function humanName(name) {
  return app.labels[name] || name.replace(/([a-z])([A-Z])/g, "$1 $2");
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "scope" || k === "id" ||
             k === "for" || k === "type" || k === "tabindex" || k === "colspan") e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function announce(text) {
  $("announce").textContent = text;
}

// ----------------------------------------------------------------------------------------------- login
function showLogin(message = "") {
  stopLive();
  $("app").hidden = true;
  for (const id of ["settings-btn", "logout-btn", "whoami", "conn"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  translateDom();
  $("login-name").focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  const login = $("login-name").value.trim(), password = $("login-password").value;
  $("login-submit").disabled = true;
  try {
    await http("POST", "/statuspage/api/login", {login, password});
    $("login-password").value = "";
    await boot();
  } catch (e) {
    $("login-error").textContent = e.status === 429 ? t("tooMany") : e.status === 401 ? t("badLogin") : e.message;
  } finally {
    $("login-submit").disabled = false;
  }
}

async function onLogout() {
  try { await http("POST", "/statuspage/api/logout"); } catch (e) { /* the session is gone anyway */ }
  app.me = null;
  showLogin();
}

// ----------------------------------------------------------------------------------------------- wallboard
function kindOf(name) {
  if (name === "StatusScreen") return "tiles";
  if (name === "Hotlist") return "list";
  if (LINE.has(name)) return "line";
  if (PIE.has(name)) return "pie";
  return "bar";
}

function buildWallboard() {
  for (const chart of app.charts.values()) chart.destroy();
  app.charts.clear();
  app.cards.clear();
  const board = $("wallboard");
  board.replaceChildren();
  for (const name of app.prefs.panels) {
    const kind = kindOf(name);
    const titleId = "title-" + name;
    const card = el("section", {class: "card", "data-panel": name, "data-kind": kind, "aria-labelledby": titleId},
      el("h2", {id: titleId, text: humanName(name)}),
      el("p", {class: "desc"}));
    if (kind === "tiles") {
      card.append(el("ul", {class: "tiles"}));
    } else if (kind === "list") {
      card.append(values_table(name, false));
    } else {
      const canvas = el("canvas", {role: "img"});
      card.append(el("div", {class: "chart"}, canvas));
      const details = el("details", {class: "values"}, el("summary", {text: t("dataTable")}), values_table(name, true));
      card.append(details);
      app.charts.set(name, makeChart(canvas, kind));
    }
    board.append(card);
    app.cards.set(name, card);
  }
}

function values_table(name, hiddenCaption) {
  return el("table", {class: "figures values-table"},
    el("caption", {class: hiddenCaption ? "visually-hidden" : "", text: humanName(name)}),
    el("thead", {}, el("tr", {}, el("th", {scope: "col", text: t("label")}),
      el("th", {scope: "col", class: "num", text: t("value")}))),
    el("tbody"));
}

function makeChart(canvas, kind) {
  const type = kind === "pie" ? "pie" : kind;
  const reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  return new Chart(canvas, {
    type,
    data: {labels: [], datasets: [{data: [], borderColor: COLORS[0], backgroundColor: kind === "line" ? "rgba(11,92,173,.15)" : COLORS,
      fill: kind === "line", tension: 0.25, pointRadius: 2}]},
    options: {
      responsive: true, maintainAspectRatio: false, animation: reduced ? false : {duration: 300},
      plugins: {legend: {display: kind === "pie", position: "right", labels: {color: "#14202e", boxWidth: 12}}},
      scales: kind === "pie" ? {} : {
        x: {ticks: {color: "#44515f", autoSkip: true, maxRotation: 50}, grid: {display: false}},
        y: {beginAtZero: true, ticks: {color: "#44515f", precision: 0}},
      },
    },
  });
}

function renderPanel(name, ds) {
  const card = app.cards.get(name);
  if (!card) return;
  const values = (ds && ds.Values) || [];
  const label = (ds && ds.Label) || humanName(name);
  app.labels[name] = label;
  card.querySelector("h2").textContent = label;
  card.querySelector(".desc").textContent = (ds && ds.Description) || "";
  const previous = app.lastValues[name];
  const key = JSON.stringify(values.map((v) => [v.Label, v.Value]));
  const changed = previous !== undefined && previous !== key;
  app.lastValues[name] = key;
  card.dataset.values = String(values.length);
  const kind = card.dataset.kind;
  if (kind === "tiles") {
    const ul = card.querySelector(".tiles");
    ul.replaceChildren(...values.map((v) => el("li", {class: "tile", "data-label": v.Label, title: v.Description || ""},
      el("span", {class: "num", "data-value": String(v.Value), text: fmtNumber(v.Value)}),
      el("span", {class: "lbl", text: v.Label}))));
    if (!values.length) ul.append(el("li", {class: "tile", text: t("noData")}));
  } else {
    const tbody = card.querySelector(".values-table tbody");
    tbody.replaceChildren(...values.map((v) => el("tr", {"data-label": v.Label},
      el("th", {scope: "row", text: v.Label, title: v.Description || ""}),
      el("td", {class: "num", "data-value": String(v.Value), text: fmtNumber(v.Value)}))));
    if (!values.length) tbody.append(el("tr", {}, el("td", {colspan: 2, text: t("noData")})));
    card.querySelector(".values-table caption").textContent = label;
    const chart = app.charts.get(name);
    if (chart) {
      chart.data.labels = values.map((v) => v.Label);
      chart.data.datasets[0].data = values.map((v) => v.Value);
      chart.data.datasets[0].label = label;
      chart.update();
      const summary = values.slice(0, 20).map((v) => `${v.Label}: ${fmtNumber(v.Value)}`).join("; ");
      chart.canvas.setAttribute("aria-label", `${label}. ${summary || t("noData")}`);
    }
  }
  if (changed) {
    card.classList.remove("flash");
    void card.offsetWidth; // restart the animation
    card.classList.add("flash");
  }
  return changed;
}

// Fetch every shown panel from the REST twin; coalesces calls that arrive while one is in flight.
async function refresh() {
  if (!app.me) return;
  if (app.inflight) {
    app.pending = true;
    return app.inflight;
  }
  app.inflight = (async () => {
    do {
      app.pending = false;
      const panels = app.prefs.panels.slice();
      if (!panels.length) break;
      try {
        const sets = await http("POST", STATS_URL, {Functions: panels},
          {"SO-Language": app.prefs.language, "SO-TimeZone": app.prefs.timeZone});
        let changed = false;
        panels.forEach((name, i) => { changed = renderPanel(name, sets[i]) || changed; });
        app.refreshes += 1;
        document.body.dataset.refreshes = String(app.refreshes);
        const time = fmtTime();
        $("updated").textContent = t("updatedAt", {time});
        $("data-error").textContent = "";
        if (changed) announce(t("panelUpdated", {time}));
      } catch (e) {
        if (e.status === 401) { showLogin(); return; }
        $("data-error").textContent = t("error", {msg: e.message});
      }
    } while (app.pending);
  })();
  try { await app.inflight; } finally { app.inflight = null; }
}

let refreshTimer = null;
function scheduleRefresh(delay = 60) {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, delay);
}

// ----------------------------------------------------------------------------------------------- Genesys view
// Every statistic of the page (panels, agents, queues), without those the server has refused.
function genesysItems() {
  return allGenesysItems().filter((s) => !app.genesys.refused.has(s.statisticId));
}

function allGenesysItems() {
  const items = [];
  const login = app.me.login;
  for (const name of app.prefs.panels) {
    const perUser = PER_USER.has(name);
    items.push({statisticId: "panel." + name, name, objectType: perUser ? "Agent" : "Tenant",
      objectId: perUser ? login : (app.me.tenant || "Environment")});
  }
  for (const a of app.me.agents || []) {
    items.push({statisticId: "agent.state." + a.login, name: "CurrentAgentState", objectType: "Agent", objectId: a.login});
    items.push({statisticId: "agent.time." + a.login, name: "TimeInCurrentState", objectType: "Agent", objectId: a.login});
  }
  for (const q of queueObjects()) {
    for (const [key, stat] of QUEUE_STATS) {
      items.push({statisticId: `queue.${key}.${q.objectType}.${q.objectId}`, name: stat, objectType: q.objectType,
        objectId: q.objectId});
    }
  }
  return items;
}

// The queue model of the statistic catalogue (docs/genesys.md): calls waiting, the queue's agent group's ready
// agents, calls entered / answered / abandoned today, service level, average wait and handling time. Every one
// applies to a Queue and to the Tenant (the "All queues" row).
const QUEUE_STATS = [["waiting", "Current_In_Queue"], ["ready", "CurrentReadyAgents"], ["entered", "EnteredCalls"],
  ["answered", "AnsweredCalls"], ["abandoned", "AbandonedCalls"], ["sl", "ServiceLevel"], ["wait", "AverageWaitTime"],
  ["aht", "AverageHandlingTime"]];
const DURATIONS = new Set(["wait", "aht"]);

function queueObjects() {
  const qs = (app.me.queues || []).map((q) => ({objectType: "Queue", objectId: q.name || q, name: q.name || q}));
  return [{objectType: "Tenant", objectId: app.me.tenant || "Environment", name: null}, ...qs];
}

// A Stat Server value: a plain number/string, or an object such as {intValue, floatValue, stringValue, ...}
// (numbers) or one naming a state (CurrentAgentState).
const STATE_KEYS = ["status", "state", "agentState", "Status", "name", "stringValue", "value"];
const NUMBER_KEYS = ["floatValue", "intValue", "value", "stringValue"];

function plainValue(v, wantState = false) {
  if (v == null) return null;
  if (typeof v !== "object") return v;
  for (const k of wantState ? STATE_KEYS : NUMBER_KEYS) {
    if (v[k] != null && typeof v[k] !== "object") return v[k];
  }
  return null;
}

function applyStatistic(s) {
  const id = String(s.statisticId || "");
  const value = plainValue(s.value, id.startsWith("agent.state."));
  if (id.startsWith("panel.")) return "panel";
  const now = Date.now();
  if (id.startsWith("agent.state.")) {
    const a = agentRow(id.slice(12));
    a.state = value;
  } else if (id.startsWith("agent.time.")) {
    const a = agentRow(id.slice(11));
    a.seconds = Number(value) || 0;
    a.at = now;
  } else if (id.startsWith("queue.")) {
    const [, key, type, ...rest] = id.split(".");
    const q = queueRow(type + "." + rest.join("."));
    q[key] = value;
  }
  return "genesys";
}

function agentRow(login) {
  let a = app.genesys.agents.get(login);
  if (!a) {
    const known = (app.me.agents || []).find((x) => x.login === login);
    a = {login, name: known ? known.name : login, state: null, seconds: null, at: Date.now()};
    app.genesys.agents.set(login, a);
  }
  return a;
}

function queueRow(key) {
  let q = app.genesys.queues.get(key);
  if (!q) { q = {key}; app.genesys.queues.set(key, q); }
  return q;
}

function renderGenesys() {
  const agents = [...app.genesys.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  const tbody = $("agent-table").querySelector("tbody");
  const now = Date.now();
  tbody.replaceChildren(...agents.map((a) => el("tr", {"data-agent": a.login},
    el("th", {scope: "row", text: a.name}),
    el("td", {class: "state", "data-state": a.state == null ? "" : String(a.state), text: a.state == null ? "–" : String(a.state)}),
    el("td", {class: "num", text: a.seconds == null ? "–" : fmtDuration(a.seconds + (now - a.at) / 1000)}))));
  if (!agents.length) tbody.append(el("tr", {}, el("td", {colspan: 3, text: t("noAgents")})));
  const qbody = $("queue-table").querySelector("tbody");
  const rows = [];
  for (const q of queueObjects()) {
    const row = app.genesys.queues.get(q.objectType + "." + q.objectId) || {};
    const cells = QUEUE_STATS.map(([key]) => {
      const refused = app.genesys.refused.get(`queue.${key}.${q.objectType}.${q.objectId}`);
      if (refused) return el("td", {class: "num refused", "data-stat": key, "data-error": refused, title: refused,
        text: t("refusedCell")});
      const v = row[key];
      const fmt = DURATIONS.has(key) ? fmtDuration : fmtNumber;
      return el("td", {class: "num", "data-stat": key, "data-value": v == null ? "" : String(v),
        text: v == null || v === "" ? "–" : (isNaN(Number(v)) ? String(v) : fmt(Number(v)))});
    });
    rows.push(el("tr", {"data-queue": q.objectId}, el("th", {scope: "row", text: q.name || t("tenant")}), ...cells));
  }
  qbody.replaceChildren(...rows);
  renderGenesysError();
}

// What the server refused, in plain words (never an empty table without a reason).
function renderGenesysError() {
  const box = $("genesys-error");
  const parts = [];
  for (const f of [app.genesys.subscriptionFailure, app.genesys.pollFailure]) if (f) parts.push(f);
  const refused = [...app.genesys.refused.entries()];
  if (refused.length) {
    const short = (msg) => (msg.length > 120 ? msg.slice(0, 119) + "…" : msg); // the cell's tooltip has it all
    const list = refused.slice(0, 5).map(([id, msg]) => `${describeItem(id)}: ${short(msg)}`).join("; ");
    parts.push(t("refused", {n: refused.length, list: list + (refused.length > 5 ? "; …" : "")}));
  }
  box.textContent = parts.join(" ");
  box.hidden = !parts.length;
}

function describeItem(statisticId) {
  const item = allGenesysItems().find((s) => s.statisticId === statisticId);
  return item ? `${item.name} (${item.objectType} ${item.objectId})` : statisticId;
}

// A Statistics API error body: {status: {code, message}, errors: [{status: {code, message, detail: {statisticId,
// index}}}]}. Returns the statisticIds it names (with their messages) and a summary for the whole request.
function refusedItems(err, items) {
  const body = err.body || {};
  const out = new Map();
  for (const e of body.errors || []) {
    const st = e && e.status;
    if (!st) continue;
    const d = st.detail || {};
    const id = d.statisticId != null && items.some((s) => s.statisticId === d.statisticId) ? d.statisticId :
      (items[d.index] && items[d.index].statisticId);
    if (id != null) out.set(id, st.message || `HTTP ${st.code}`);
  }
  return out;
}

function requestFailure(err) {
  if (err instanceof HttpError) return t("requestFailed", {status: err.status, msg: err.message});
  return t("requestFailed", {status: "–", msg: err.message || String(err)});
}

async function pollGenesys() {
  const items = genesysItems().filter((s) => !s.statisticId.startsWith("panel."));
  if (!items.length) return;
  try {
    const resp = await fetch(STATISTICS + "/operations/get-statistic-ex", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", ...statisticsHeaders()},
      body: JSON.stringify({data: {statistics: items.map(({objectId, objectType, name}) => ({objectId, objectType, name}))}})});
    const body = await resp.json().catch(() => null);
    if (!resp.ok) throw new HttpError(resp.status, body);
    const stats = (body && body.data && body.data.statistics) || [];
    stats.forEach((s, i) => applyStatistic({...s, statisticId: items[i] && items[i].statisticId}));
    app.genesys.pollFailure = null;
  } catch (e) {
    // refused statistics are left out from now on (and shown as refused); anything else is reported and retried
    const refused = e instanceof HttpError && e.status >= 400 && e.status < 500 ? refusedItems(e, items) : new Map();
    for (const [id, msg] of refused) app.genesys.refused.set(id, msg);
    app.genesys.pollFailure = refused.size ? null : t("pollFailed", {msg: requestFailure(e)});
  }
  renderGenesys();
}

// ----------------------------------------------------------------------------------------------- live
// The badge says what really happened: live, connecting, reconnecting, or polling and why (no WebSocket, no
// Bayeux connection, or the server refused the live subscription).
function setConn(state, reason) {
  const conn = $("conn");
  conn.hidden = false;
  conn.className = "conn conn-" + state;
  conn.dataset.state = state;
  document.body.dataset.live = state;
  if (reason !== undefined) app.connReason = reason;
  const why = state === "polling" ? (app.connReason || "polling") : null;
  conn.dataset.reason = why || "";
  $("conn-text").textContent = why ? t(why, {msg: app.subscriptionError || ""}) : t(state);
}

class Live {
  constructor() {
    this.state = "connecting";
    this.pollTimer = null;
    this.graceTimer = null;
    this.operationId = "statuspage-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    this.subscribed = false;
    this.stopped = false;
    this.reason = "polling"; // why the page would poll: no WebSocket until a handshake succeeds
  }

  start() {
    setConn("connecting");
    if (params.get("live") === "off") { this.reason = "pollingOff"; this.startPolling(); return; }
    this.connect((params.get("transports") || "websocket").split(","));
  }

  // Handshake over the given CometD transports. The credentials travel as request headers (long-polling) and
  // in the handshake's ext (a browser cannot put headers on a WebSocket upgrade).
  connect(wanted) {
    if (this.cometd) this.cometd.disconnect();
    const cometd = this.cometd = new CometD();
    this.transports = wanted;
    for (const type of cometd.getTransportTypes()) if (!wanted.includes(type)) cometd.unregisterTransport(type);
    cometd.configure({url: location.origin + STATISTICS + "/notifications", logLevel: "warn",
      requestHeaders: statisticsHeaders(), maxNetworkDelay: 8000, backoffIncrement: 500, maxBackoff: 5000});
    cometd.addListener("/meta/handshake", (m) => this.onHandshake(cometd, m));
    cometd.addListener("/meta/connect", (m) => this.onConnect(cometd, m));
    this.armGrace();
    const s = app.me.statistics || {};
    cometd.handshake({ext: {"x-api-key": s.apiKey, authorization: "Bearer " + s.accessToken}});
  }

  armGrace() {
    if (this.graceTimer || this.pollTimer) return;
    this.graceTimer = setTimeout(() => { this.graceTimer = null; if (this.state !== "live") this.startPolling(); },
      LIVE_GRACE_MS);
  }

  onHandshake(cometd, m) {
    if (this.stopped || cometd !== this.cometd) return;
    if (!m.successful) {
      // The server answered but refused the WebSocket handshake (it wants header credentials): the same Bayeux
      // server over long-polling carries them. A WebSocket that cannot connect at all falls back to REST polling.
      const denied = typeof m.error === "string" && m.error.startsWith("403");
      if (denied && this.transports.includes("websocket") && !this.transports.includes("long-polling")) {
        this.connect(["long-polling"]);
        return;
      }
      this.reason = "polling";
      this.setState("reconnecting");
      this.armGrace();
      return;
    }
    this.reason = "pollingNoBayeux";
    document.body.dataset.transport = cometd.getTransport() ? cometd.getTransport().type : "";
    cometd.batch(() => {
      cometd.subscribe(STATISTICS + "/updates", (msg) => this.onUpdate(msg));
      cometd.subscribe(STATISTICS + "/service", (msg) => this.onService(msg));
    });
    this.createSubscription();
  }

  onConnect(cometd, m) {
    if (this.stopped || cometd !== this.cometd || cometd.isDisconnected()) return;
    if (m.successful) {
      if (this.subscribed) this.setState("live");
    } else {
      this.setState("reconnecting");
      this.armGrace();
    }
  }

  setState(state) {
    if (state === "live") {
      this.stopPolling();
      if (this.state !== "live") scheduleRefresh(0); // catch up on anything missed while disconnected
    }
    this.state = state;
    setConn(this.pollTimer && state !== "live" ? "polling" : state, this.reason);
  }

  async createSubscription(retries = 2) {
    const items = genesysItems();
    try {
      const resp = await fetch(`${STATISTICS}/subscriptions?verbose=INFO`, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", Accept: "application/json", ...statisticsHeaders()},
        body: JSON.stringify({operationId: this.operationId, data: {statistics: items}})});
      const body = await resp.json().catch(() => null);
      if (!resp.ok) throw new HttpError(resp.status, body);
      this.subscribed = true;
      app.subscriptionError = null;
      app.genesys.subscriptionFailure = null;
      app.genesys.pollFailure = null;
      for (const s of (body && body.data && body.data.statistics) || []) applyStatistic(s);
      renderGenesys();
      this.setState("live");
    } catch (e) {
      if (e.status === 401) await reloadMe();
      this.subscribed = false;
      // A subscription is all-or-nothing: leave out the statistics the server refused (shown as refused, with
      // its reason) and subscribe to the rest at once.
      const refused = e instanceof HttpError && e.status >= 400 && e.status < 500 ? refusedItems(e, items) : new Map();
      for (const [id, msg] of refused) app.genesys.refused.set(id, msg);
      if (refused.size && retries > 0 && genesysItems().length) {
        renderGenesys();
        return this.createSubscription(retries - 1);
      }
      if (e.status !== 401) {
        app.subscriptionError = e.message;
        app.genesys.subscriptionFailure = t("subscriptionRefused", {msg: requestFailure(e)});
        this.reason = "pollingRefused";
      }
      renderGenesys();
      this.setState("reconnecting");
      this.armGrace();
      setTimeout(() => { if (!this.stopped && !this.subscribed && this.cometd && !this.cometd.isDisconnected()) this.createSubscription(); }, 5000);
    }
  }

  resubscribe() {
    if (!this.cometd || this.stopped) return;
    this.subscribed = false;
    this.createSubscription();
  }

  onUpdate(msg) {
    const data = msg.data && msg.data.data ? msg.data.data : msg.data;
    const stats = (data && data.statistics) || [];
    let panels = false;
    for (const s of stats) {
      if (s.subscriptionId && s.subscriptionId !== this.operationId) continue;
      if (applyStatistic(s) === "panel") panels = true;
    }
    if (panels) scheduleRefresh(30);
    renderGenesys();
  }

  onService(msg) {
    const data = msg.data && msg.data.data ? msg.data.data : msg.data;
    const state = String((data && data.serviceState) || "").toUpperCase();
    if (state === "UNAVAILABLE") {
      this.subscribed = false;
      this.setState("reconnecting");
    } else if (state === "AVAILABLE") {
      this.createSubscription(); // subscriptions are dropped on UNAVAILABLE; re-create with the same id
      scheduleRefresh(0);
    }
  }

  startPolling() {
    if (this.pollTimer || this.stopped) return;
    const tick = () => { refresh(); pollGenesys(); };
    this.pollTimer = setInterval(tick, POLL_MS);
    tick();
    if (this.state !== "live") setConn("polling", this.reason);
  }

  stopPolling() {
    if (this.pollTimer) { clearInterval(this.pollTimer); this.pollTimer = null; }
  }

  stop() {
    this.stopped = true;
    this.stopPolling();
    clearTimeout(this.graceTimer);
    if (this.cometd) {
      const id = this.operationId;
      fetch(`${STATISTICS}/subscriptions/${encodeURIComponent(id)}`, {method: "DELETE", credentials: "same-origin",
        headers: statisticsHeaders()}).catch(() => {});
      this.cometd.disconnect();
    }
  }
}

function stopLive() {
  if (app.live) { app.live.stop(); app.live = null; }
}

// ----------------------------------------------------------------------------------------------- settings
function openSettings() {
  const lang = $("pref-language");
  lang.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) =>
    el("option", {value: code, text: name, selected: code === app.prefs.language, lang: code})));
  const tz = $("pref-timezone");
  let zones = [];
  try { zones = Intl.supportedValuesOf("timeZone"); } catch (e) { zones = []; }
  for (const z of ["UTC", app.prefs.timeZone]) if (!zones.includes(z)) zones.unshift(z);
  tz.replaceChildren(...zones.map((z) => el("option", {value: z, text: z, selected: z === app.prefs.timeZone})));
  const shown = app.prefs.panels;
  const all = [...shown, ...app.me.panels.map((p) => p.name).filter((n) => !shown.includes(n))];
  const list = $("pref-panels");
  list.replaceChildren(...all.map((name) => panelItem(name, shown.includes(name))));
  $("settings-error").textContent = "";
  $("settings").showModal();
  lang.focus();
}

function panelItem(name, checked) {
  const id = "pref-panel-" + name;
  const li = el("li", {"data-panel": name},
    el("input", {type: "checkbox", id, checked}),
    el("label", {for: id, text: humanName(name)}),
    el("button", {type: "button", class: "up", "aria-label": t("moveUp") + ": " + humanName(name), text: "↑"}),
    el("button", {type: "button", class: "down", "aria-label": t("moveDown") + ": " + humanName(name), text: "↓"}));
  li.querySelector(".up").addEventListener("click", () => move(li, -1));
  li.querySelector(".down").addEventListener("click", () => move(li, 1));
  return li;
}

function move(li, dir) {
  const sibling = dir < 0 ? li.previousElementSibling : li.nextElementSibling;
  if (!sibling) return;
  if (dir < 0) sibling.before(li); else sibling.after(li);
  li.querySelector(dir < 0 ? ".up" : ".down").focus();
}

async function saveSettings(ev) {
  ev.preventDefault();
  const panels = [...$("pref-panels").querySelectorAll("li")].filter((li) => li.querySelector("input").checked)
    .map((li) => li.dataset.panel);
  const body = {panels, language: $("pref-language").value, timeZone: $("pref-timezone").value};
  try {
    app.prefs = await http("PUT", "/statuspage/api/prefs", body);
  } catch (e) {
    if (e.status === 401) { $("settings").close(); showLogin(); return; }
    $("settings-error").textContent = t("saveFailed", {msg: e.message});
    return;
  }
  $("settings").close();
  applyPrefs();
  announce(t("saved"));
  await refresh();
  if (app.live) app.live.resubscribe();
  $("settings-btn").focus();
}

function applyPrefs() {
  setLanguage(app.prefs.language);
  translateDom();
  $("whoami").textContent = t("signedInAs", {name: app.me.fullName});
  if (app.live) setConn(document.body.dataset.live || "connecting");
  app.lastValues = {};
  buildWallboard();
  renderGenesys();
}

// ----------------------------------------------------------------------------------------------- tabs
function selectTab(which) {
  for (const [tab, panel] of [["tab-wallboard", "wallboard"], ["tab-genesys", "genesys"]]) {
    const on = tab === which;
    $(tab).setAttribute("aria-selected", String(on));
    $(tab).tabIndex = on ? 0 : -1;
    $(panel).hidden = !on;
  }
  if (which === "tab-wallboard") for (const c of app.charts.values()) c.resize();
  else refreshQueues();
}

// Queues appear while the page is open (ingest, `services87 simulate`): look again when the Genesys view is
// shown and every 30 s while it is, and subscribe to the new ones.
async function refreshQueues() {
  if (!app.me) return;
  const before = JSON.stringify(app.me.queues || []);
  await reloadMe();
  if (!app.me || JSON.stringify(app.me.queues || []) === before) return;
  renderGenesys();
  if (app.live) app.live.resubscribe();
}

function onTabKey(ev) {
  if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
    const next = ev.target.id === "tab-wallboard" ? "tab-genesys" : "tab-wallboard";
    selectTab(next);
    $(next).focus();
    ev.preventDefault();
  }
}

// ----------------------------------------------------------------------------------------------- boot
async function reloadMe() {
  try { app.me = await http("GET", "/statuspage/api/me"); } catch (e) { if (e.status === 401) showLogin(); }
}

async function boot() {
  let me;
  try {
    me = await http("GET", "/statuspage/api/me");
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    showLogin(e.message);
    return;
  }
  app.me = me;
  app.prefs = me.prefs;
  $("login").hidden = true;
  $("app").hidden = false;
  for (const id of ["settings-btn", "logout-btn", "whoami"]) $(id).hidden = false;
  for (const a of me.agents || []) agentRow(a.login);
  applyPrefs();
  selectTab("tab-wallboard");
  await refresh();
  stopLive();
  app.live = new Live();
  app.live.start();
  $("main").focus({preventScroll: true});
}

function init() {
  setLanguage((navigator.language || "en").slice(0, 2));
  translateDom();
  $("login-form").addEventListener("submit", onLogin);
  $("logout-btn").addEventListener("click", onLogout);
  $("settings-btn").addEventListener("click", openSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  $("settings-cancel").addEventListener("click", () => { $("settings").close(); $("settings-btn").focus(); });
  for (const id of ["tab-wallboard", "tab-genesys"]) {
    $(id).addEventListener("click", () => selectTab(id));
    $(id).addEventListener("keydown", onTabKey);
  }
  setInterval(() => { if (app.me && !$("genesys").hidden) renderGenesys(); }, 1000);
  setInterval(() => { if (app.me && !$("genesys").hidden) refreshQueues(); }, 30000);
  window.addEventListener("beforeunload", stopLive);
  boot();
}

init();
