// Charts of the last hour, computed in the browser from the events the API serves, drawn as SVG.
const NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// outcome of an attempt: delivered (2xx), failed (the last attempt of a failed delivery) or retried.
function outcome(a, d) {
  if (a.responseStatus >= 200 && a.responseStatus < 300) return "delivered";
  const last = d.attempts[d.attempts.length - 1];
  return d.status === "failed" && last && last.id === a.id ? "failed" : "retried";
}

// deliveriesPerMinute counts the attempts that started in each of the 60 minutes before now, by outcome.
export function deliveriesPerMinute(events, now) {
  const start = now - 3600e3;
  const minutes = Array.from({ length: 60 }, (_, i) => ({ at: start + i * 60e3, delivered: 0, retried: 0, failed: 0 }));
  for (const ev of events) {
    for (const d of ev.deliveries) {
      for (const a of d.attempts) {
        const t = new Date(a.startedAt).getTime();
        const i = Math.floor((t - start) / 60e3);
        if (i >= 0 && i < 60) minutes[i][outcome(a, d)]++;
      }
    }
  }
  return minutes;
}

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// latencyByEndpoint is the p50 and p99 of the durations of the attempts of the last hour, per endpoint.
export function latencyByEndpoint(events, now) {
  const by = new Map();
  for (const ev of events) {
    for (const d of ev.deliveries) {
      for (const a of d.attempts) {
        if (new Date(a.startedAt).getTime() < now - 3600e3) continue;
        if (!by.has(d.endpoint)) by.set(d.endpoint, []);
        by.get(d.endpoint).push(a.durationMs);
      }
    }
  }
  return [...by.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([endpoint, ds]) => {
    ds.sort((x, y) => x - y);
    return { endpoint, count: ds.length, p50: percentile(ds, 50), p99: percentile(ds, 99) };
  });
}

const COLORS = { delivered: "ok", retried: "warn", failed: "fail" };

// stackedBars draws one stacked bar per minute: delivered, retried, failed.
export function stackedBars(minutes) {
  const W = 760, H = 200, left = 36, bottom = 22, top = 10;
  const max = Math.max(1, ...minutes.map((m) => m.delivered + m.retried + m.failed));
  const bw = (W - left) / minutes.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "per-minute" });
  svg.append(svgEl("line", { x1: left, x2: W, y1: H - bottom, y2: H - bottom, class: "axis" }));
  svg.append(svgEl("text", { x: left - 4, y: top + 8, "text-anchor": "end", class: "tick" }, String(max)));
  svg.append(svgEl("text", { x: left - 4, y: H - bottom, "text-anchor": "end", class: "tick" }, "0"));
  minutes.forEach((m, i) => {
    let base = 0;
    for (const k of ["delivered", "retried", "failed"]) {
      if (!m[k]) continue;
      const r = svgEl("rect", { x: left + i * bw + 1, y: y(base + m[k]), width: Math.max(1, bw - 2), height: y(base) - y(base + m[k]), class: COLORS[k] });
      r.append(svgEl("title", {}, `${new Date(m.at).toLocaleTimeString(undefined, { hour12: false })}: ${m[k]} ${k}`));
      svg.append(r);
      base += m[k];
    }
    if (i % 10 === 0) {
      svg.append(svgEl("text", { x: left + i * bw, y: H - 6, class: "tick" }, new Date(m.at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false })));
    }
  });
  const legend = svgEl("g", {});
  // Each entry as wide as its label (about 6.5 units a letter), so that the gaps between entries are equal.
  let lx = W - 250;
  ["delivered", "retried", "failed"].forEach((k) => {
    legend.append(svgEl("rect", { x: lx, y: 2, width: 10, height: 10, class: COLORS[k] }));
    legend.append(svgEl("text", { x: lx + 14, y: 11, class: "tick" }, k));
    lx += 14 + k.length * 6.5 + 18;
  });
  svg.append(legend);
  return svg;
}

// latencyBars draws p50 and p99 per endpoint as horizontal bars.
export function latencyBars(rows) {
  const W = 760, row = 34, left = 160;
  const H = Math.max(1, rows.length) * row + 10;
  const max = Math.max(1, ...rows.map((r) => r.p99));
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "latency-chart" });
  rows.forEach((r, i) => {
    const y = 6 + i * row;
    svg.append(svgEl("text", { x: left - 8, y: y + 18, "text-anchor": "end", class: "tick" }, r.endpoint));
    const w = (v) => Math.max(2, ((W - left - 90) * v) / max);
    svg.append(svgEl("rect", { x: left, y, width: w(r.p99), height: 12, class: "warn" }));
    svg.append(svgEl("rect", { x: left, y: y + 14, width: w(r.p50), height: 12, class: "ok" }));
    svg.append(svgEl("text", { x: left + w(r.p99) + 6, y: y + 10, class: "tick" }, `p99 ${r.p99} ms`));
    svg.append(svgEl("text", { x: left + w(r.p50) + 6, y: y + 24, class: "tick" }, `p50 ${r.p50} ms`));
  });
  if (!rows.length) svg.append(svgEl("text", { x: 10, y: 20, class: "tick" }, "No attempts in the last hour."));
  return svg;
}
