// A meter: its index, hourly or daily consumption over a chosen range, its anomalies marked on
// the chart and its forecast band. The range lives in the URL so a view can be shared.
import { drawChart } from "./chart.js";
import { $, api, ApiError, el, fmt, guarded, params, startShell, status, t, table } from "./core.js";

const user = await startShell();
const meterId = Number(params.meter_id);
const DAY = 86_400_000;

/** "YYYY-MM-DD" of an instant in a time zone. */
function localDate(value, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(value));
}

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/** The instant (ISO) a local date starts in a time zone: UTC midnight moved by the zone's offset. */
function localMidnight(day, timeZone) {
  const utc = Date.parse(`${day}T00:00:00Z`);
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(utc));
  const [d, hm] = parts.split(", ");
  const shown = Date.parse(`${d}T${hm.replace(/^24/, "00")}:00Z`);
  return new Date(utc - (shown - utc)).toISOString();
}

/** The API answer, or null when the route is not on this server (yet). */
async function optional(path, query) {
  try {
    return await api(path, { query });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.body?.detail === "Not Found") return null;
    throw error;
  }
}

/** Forecast days as {date, expected, low, high} in litres, whatever the exact field names. */
function forecastDays(data) {
  const list = Array.isArray(data) ? data : data?.days ?? data?.points ?? data?.forecast ?? data?.items ?? [];
  const pick = (o, ...names) => names.map((n) => o[n]).find((v) => v !== undefined && v !== null);
  return list
    .map((d) => ({
      date: String(pick(d, "local_date", "date", "day", "start") ?? "").slice(0, 10),
      expected: Number(pick(d, "expected_l", "volume_l", "expected", "mean_l", "predicted_l")),
      low: Number(pick(d, "low_l", "lower_l", "low", "lower")),
      high: Number(pick(d, "high_l", "upper_l", "high", "upper")),
    }))
    .filter((d) => d.date.length === 10 && Number.isFinite(d.low) && Number.isFinite(d.high));
}

async function facts(meter) {
  const latest = await api(`/meters/${meterId}/readings`, { query: { limit: 1 } });
  const last = latest.readings[0];
  document.querySelector("h1").textContent = t("op.meter", { serial: meter.serial });
  document.title = `${t("op.meter", { serial: meter.serial })} · WaterBill`;
  const item = (label, value, sub) =>
    el("li", { class: "card" }, el("span", { class: "figure" }, value), el("span", { class: "label" }, label), sub ? el("span", { class: "label" }, sub) : null);
  // The index wraps before its unit is cut: a 9-digit register is wider than a phone's card.
  const index = last ? [fmt.number(last.index_l / 1000, 3), el("span", { class: "unit" }, `\u00a0${t("unit.m3")}`)] : "–";
  $("#meter-facts").replaceChildren(
    item(t("op.index"), index, last ? t("op.index_at", { time: fmt.dateTime(last.time) }) : null),
    item(t("op.kind_label"), t(`op.meter_kind.${meter.kind}`)),
    item(t("op.installed"), fmt.date(meter.installed_at)),
    item(t("op.interval"), fmt.duration(meter.reporting_interval_s)),
  );
  if (user.role === "admin") {
    $("#meter-history").replaceChildren(el("a", { href: `/operator?window=30d&scope=meter:${meterId}#history` }, t("op.meter_history")));
  }
}

function readRange() {
  const q = new URLSearchParams(location.search);
  const today = isoDay(Date.now());
  return {
    granularity: q.get("granularity") === "day" ? "day" : "hour",
    start: q.get("start") ?? isoDay(Date.now() - 6 * DAY),
    end: q.get("end") ?? today,
  };
}

async function chart(range, anomalies) {
  const endExclusive = isoDay(Date.parse(`${range.end}T00:00:00Z`) + DAY);
  const volumes = await api(`/meters/${meterId}/volumes`, {
    query: { granularity: range.granularity, start: range.start, end: endExclusive },
  });
  const tz = volumes.timezone;
  const daily = range.granularity === "day";
  // Daily points sit at their local date (as UTC midnight), hourly ones at their instant.
  const xOf = daily ? (b) => Date.parse(`${b.local_date}T00:00:00Z`) : (b) => Date.parse(b.start);
  const points = volumes.buckets.map((b) => ({ x: xOf(b), y: b.volume_l }));
  let band = null;
  const note = $("#forecast-note");
  note.textContent = "";
  let forecast = null;
  try {
    forecast = await optional(`/meters/${meterId}/forecast`);
  } catch (error) {
    // Too little history to forecast from (422), or no forecast for this meter: no band.
    if (!(error instanceof ApiError && [404, 409, 422].includes(error.status))) throw error;
    forecast = { days: [] };
  }
  // Daily charts show two weeks of forecast past the range, hourly ones two days.
  const ahead = (daily ? 14 : 2) * DAY;
  const days = forecastDays(forecast).filter((d) => d.date >= range.start && d.date <= isoDay(Date.parse(`${range.end}T00:00:00Z`) + ahead));
  if (days.length) {
    // Each forecast day is a block as wide as the day (a lone day is not a hairline); hourly
    // charts show the day's range spread evenly over its 24 hours, from the local midnight.
    const dayStart = (d) => (daily ? Date.parse(`${d.date}T00:00:00Z`) : Date.parse(localMidnight(d.date, tz)) + DAY / 2);
    const per = daily ? 1 : 24;
    band = { name: t("op.forecast"), step: DAY, points: days.map((d) => ({ x: dayStart(d), lo: d.low / per, hi: d.high / per })) };
  } else note.textContent = forecast === null ? `${t("op.forecast")}: ${t("app.unavailable")}` : t("op.forecast_none");
  const inRange = (anomalies ?? []).filter((a) => {
    const x = daily ? Date.parse(`${localDate(a.started_at, tz)}T00:00:00Z`) : Date.parse(a.started_at);
    return x >= Date.parse(volumes.start) - DAY && x <= Date.parse(volumes.end) + DAY;
  });
  const markers = inRange.map((a) => ({
    x: daily ? Date.parse(`${localDate(a.started_at, tz)}T00:00:00Z`) : Date.parse(a.started_at),
    label: `${t(`anomaly.${a.kind}`)} · ${fmt.dateTime(a.started_at, { timeZone: tz })}`,
    className: `anomaly ${a.kind}`,
  }));
  $("#usage-total").textContent = t("op.total", { volume: fmt.m3(volumes.total_volume_l) });
  drawChart($("#usage-chart"), {
    title: `${t("op.consumption_l")} · ${fmt.date(range.start)} – ${fmt.date(range.end)}`,
    x: {
      kind: "time",
      name: daily ? t("op.date") : t("op.time"),
      format: daily
        ? (v) => fmt.part(v, { day: "numeric", month: "short" }, "UTC")
        : (v, full) => fmt.part(v, full ? { dateStyle: "short", timeStyle: "short" } : { day: "numeric", hour: "2-digit" }, tz),
    },
    y: { format: (v) => fmt.number(v), exact: (v) => fmt.number(v) },
    series: [{ name: t("op.consumption_l"), kind: "bar", points }],
    band,
    markers,
    markerName: t("op.marker"),
  });
}

function anomalyTable(anomalies) {
  const box = $("#meter-anomalies");
  if (anomalies === null) return box.replaceChildren(el("p", { class: "muted" }, t("app.unavailable")));
  if (!anomalies.length) return box.replaceChildren(el("p", {}, t("app.none")));
  box.replaceChildren(
    table(
      [
        [t("op.kind"), (a) => t(`anomaly.${a.kind}`)],
        [t("op.severity"), (a) => t(`anomaly.severity.${a.severity}`)],
        [t("op.status"), (a) => t(`op.state.${a.status}`)],
        [t("op.started"), (a) => fmt.dateTime(a.started_at)],
        [t("op.ended"), (a) => (a.ended_at ? fmt.dateTime(a.ended_at) : "–")],
      ],
      anomalies,
      { caption: t("op.meter_anomalies") },
    ),
  );
}

function validRange(range) {
  return Boolean(range.start && range.end && range.end >= range.start);
}

async function main() {
  const form = $("#range-form");
  const range = readRange();
  form.elements.start.value = range.start;
  form.elements.end.value = range.end;
  form.elements.granularity.value = range.granularity;
  let anomalies = null;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = { start: form.elements.start.value, end: form.elements.end.value, granularity: form.elements.granularity.value };
    if (!validRange(next)) {
      form.elements.end.setAttribute("aria-invalid", "true");
      return status(t("op.bad_range"), "error");
    }
    form.elements.end.removeAttribute("aria-invalid");
    history.replaceState(null, "", `?${new URLSearchParams(next)}`);
    guarded(() => chart(next, anomalies));
  });
  const meter = await api(`/meters/${meterId}`);
  const data = await optional("/anomalies", { meter_id: meterId, limit: 500 });
  anomalies = data === null ? null : Array.isArray(data) ? data : data.items ?? [];
  anomalyTable(anomalies);
  await facts(meter);
  if (!validRange(range)) return status(t("op.bad_range"), "error");
  await chart(range, anomalies);
}

if (user && Number.isInteger(meterId)) guarded(main);
