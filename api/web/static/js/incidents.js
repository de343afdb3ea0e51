// The incidents workspace: filters in the address, a page of incidents at a time with a checkbox
// each, bulk acknowledge / assign / resolve of the selection, and one incident's evidence on a
// chart with the same actions. Refusals (closed already, a note needed) are said per incident.
import { drawChart } from "./chart.js";
import { $, api, ApiError, el, fmt, guarded, startShell, status, t, table } from "./core.js";

const PAGE = 50;
const HOUR = 3_600_000;
const user = await startShell();
const selected = new Set();
let staff = [];
let offset = 0;

const kindName = (kind) => (t(`anomaly.${kind}`) === `anomaly.${kind}` ? kind : t(`anomaly.${kind}`));
const staffName = (id) => (id === null ? t("inc.nobody") : staff.find((s) => s.id === id)?.name ?? `#${id}`);

function filters() {
  const q = new URLSearchParams(location.search);
  return {
    kind: q.get("kind") ?? "",
    severity: q.get("severity") ?? "",
    zone_id: q.get("zone_id") ?? "",
    status: q.get("status") ?? "live",
  };
}

function apiQuery(f) {
  const query = { limit: PAGE, offset };
  for (const key of ["kind", "severity", "zone_id"]) if (f[key]) query[key] = f[key];
  if (f.status === "live") query.state = "open";
  else if (f.status) query.status = f.status;
  return query;
}

function showSelected() {
  $("#selected").textContent = t("inc.selected", { count: fmt.number(selected.size) });
}

async function load() {
  const f = filters();
  const page = await api("/anomalies", { query: apiQuery(f) });
  const from = page.total ? offset + 1 : 0;
  $("#count").textContent = t("inc.count", { total: fmt.number(page.total), from: fmt.number(from), to: fmt.number(offset + page.items.length) });
  $("#prev").disabled = offset === 0;
  $("#next").disabled = offset + page.items.length >= page.total;
  const box = $("#list");
  if (!page.items.length) return box.replaceChildren(el("p", {}, t("app.none")));
  const all = el("input", { type: "checkbox", id: "select-page", "aria-label": t("inc.select_page") });
  all.checked = page.items.every((i) => selected.has(i.id));
  all.addEventListener("change", () => {
    for (const i of page.items) all.checked ? selected.add(i.id) : selected.delete(i.id);
    box.querySelectorAll("input.pick").forEach((c) => (c.checked = all.checked));
    showSelected();
  });
  box.replaceChildren(
    el("p", {}, el("label", {}, all, " ", t("inc.select_page"))),
    table(
      [
        [
          t("inc.select"),
          (i) => {
            const box = el("input", { type: "checkbox", class: "pick", "aria-label": `${t("inc.select")} ${i.serial} ${kindName(i.kind)}` });
            box.checked = selected.has(i.id);
            box.addEventListener("change", () => {
              box.checked ? selected.add(i.id) : selected.delete(i.id);
              showSelected();
            });
            return box;
          },
        ],
        [t("inc.meter"), (i) => el("a", { href: `/operator/meters/${i.meter_id}` }, i.serial)],
        [t("inc.kind"), (i) => kindName(i.kind)],
        [t("inc.severity"), (i) => el("span", { class: `badge ${i.severity === "critical" ? "bad" : i.severity === "warning" ? "warn" : ""}` }, t(`anomaly.severity.${i.severity}`))],
        [t("inc.status"), (i) => t(`op.state.${i.status}`)],
        [t("inc.started"), (i) => fmt.dateTime(i.started_at)],
        [t("inc.assigned"), (i) => staffName(i.assigned_to)],
        ["", (i) => el("button", { type: "button", class: "link", onclick: () => guarded(() => openDetail(i.id)) }, `${t("inc.open")} · ${i.serial}`)],
      ],
      page.items,
      { caption: t("inc.title") },
    ),
  );
}

function refusals(body) {
  return body.refused.map((r) => `#${r.id}: ${t(`inc.refused.${r.error}`) === `inc.refused.${r.error}` ? r.detail : t(`inc.refused.${r.error}`)}`).join("; ");
}

async function bulk(action, extra = {}) {
  if (!selected.size) return status(t("inc.none_selected"), "error");
  const ids = [...selected];
  let done = 0;
  const refused = [];
  // The API takes 200 at a time: a bigger selection goes in slices.
  for (let i = 0; i < ids.length; i += 200) {
    const body = await api("/anomalies/bulk", { method: "POST", body: { ids: ids.slice(i, i + 200), action, ...extra } });
    done += body.done.length;
    if (body.refused.length) refused.push(refusals(body));
  }
  selected.clear();
  showSelected();
  await load();
  const summary = t("inc.bulk_done", { done: fmt.number(done), refused: fmt.number(ids.length - done) });
  status(refused.length ? `${summary} ${refused.join("; ")}` : summary, refused.length ? "error" : "ok");
}

async function evidenceChart(incident) {
  const start = Date.parse(incident.started_at) - 24 * HOUR;
  const until = Math.min(Date.parse(incident.ended_at ?? new Date().toISOString()) + 6 * HOUR, start + 7 * 24 * HOUR);
  const end = Math.max(until, start + 30 * HOUR);
  const volumes = await api(`/meters/${incident.meter_id}/volumes`, {
    query: { granularity: "hour", start: new Date(start).toISOString(), end: new Date(end).toISOString() },
  });
  const marks = [incident.started_at, incident.ended_at].filter(Boolean);
  drawChart($("#evidence-chart"), {
    title: t("inc.evidence_chart"),
    x: { kind: "time", name: t("inc.time"), format: (v, full) => fmt.part(v, full ? { dateStyle: "short", timeStyle: "short" } : { day: "numeric", hour: "2-digit" }, volumes.timezone) },
    y: { format: (v) => fmt.number(v), exact: (v) => fmt.number(v) },
    series: [{ name: t("inc.hourly_l"), kind: "bar", points: volumes.buckets.map((b) => ({ x: Date.parse(b.start), y: b.volume_l, tone: b.estimated ? 1 : 0 })) }],
    markers: marks.map((m) => ({ x: Date.parse(m), label: fmt.dateTime(m) })),
    markerName: t("inc.start_end"),
  });
}

async function openDetail(id) {
  const incident = await api(`/anomalies/${id}`);
  const panel = $("#detail");
  panel.hidden = false;
  panel.dataset.id = String(id);
  $("#detail-h").textContent = `${t("inc.detail", { id })} · ${kindName(incident.kind)} · ${incident.serial}`;
  const fact = (term, value) => [el("dt", {}, term), el("dd", {}, value)];
  $("#detail-facts").replaceChildren(
    ...fact(t("inc.status"), t(`op.state.${incident.status}`)),
    ...fact(t("inc.severity"), t(`anomaly.severity.${incident.severity}`)),
    ...fact(t("inc.started"), fmt.dateTime(incident.started_at)),
    ...fact(t("inc.assigned"), staffName(incident.assigned_to)),
    ...Object.entries(incident.evidence ?? {}).flatMap(([key, value]) => fact(key, typeof value === "number" ? fmt.number(value, Number.isInteger(value) ? 0 : 1) : String(value))),
  );
  $("#one-assignee").value = incident.assigned_to === null ? "" : String(incident.assigned_to);
  panel.focus();
  await evidenceChart(incident);
}

async function act(path, body) {
  const id = $("#detail").dataset.id;
  try {
    await api(`/anomalies/${id}/${path}`, { method: "POST", body });
  } catch (error) {
    if (error instanceof ApiError && [409, 422].includes(error.status)) {
      return status(t(`inc.refused.${error.body?.error}`) === `inc.refused.${error.body?.error}` ? error.body?.detail : t(`inc.refused.${error.body?.error}`), "error");
    }
    throw error;
  }
  await Promise.all([load(), openDetail(Number(id))]);
  status(t("inc.done"), "ok");
}

function fillStaff() {
  const options = () => [el("option", { value: "" }, t("inc.nobody")), ...staff.map((s) => el("option", { value: String(s.id) }, s.name))];
  $("#bulk-assignee").replaceChildren(...options());
  $("#one-assignee").replaceChildren(...options());
}

async function main() {
  const form = $("#filters");
  const f = filters();
  const [zones, people] = await Promise.all([api("/zones", { query: { limit: 1000 } }), api("/anomalies/assignees")]);
  staff = people;
  fillStaff();
  form.elements.zone_id.append(...zones.map((z) => el("option", { value: String(z.id) }, `${z.name} (${z.code})`)));
  for (const [key, value] of Object.entries(f)) form.elements[key].value = value;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const key of ["kind", "severity", "zone_id", "status"]) next.set(key, form.elements[key].value);
    history.replaceState(null, "", `?${next}`);
    offset = 0;
    selected.clear();
    showSelected();
    guarded(load);
  });
  $("#prev").addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE);
    guarded(load);
  });
  $("#next").addEventListener("click", () => {
    offset += PAGE;
    guarded(load);
  });
  $("#bulk-ack").addEventListener("click", () => guarded(() => bulk("acknowledge")));
  $("#bulk-assign").addEventListener("click", () => {
    const value = $("#bulk-assignee").value;
    guarded(() => bulk("assign", { user_id: value ? Number(value) : null }));
  });
  $("#bulk-resolve").addEventListener("click", () => guarded(() => bulk("resolve", { note: $("#bulk-note").value })));
  $("#one-ack").addEventListener("click", () => guarded(() => act("acknowledge")));
  $("#one-assign").addEventListener("click", () => {
    const value = $("#one-assignee").value;
    guarded(() => act("assign", { user_id: value ? Number(value) : null }));
  });
  $("#one-resolve").addEventListener("click", () => guarded(() => act("resolve", { note: $("#one-note").value })));
  $("#one-close").addEventListener("click", () => ($("#detail").hidden = true));
  showSelected();
  await load();
}

if (user) guarded(main);
