// Property manager: buildings, dwellings and tenants, monthly report, unpaid follow-up, anomalies.
import { $, api, ApiError, el, fmt, guarded, startShell, t, table } from "./core.js";

const user = await startShell();

/** The API answer, or null when this server has no such route yet (not "not in reach"). */
async function optional(path, query) {
  try {
    return await api(path, { query });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405) && error.body?.detail === "Not Found") return null;
    throw error;
  }
}

const unavailable = () => el("p", { class: "muted", dataset: { unavailable: "" } }, t("app.unavailable"));
const items = (data) => (Array.isArray(data) ? data : data?.items ?? []);

function monthStart() {
  return `${$("#month").value}-01`;
}

async function dwellings(buildingId) {
  const [rows, people] = await Promise.all([
    api("/dwellings", { query: { building_id: buildingId, limit: 500 } }),
    api("/users", { query: { limit: 500 } }),
  ]);
  const names = new Map(people.map((p) => [p.id, p.full_name]));
  const occupants = await Promise.all(rows.map((d) => api(`/dwellings/${d.id}/occupants`)));
  const today = new Date().toISOString().slice(0, 10);
  const current = (list) => list.filter((o) => o.start_date <= today && (!o.end_date || o.end_date >= today));
  $("#dwellings").replaceChildren(
    rows.length
      ? table(
          [
            [t("manager.reference"), (r) => r.dwelling.reference],
            [t("manager.type"), (r) => r.dwelling.dwelling_type],
            [t("manager.occupancy"), (r) => r.dwelling.occupancy],
            [
              t("manager.tenants"),
              (r) =>
                el(
                  "ul",
                  { class: "plain" },
                  current(r.occupants).map((o) =>
                    el("li", {}, `${names.get(o.user_id) ?? `#${o.user_id}`} (${o.relation}, ${t("manager.since", { date: fmt.date(o.start_date) })})`),
                  ),
                ),
            ],
          ],
          rows.map((dwelling, i) => ({ dwelling, occupants: occupants[i] })),
          { caption: t("manager.dwellings") },
        )
      : el("p", {}, t("app.none")),
  );
}

async function report(buildingId) {
  const rows = await optional(`/reports/buildings/${buildingId}/monthly`, { month: monthStart() });
  if (rows === null) {
    $("#report").replaceChildren(unavailable());
    $("#followup").replaceChildren(unavailable());
    return;
  }
  const money = (minor, row) => (row.currency ? fmt.money(minor, row.currency) : "–");
  const currency = rows.find((r) => r.currency)?.currency;
  const sum = (name) => rows.reduce((total, r) => total + r[name], 0);
  const totals = { reference: t("manager.total"), volume_l: sum("volume_l"), billed_minor: sum("billed_minor"), paid_minor: sum("paid_minor"), unpaid_minor: sum("unpaid_minor"), currency };
  const columns = [
    [t("manager.reference"), (r) => r.reference],
    [t("manager.volume"), (r) => fmt.m3(r.volume_l), "num"],
    [t("manager.billed"), (r) => money(r.billed_minor, r), "num"],
    [t("manager.paid"), (r) => money(r.paid_minor, r), "num"],
    [t("manager.unpaid"), (r) => money(r.unpaid_minor, r), "num"],
  ];
  $("#report").replaceChildren(table(columns, [...rows, totals], { caption: t("manager.report") }));
  const unpaid = rows.filter((r) => r.unpaid_minor > 0).sort((a, b) => b.unpaid_minor - a.unpaid_minor);
  $("#followup").replaceChildren(
    unpaid.length ? table([columns[0], columns[4], columns[2]], unpaid, { caption: t("manager.followup") }) : el("p", {}, t("manager.no_unpaid")),
  );
}

async function collection() {
  const end = new Date();
  const start = new Date(end.getFullYear() - 1, end.getMonth(), 1);
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const rows = await optional("/reports/collection", { start: iso(start), end: iso(end) });
  if (rows === null) return $("#collection").replaceChildren(unavailable());
  if (!rows.length) return $("#collection").replaceChildren(el("p", {}, t("app.none")));
  const m = (name) => (r) => fmt.money(r[name], r.currency);
  $("#collection").replaceChildren(
    table(
      [
        [t("manager.billed"), m("billed_minor"), "num"],
        [t("manager.paid"), m("collected_minor"), "num"],
        [t("manager.rate"), (r) => (r.collection_rate === null ? "–" : `${fmt.number(Number(r.collection_rate) * 100, 1)} %`), "num"],
        [t("manager.not_due"), m("not_due_minor"), "num"],
        [`${t("manager.late")} 0–30`, m("days_0_30_minor"), "num"],
        [`31–60`, m("days_31_60_minor"), "num"],
        [`61–90`, m("days_61_90_minor"), "num"],
        [`> 90`, m("days_over_90_minor"), "num"],
      ],
      rows,
      { caption: t("manager.collection") },
    ),
  );
}

async function anomalies(buildingId) {
  const data = await optional("/anomalies", { building_id: buildingId, state: "open", limit: 100 });
  if (data === null) return $("#anomalies").replaceChildren(unavailable());
  const rows = items(data);
  $("#anomalies").replaceChildren(
    rows.length
      ? table(
          [
            [t("manager.kind"), (r) => el("span", { class: `badge ${r.severity === "critical" ? "bad" : "warn"}` }, r.kind)],
            [t("manager.meter"), (r) => r.serial],
            [t("manager.started"), (r) => fmt.dateTime(r.started_at)],
          ],
          rows,
          { caption: t("manager.anomalies") },
        )
      : el("p", {}, t("manager.no_anomalies")),
  );
}

async function showBuilding() {
  const id = $("#building").value;
  if (!id) return;
  await guarded(() => Promise.all([dwellings(id), report(id), anomalies(id)]));
}

async function start() {
  const buildings = await guarded(() => api("/buildings", { query: { limit: 500 } }));
  if (!buildings) return;
  if (!buildings.length) {
    $("#pick").replaceWith(el("p", {}, t("manager.no_buildings")));
    return;
  }
  const now = new Date();
  $("#month").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  $("#building").replaceChildren(...buildings.map((b) => el("option", { value: b.id }, b.name)));
  $("#building").addEventListener("change", showBuilding);
  $("#month").addEventListener("change", () => guarded(() => report($("#building").value)));
  await showBuilding();
  guarded(collection, { quiet: true });
}

// Enter in the picker must not reload the page (no inline handler: the CSP forbids them).
$("#pick").addEventListener("submit", (event) => event.preventDefault());
if (user) start();
