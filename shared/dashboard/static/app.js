// outhook dashboard: a hash-routed page over the HTTP API of the server that serves it. Every element is built
// with the DOM API (never innerHTML), so event payloads and headers are shown as text.
import { deliveriesPerMinute, latencyByEndpoint, stackedBars, latencyBars } from "./chart.js";

const main = document.getElementById("main");
const KEY = "outhook.apiKey";
let auth = "key";
let sets = [];

// h builds an element: h("a", {href: "#"}, "text", child...). Attributes starting with "on" are listeners.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function render(...nodes) {
  main.replaceChildren(...nodes.flat());
}

function toast(msg, bad) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || "HTTP " + status);
    this.status = status;
    this.code = code;
  }
}

// api calls the HTTP API; the key goes in the Authorization header, never in the URL.
async function api(method, path, body) {
  // X-Outhook-UI: `outhook ui` forwards only calls that carry it (another site's page cannot add it).
  const headers = { Accept: "application/json", "X-Outhook-UI": "1" };
  if (auth === "key") headers.Authorization = "Bearer " + sessionStorage.getItem(KEY);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.status === 401 && auth === "key") {
    sessionStorage.removeItem(KEY);
    showLogin("The API key was refused.");
    throw new APIError(401, "unauthorized", "the API key was refused");
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code, e.message || (data && data.message) || text);
  }
  return data;
}

const enc = encodeURIComponent;
const setPath = (set) => "/v1/webhooks/" + enc(set);

function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  return d.toLocaleString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function badge(status) {
  return h("span", { class: "badge " + status }, status);
}

function errorBox(e) {
  return h("p", { class: "error" }, e.code ? e.code + ": " + e.message : String(e.message || e));
}

// ---- login

function showLogin(why) {
  document.getElementById("nav").replaceChildren();
  document.getElementById("signout").hidden = true;
  const input = h("input", { type: "password", id: "apikey", autocomplete: "off", placeholder: "ohk_…", required: true });
  render(h("form", { class: "card login", id: "login", onsubmit: (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    start();
  } },
  h("h1", {}, "API key"),
  why ? h("p", { class: "error" }, why) : null,
  h("p", { class: "muted" }, "The key of this server (OUTHOOK_API_KEY, or the one it printed at its first start). It stays in this tab's session storage and is sent only as the Authorization header."),
  input, h("button", { type: "submit" }, "Open the dashboard")));
  input.focus();
}

// ---- navigation

// navSet is the set the header's links are for: the current page's, else the last one shown, else the first.
let navSet = "";

// nav draws the header: the sets overview, a picker of the set, and that set's pages. One row however many
// sets the config has; picking another set opens the same page for it.
function nav(current) {
  const slash = current.indexOf("/");
  const page = slash < 0 ? "" : current.slice(0, slash);
  if (page) navSet = current.slice(slash + 1);
  if (!sets.some((s) => s.name === navSet)) navSet = sets.length ? sets[0].name : "";
  const links = [h("a", { href: "#/", class: current === "" ? "on" : "" }, "sets")];
  if (navSet) {
    const picker = h("select", { id: "navset", "aria-label": "webhook set", onchange: () => {
      location.hash = "#/" + (page === "secrets" || page === "charts" ? page : "events") + "/" + enc(picker.value);
    } }, sets.map((s) => h("option", { value: s.name, selected: s.name === navSet }, s.name)));
    links.push(h("span", { class: "navset" }, picker,
      h("a", { href: "#/events/" + enc(navSet), class: current === "events/" + navSet ? "on" : "" }, "events"),
      h("a", { href: "#/charts/" + enc(navSet), class: current === "charts/" + navSet ? "on" : "" }, "charts"),
      h("a", { href: "#/secrets/" + enc(navSet), class: current === "secrets/" + navSet ? "on" : "" }, "users")));
  }
  document.getElementById("nav").replaceChildren(...links);
}

// ---- sets and endpoints

async function pageSets() {
  nav("");
  const cards = [];
  for (const s of sets) {
    let endpoints = null, err = null;
    try {
      endpoints = (await api("GET", setPath(s.name) + "/endpoints")).endpoints;
    } catch (e) {
      if (e.status === 401) return;
      err = e;
    }
    cards.push(h("section", { class: "card" },
      h("h2", {}, s.name, " ", h("a", { href: "#/events/" + enc(s.name), class: "small" }, "events →")),
      endpoints ? endpointTable(setPath(s.name) + "/endpoints/", endpoints, pageSets) : h("div", {},
        h("p", { class: "muted" }, "Endpoint status is not available from this API" + (err ? " (" + (err.code || err.status) + ")" : "") + "."),
        h("ul", {}, s.endpoints.map((n) => h("li", {}, n)))),
      s.userEndpoints ? h("p", { class: "muted" }, "Users may register their own endpoints in this set.") : null));
  }
  render(h("h1", {}, "Webhook sets"), ...cards);
}

// endpointTable lists endpoints with their status and health; base is the path of their routes (the set's
// static endpoints, or a user's), refresh redraws the page after an action.
function endpointTable(base, endpoints, refresh) {
  const rows = endpoints.map((ep) => {
    const act = async (verb, body) => {
      try {
        const r = await api("POST", base + enc(ep.name) + "/" + verb, body);
        toast(verb === "recover" ? `${r.requeued} failed deliveries queued again` : `${ep.name}: ${r.status}`);
        refresh();
      } catch (e) { toast(e.message, true); }
    };
    const recover = () => {
      const since = prompt("Resend the failed deliveries of events created since (RFC 3339):", new Date(Date.now() - 24 * 3600e3).toISOString());
      if (since) act("recover", { since });
    };
    const hl = ep.health || {};
    return h("tr", { "data-endpoint": ep.name },
      h("td", {}, h("b", {}, ep.name), h("div", { class: "muted small" }, ep.url)),
      h("td", {}, badge(ep.status), ep.disabledReason ? h("div", { class: "small" }, ep.disabledReason) : null),
      h("td", { class: "small" },
        hl.consecutiveFailedDeliveries ? h("div", { class: "bad" }, `${hl.consecutiveFailedDeliveries} failed deliveries in a row`) : h("div", {}, "healthy"),
        hl.lastSuccessAt ? h("div", {}, "last success " + fmtTime(hl.lastSuccessAt)) : null,
        hl.lastFailureAt ? h("div", {}, "last failure " + fmtTime(hl.lastFailureAt)) : null),
      h("td", { class: "actions" },
        ep.status === "enabled" ? h("button", { onclick: () => act("pause") }, "Pause") : h("button", { onclick: () => act("resume") }, "Resume"),
        h("button", { class: "secondary", onclick: recover }, "Recover…")));
  });
  return h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "endpoint"), h("th", {}, "status"), h("th", {}, "health"), h("th", {}, ""))), h("tbody", {}, rows));
}

// ---- events list

const FILTERS = [
  ["type", "type (or prefix*)"], ["status", "status"], ["userId", "user"], ["endpoint", "endpoint"],
  ["since", "since"], ["until", "until"],
];

async function pageEvents(set, params) {
  nav("events/" + set);
  const form = h("form", { class: "filters", id: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [name] of FILTERS) {
      let v = form.elements[name].value.trim();
      if (v && (name === "since" || name === "until")) v = new Date(v).toISOString();
      if (v) q.set(name, v);
    }
    location.hash = "#/events/" + enc(set) + (q.toString() ? "?" + q : "");
  } }, FILTERS.map(([name, label]) => {
    let input;
    const v = params.get(name) || "";
    if (name === "status") {
      input = h("select", { name }, ["", "pending", "delivered", "failed"].map((s) => h("option", { value: s, selected: s === v }, s || "any")));
    } else if (name === "since" || name === "until") {
      input = h("input", { name, type: "datetime-local", step: "1", value: v ? toLocal(v) : "" });
    } else if (name === "endpoint") {
      const s = sets.find((x) => x.name === set);
      input = h("select", { name }, ["", ...(s ? s.endpoints : [])].map((e) => h("option", { value: e, selected: e === v }, e || "any")));
    } else {
      input = h("input", { name, value: v });
    }
    return h("label", {}, label, input);
  }), h("button", { type: "submit" }, "Filter"), h("a", { href: "#/events/" + enc(set), class: "small" }, "clear"));

  const q = new URLSearchParams(params);
  q.set("limit", "25");
  let list;
  try {
    list = await api("GET", setPath(set) + "/events?" + q);
  } catch (e) {
    if (e.status !== 401) render(h("h1", {}, set, ": events"), form, errorBox(e));
    return;
  }
  const rows = list.events.map((ev) => h("tr", {},
    h("td", {}, h("a", { href: "#/event/" + enc(set) + "/" + enc(ev.id), class: "mono" }, ev.id)),
    h("td", {}, ev.type),
    h("td", {}, badge(ev.status)),
    h("td", { class: "small" }, ev.deliveries.map((d) => h("div", {}, d.endpoint, " ", badge(d.status), " ", d.attempts.length + (d.attempts.length === 1 ? " attempt" : " attempts")))),
    h("td", {}, ev.userId || ""),
    h("td", { class: "small" }, fmtTime(ev.createdAt))));
  const back = params.get("cursor") ? h("button", { class: "secondary", onclick: () => history.back() }, "← newer") : null;
  const nextQ = new URLSearchParams(params);
  if (list.nextCursor) nextQ.set("cursor", list.nextCursor);
  const next = list.nextCursor ? h("a", { href: "#/events/" + enc(set) + "?" + nextQ, class: "button secondary", id: "older" }, "older →") : null;
  render(h("h1", {}, set, ": events"), form,
    rows.length ? h("table", { id: "events" }, h("thead", {}, h("tr", {}, ["event", "type", "status", "deliveries", "user", "created"].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No events."),
    h("div", { class: "pager" }, back, next));
}

function toLocal(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// ---- one event

async function pageEvent(set, id) {
  nav("events/" + set);
  let ev;
  try {
    ev = await api("GET", setPath(set) + "/events/" + enc(id));
  } catch (e) {
    if (e.status !== 401) render(h("h1", {}, id), errorBox(e));
    return;
  }
  const resend = async (endpoint) => {
    try {
      await api("POST", setPath(set) + "/events/" + enc(id) + "/retry", { endpoint });
      toast("Resend queued for " + endpoint);
      pollEvent(set, id, ev);
    } catch (e) { toast(e.message, true); }
  };
  render(
    h("p", {}, h("a", { href: "#/events/" + enc(set) }, "← " + set + " events")),
    h("h1", { class: "mono" }, ev.id),
    h("dl", { class: "facts" },
      h("dt", {}, "type"), h("dd", {}, ev.type),
      h("dt", {}, "status"), h("dd", {}, badge(ev.status)),
      ev.userId ? [h("dt", {}, "user"), h("dd", {}, h("a", { href: "#/secrets/" + enc(set) + "?userId=" + enc(ev.userId) }, ev.userId))] : null,
      h("dt", {}, "created"), h("dd", {}, fmtTime(ev.createdAt)),
      h("dt", {}, "updated"), h("dd", {}, fmtTime(ev.updatedAt))),
    h("h2", {}, "Payload"),
    h("pre", { class: "payload" }, JSON.stringify(ev.payload, null, 2)),
    h("h2", {}, "Deliveries"),
    ev.deliveries.map((d) => delivery(d, resend)));
}

// pollEvent reloads the event until it has more attempts than before (a resend) or 30 s passed.
async function pollEvent(set, id, before) {
  const count = (e) => e.deliveries.reduce((n, d) => n + d.attempts.length, 0);
  const start = Date.now();
  while (Date.now() - start < 30000) {
    await new Promise((r) => setTimeout(r, 500));
    if (location.hash !== "#/event/" + enc(set) + "/" + enc(id)) return;
    const ev = await api("GET", setPath(set) + "/events/" + enc(id));
    const settled = ev.deliveries.every((d) => d.status !== "queued");
    if (count(ev) > count(before) && settled) break;
  }
  pageEvent(set, id);
}

function delivery(d, resend) {
  const canResend = d.status === "failed" || d.status === "delivered";
  return h("section", { class: "card delivery", "data-endpoint": d.endpoint },
    h("h3", {}, d.endpoint, " ", badge(d.status), " ",
      canResend ? h("button", { class: "resend", onclick: () => resend(d.endpoint) }, "Resend") : null),
    h("div", { class: "muted small" }, d.url),
    d.reason ? h("p", { class: "small" }, d.reason) : null,
    d.nextAttemptAt ? h("p", { class: "small" }, "next attempt " + fmtTime(d.nextAttemptAt)) : null,
    timeline(d.attempts),
    h("ol", { class: "attempts" }, d.attempts.map(attempt)));
}

// timeline draws the attempts on one time axis: a mark per attempt, as wide as its duration.
function timeline(attempts) {
  if (!attempts.length) return h("p", { class: "muted" }, "No attempt yet.");
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  const W = 720, H = 44, pad = 12;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "timeline");
  const t0 = new Date(attempts[0].startedAt).getTime();
  const last = attempts[attempts.length - 1];
  // At least a second on the axis, so that one short attempt is a mark, not the whole line.
  const end = new Date(last.startedAt).getTime() + last.durationMs;
  const t1 = Math.max(end + (end - t0) * 0.02, t0 + 1000);
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (W - 2 * pad);
  const line = document.createElementNS(NS, "line");
  Object.entries({ x1: pad, x2: W - pad, y1: 22, y2: 22, class: "axis" }).forEach(([k, v]) => line.setAttribute(k, v));
  svg.append(line);
  // The axis's ends: the first attempt's start, and how long after it the axis ends.
  for (const [tx, anchor, label] of [[pad, "start", "0 s"], [W - pad, "end", "+" + ((t1 - t0) / 1000).toFixed(1) + " s"]]) {
    const tick = document.createElementNS(NS, "text");
    Object.entries({ x: tx, y: H - 1, "text-anchor": anchor, class: "tick" }).forEach(([k, v]) => tick.setAttribute(k, v));
    tick.textContent = label;
    svg.append(tick);
  }
  for (const a of attempts) {
    const s = new Date(a.startedAt).getTime();
    const r = document.createElementNS(NS, "rect");
    const ok = a.responseStatus >= 200 && a.responseStatus < 300;
    Object.entries({ x: x(s) - 3, y: 12, width: Math.max(6, x(s + a.durationMs) - x(s)), height: 20, rx: 3, class: ok ? "ok" : "fail" })
      .forEach(([k, v]) => r.setAttribute(k, v));
    const title = document.createElementNS(NS, "title");
    title.textContent = `#${a.number} ${fmtTime(a.startedAt)} ${a.durationMs} ms ${a.responseStatus || a.error || ""}`;
    r.append(title);
    svg.append(r);
  }
  return svg;
}

function attempt(a) {
  const ok = a.responseStatus >= 200 && a.responseStatus < 300;
  const headers = Object.entries(a.requestHeaders || {}).sort(([x], [y]) => x.localeCompare(y));
  return h("li", { class: "attempt " + (ok ? "ok" : "fail") },
    h("div", {}, h("b", {}, "#" + a.number), " ", fmtTime(a.startedAt), " · ", a.durationMs + " ms", " · ",
      a.responseStatus ? h("span", { class: ok ? "good" : "bad" }, "HTTP " + a.responseStatus) : h("span", { class: "bad" }, "no response")),
    a.error ? h("div", { class: "bad small" }, a.error) : null,
    h("details", {}, h("summary", {}, "request headers"),
      h("table", { class: "headers" }, headers.map(([k, v]) => h("tr", {}, h("td", { class: "mono" }, k), h("td", { class: "mono" }, v))))),
    a.responseBody ? h("details", {}, h("summary", {}, "response"), h("pre", {}, a.responseBody)) : null);
}

// ---- secrets

function pageSecrets(set, params) {
  nav("secrets/" + set);
  const input = h("input", { name: "userId", id: "userId", value: params.get("userId") || "", required: true, placeholder: "user_123" });
  const out = h("div", { id: "secret" });
  const form = h("form", { class: "filters", onsubmit: async (ev) => {
    ev.preventDefault();
    await showSecret(set, input.value.trim(), out);
  } }, h("label", {}, "user", input), h("button", { type: "submit" }, "Show"));
  render(h("h1", {}, set, ": users"),
    h("p", { class: "muted" }, "Each user's deliveries are signed with their managed secret (created on first use). Rotating keeps the previous value valid for the set's rotation window. Below the secret: the endpoints the user registered, if the set allows them."),
    form, out);
  if (input.value) showSecret(set, input.value, out);
}

async function showSecret(set, userId, out) {
  let s;
  try {
    s = await api("GET", setPath(set) + "/users/" + enc(userId) + "/secret");
  } catch (e) {
    if (e.status !== 401) out.replaceChildren(errorBox(e));
    return;
  }
  const version = (label, v) => {
    const value = h("code", { class: "secret-value masked" }, "whcms_" + "•".repeat(24));
    const reveal = h("button", { class: "secondary reveal", onclick: () => {
      const shown = value.classList.toggle("masked");
      value.textContent = shown ? "whcms_" + "•".repeat(24) : v.value;
      reveal.textContent = shown ? "Reveal" : "Hide";
    } }, "Reveal");
    return h("tr", {}, h("td", {}, label), h("td", {}, value, " ", reveal),
      h("td", { class: "small" }, "created " + fmtTime(v.createdAt), v.expiresAt ? h("div", {}, "valid until " + fmtTime(v.expiresAt)) : null));
  };
  const confirmBox = h("div", { class: "confirm", hidden: true },
    h("p", {}, `Rotate the secret of ${userId}? Receivers must switch to the new value before the old one expires.`),
    h("button", { class: "danger", id: "confirm-rotate", onclick: async () => {
      try {
        await api("POST", setPath(set) + "/users/" + enc(userId) + "/secret/rotate");
        toast("Rotated the secret of " + userId);
        showSecret(set, userId, out);
      } catch (e) { toast(e.message, true); }
    } }, "Yes, rotate"), " ",
    h("button", { class: "secondary", onclick: () => { confirmBox.hidden = true; } }, "Cancel"));
  const userEndpoints = h("div", { id: "user-endpoints" });
  const info = sets.find((x) => x.name === set);
  if (info && info.userEndpoints) {
    const base = setPath(set) + "/users/" + enc(userId) + "/endpoints/";
    const refresh = async () => {
      try {
        const list = (await api("GET", base.slice(0, -1))).endpoints;
        userEndpoints.replaceChildren(h("h2", {}, `Endpoints of ${userId}`),
          list.length ? endpointTable(base, list, refresh) : h("p", { class: "muted" }, "This user has registered no endpoint."));
      } catch (e) {
        if (e.status !== 401) userEndpoints.replaceChildren(errorBox(e));
      }
    };
    refresh();
  }
  out.replaceChildren(h("table", { class: "secrets" },
    version("current", s.current),
    s.previous ? version("previous", s.previous) : null,
    (s.older || []).map((v) => version("older", v))),
  h("p", {}, h("button", { class: "danger", id: "rotate", onclick: () => { confirmBox.hidden = false; } }, "Rotate…")),
  confirmBox, userEndpoints);
}

// ---- charts

async function pageCharts(set) {
  nav("charts/" + set);
  render(h("h1", {}, set, ": the last hour"), h("p", { class: "muted" }, "Loading events…"));
  const now = Date.now();
  const since = new Date(now - 3600e3).toISOString();
  const events = [];
  let cursor = "", capped = false;
  try {
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams({ since, limit: "100" });
      if (cursor) q.set("cursor", cursor);
      const list = await api("GET", setPath(set) + "/events?" + q);
      events.push(...list.events);
      cursor = list.nextCursor || "";
      if (!cursor) break;
      if (page === 19) capped = true;
    }
  } catch (e) {
    if (e.status !== 401) render(h("h1", {}, set, ": the last hour"), errorBox(e));
    return;
  }
  const perMinute = deliveriesPerMinute(events, now);
  const latency = latencyByEndpoint(events, now);
  render(h("h1", {}, set, ": the last hour"),
    h("p", { class: "muted" }, `From the ${events.length} events created in the last hour${capped ? " (the newest 2,000 only)" : ""}, read from the events API; the server's own counters are at /metrics (locally) or on the CloudWatch dashboard (AWS).`),
    h("section", { class: "card" }, h("h2", {}, "Deliveries per minute by outcome"), h("p", { class: "muted small" }, "Each attempt in the minute it started: delivered (2xx), retried (failed, another attempt followed), failed (the delivery's last attempt failed)."), stackedBars(perMinute)),
    h("section", { class: "card" }, h("h2", {}, "Attempt latency per endpoint"), latencyBars(latency),
      h("table", { id: "latency" }, h("thead", {}, h("tr", {}, ["endpoint", "attempts", "p50", "p99"].map((c) => h("th", {}, c)))),
        h("tbody", {}, latency.map((l) => h("tr", {}, h("td", {}, l.endpoint), h("td", {}, l.count), h("td", {}, l.p50 + " ms"), h("td", {}, l.p99 + " ms")))))));
}

// ---- router

async function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    switch (parts[0]) {
      case "events": return await pageEvents(parts[1], params);
      case "event": return await pageEvent(parts[1], parts[2]);
      case "secrets": return pageSecrets(parts[1], params);
      case "charts": return await pageCharts(parts[1]);
      default: return await pageSets();
    }
  } catch (e) {
    if (e.status !== 401) render(errorBox(e));
  }
}

async function start() {
  if (auth === "key" && !sessionStorage.getItem(KEY)) return showLogin();
  try {
    sets = (await api("GET", "/v1/webhooks")).sets;
  } catch (e) {
    if (e.status !== 401) render(errorBox(e));
    return;
  }
  document.getElementById("signout").hidden = auth !== "key";
  route();
}

document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  showLogin();
});
window.addEventListener("hashchange", () => { if (sets.length) route(); });

(async () => {
  try {
    auth = (await (await fetch("config.json", { cache: "no-store" })).json()).auth;
  } catch { auth = "key"; }
  start();
})();
