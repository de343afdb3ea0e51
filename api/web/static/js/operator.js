// The operator dashboard: ingest rate and lag, history from the database, reporting vs silent
// meters, quarantine by reason, open anomalies by kind. The gauges poll while the tab is visible.
import { $, api, ApiError, el, fmt, guarded, startShell, t, table } from "./core.js";
import { startHistory } from "./history.js";

const REFRESH_S = 10;

const user = await startShell();

function card(label, value, { tone = "", id } = {}) {
  return el("li", { class: `card ${tone}`, id }, el("span", { class: "figure" }, value), el("span", { class: "label" }, label));
}

const meterLink = (id, text) => el("a", { href: `/operator/meters/${id}` }, text ?? String(id));

function renderIngest(s) {
  const lagTone = s.lag_s === null ? "" : s.lag_s > 900 ? "bad" : s.lag_s > 120 ? "warn" : "ok";
  $("#ingest-cards").replaceChildren(
    card(t("op.rate"), fmt.number(s.readings_per_second, 1), { id: "rate" }),
    card(t("op.last_minute"), fmt.number(s.readings_last_minute), { id: "last-minute" }),
    card(t("op.lag"), fmt.duration(s.lag_s), { tone: lagTone, id: "lag" }),
    card(t("op.rollup_queue"), fmt.number(s.rollup_queue_depth), { id: "rollup" }),
  );
  $("#meter-cards").replaceChildren(
    card(t("op.active"), fmt.number(s.meters_active), { id: "active" }),
    card(t("op.reporting"), fmt.number(s.meters_reporting), { tone: "ok", id: "reporting" }),
    card(t("op.hand_read"), fmt.number(s.meters_hand_read), { id: "hand-read" }),
    card(t("op.silent"), fmt.number(s.meters_silent), { tone: s.meters_silent ? "bad" : "ok", id: "silent-count" }),
  );
  const open = s.quarantine.filter((q) => q.status === "open").sort((a, b) => b.count - a.count);
  $("#quarantine").replaceChildren(
    open.length
      ? table(
          [
            [t("op.reason"), (q) => (t(`op.reason.${q.reason}`) === `op.reason.${q.reason}` ? q.reason : t(`op.reason.${q.reason}`))],
            [t("op.open"), (q) => fmt.number(q.count), "num"],
          ],
          open,
          { caption: `${t("op.total_open")}: ${fmt.number(open.reduce((n, q) => n + q.count, 0))}` },
        )
      : el("p", {}, t("app.none")),
  );
}

async function renderSilent() {
  const page = await api("/ingest/status/meters", { query: { limit: 20 } });
  const silent = page.meters.filter((m) => m.silent);
  $("#silent").replaceChildren(
    silent.length
      ? table(
          [
            [t("op.serial"), (m) => meterLink(m.meter_id, m.serial)],
            [t("op.last_seen"), (m) => (m.last_seen_at ? fmt.dateTime(m.last_seen_at) : t("op.never"))],
            [t("op.last_manual"), (m) => (m.last_manual_at ? fmt.dateTime(m.last_manual_at) : t("op.never"))],
            [t("op.silent_for"), (m) => fmt.duration(m.silent_for_s), "num"],
          ],
          silent,
          { caption: t("op.silent_list") },
        )
      : el("p", {}, t("app.none")),
  );
}

async function renderAnomalies() {
  const box = $("#anomalies");
  let data;
  try {
    data = await api("/anomalies", { query: { state: "open", limit: 500 } });
  } catch (error) {
    // The anomalies API is not on this server yet: say so, keep the rest of the dashboard.
    if (error instanceof ApiError && error.status === 404 && error.body?.detail === "Not Found") {
      return box.replaceChildren(el("p", { class: "muted" }, t("app.unavailable")));
    }
    throw error;
  }
  const open = Array.isArray(data) ? data : data.items ?? [];
  if (!open.length) return box.replaceChildren(el("p", {}, t("app.none")));
  const byKind = new Map();
  for (const a of open) byKind.set(a.kind, [...(byKind.get(a.kind) ?? []), a]);
  const label = (kind) => (t(`anomaly.${kind}`) === `anomaly.${kind}` ? kind : t(`anomaly.${kind}`));
  box.replaceChildren(
    table(
      [
        [t("op.kind"), ([kind]) => label(kind)],
        [t("op.count"), ([, list]) => fmt.number(list.length), "num"],
        // One link per kind to the workspace, however many incidents: never a cell of 200 links.
        [t("op.meter_list"), ([kind, list]) => el("a", { href: `/operator/incidents?kind=${kind}&status=live` }, t("op.see_incidents", { count: fmt.number(list.length), kind: label(kind) }))],
      ],
      [...byKind.entries()].sort((a, b) => b[1].length - a[1].length),
      { caption: t("op.anomalies") },
    ),
  );
}

async function refresh() {
  const status = await api("/ingest/status");
  renderIngest(status);
  await Promise.all([renderSilent(), renderAnomalies()]);
  $("#live").textContent = t("op.live", { time: fmt.part(Date.now(), { timeStyle: "medium" }), seconds: REFRESH_S });
}

if (user?.role === "admin") {
  guarded(refresh);
  guarded(startHistory);
  setInterval(() => {
    if (document.visibilityState === "visible") guarded(refresh, { quiet: true });
  }, REFRESH_S * 1000);
}
