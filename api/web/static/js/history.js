// The operator's history: readings and consumption of the fleet, a zone, a building or a meter
// over the last hour, day, 30 days or chosen days, read from the database (the rollups) so a
// reload shows the same chart. The choice lives in the address (?window=30d&scope=zone:3).
import { drawChart, tickDigits } from "./chart.js";
import { $, api, el, fmt, guarded, status, t } from "./core.js";

const WINDOWS = ["hour", "day", "30d", "custom"];

function readChoice() {
  const q = new URLSearchParams(location.search);
  const window = WINDOWS.includes(q.get("window")) ? q.get("window") : "day";
  const scope = /^(zone|building|meter):\d+$/.test(q.get("scope") ?? "") ? q.get("scope") : "fleet";
  return { window, scope, start: q.get("start") ?? "", end: q.get("end") ?? "" };
}

function query(choice) {
  const params = { window: choice.window };
  const [kind, id] = choice.scope.split(":");
  if (id) params[`${kind}_id`] = id;
  if (choice.window === "custom") Object.assign(params, { start: choice.start, end: choice.end });
  return params;
}

/** Fill the scope picker: the fleet, each zone with its buildings, and a meter when asked for. */
async function fillScopes(select, choice) {
  const [zones, buildings] = await Promise.all([
    api("/zones", { query: { limit: 1000 } }),
    api("/buildings", { query: { limit: 1000 } }),
  ]);
  const groups = zones.map((z) =>
    el(
      "optgroup",
      { label: `${z.name} (${z.code})` },
      el("option", { value: `zone:${z.id}` }, t("op.scope.zone", { name: z.name })),
      buildings.filter((b) => b.zone_id === z.id).map((b) => el("option", { value: `building:${b.id}` }, b.name)),
    ),
  );
  select.append(...groups);
  if (choice.scope.startsWith("meter:")) {
    const meter = await api(`/meters/${choice.scope.slice(6)}`);
    select.append(el("option", { value: choice.scope }, t("op.scope.meter", { serial: meter.serial })));
  }
  select.value = choice.scope;
  if (select.value !== choice.scope) select.value = "fleet";
}

function showCustom(form) {
  const custom = form.elements.window.value === "custom";
  form.querySelectorAll(".custom-only").forEach((n) => (n.hidden = !custom));
  form.elements.start.required = custom;
  form.elements.end.required = custom;
}

function xFormat(step, tz) {
  if (step === "day") return (v) => fmt.part(v, { day: "numeric", month: "short" }, "UTC");
  if (step === "hour") return (v, full) => fmt.part(v, full ? { dateStyle: "short", timeStyle: "short" } : { day: "numeric", hour: "2-digit" }, tz);
  return (v) => fmt.part(v, { hour: "2-digit", minute: "2-digit" }, tz);
}

async function draw(form, choice) {
  const data = await api("/telemetry/history", { query: query(choice) });
  const scopeName = form.elements.scope.selectedOptions[0]?.textContent ?? "";
  const windowName = choice.window === "custom" ? `${fmt.date(choice.start)} – ${fmt.date(choice.end)}` : t(`op.window.${choice.window}`);
  // Days sit at their local date (as UTC midnight), shorter steps at their instant.
  const xOf = data.step === "day" ? (p) => Date.parse(`${p.local_date}T00:00:00Z`) : (p) => Date.parse(p.start);
  const x = { kind: "time", name: data.step === "day" ? t("op.date") : t("op.time"), format: xFormat(data.step, data.timezone) };
  const total = $("#history-total");
  const volumeBox = $("#volume-chart");
  if (data.total_volume_l === null) {
    total.textContent = t("op.history_readings", { readings: fmt.number(data.total_readings) });
    volumeBox.replaceChildren(el("p", { class: "muted" }, t("op.minute_no_volume")));
  } else {
    total.textContent = t("op.history_total", { volume: fmt.m3(data.total_volume_l), readings: fmt.number(data.total_readings) });
    drawChart(volumeBox, {
      title: t("op.history_volume", { scope: scopeName, window: windowName }),
      x,
      y: { format: (v, step) => fmt.number(v / 1000, tickDigits(step / 1000)), exact: (v) => fmt.number(v / 1000, 3) },
      series: [{ name: t("op.consumption"), kind: "bar", points: data.points.map((p) => ({ x: xOf(p), y: p.volume_l, tone: p.estimated ? 1 : 0 })) }],
    });
    if (data.points.some((p) => p.estimated)) volumeBox.append(el("p", { class: "muted" }, t("op.estimated_note")));
  }
  drawChart($("#rate-chart"), {
    title: t(`op.readings_per.${data.step}`, { scope: scopeName, window: windowName }),
    x,
    y: { format: (v, step) => fmt.number(v, tickDigits(step)), exact: (v) => fmt.number(v) },
    series: [{ name: t("op.readings"), kind: "line", points: data.points.map((p) => ({ x: xOf(p), y: p.readings })) }],
  });
}

/** Take the history form over and draw the chosen window. */
export async function startHistory() {
  const form = $("#history-form");
  const choice = readChoice();
  form.elements.window.value = choice.window;
  form.elements.start.value = choice.start;
  form.elements.end.value = choice.end;
  showCustom(form);
  form.addEventListener("change", (event) => {
    if (event.target.name === "window") showCustom(form);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = {
      window: form.elements.window.value,
      scope: form.elements.scope.value,
      start: form.elements.start.value,
      end: form.elements.end.value,
    };
    const params = new URLSearchParams({ window: next.window, scope: next.scope });
    if (next.window === "custom") {
      if (!next.start || !next.end || next.end < next.start) {
        form.elements.end.setAttribute("aria-invalid", "true");
        return status(t("op.bad_range"), "error");
      }
      params.set("start", next.start);
      params.set("end", next.end);
    }
    form.elements.end.removeAttribute("aria-invalid");
    history.replaceState(null, "", `?${params}#history`);
    guarded(() => draw(form, next));
  });
  await fillScopes(form.elements.scope, choice);
  if (choice.window !== "custom" || (choice.start && choice.end)) await draw(form, choice);
}
