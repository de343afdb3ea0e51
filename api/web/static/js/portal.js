// The customer portal: dwellings, this year vs last year, alerts, profile (invoices: portal-invoices.js).
import { drawChart, tickDigits } from "./chart.js";
import { $, api, ApiError, busy, download, el, fmt, guarded, showFieldErrors, startShell, status, t } from "./core.js";

const user = await startShell();

/** A list from an API that may page ({items: [...]}) or not ([...]). */
const items = (data) => (Array.isArray(data) ? data : data?.items ?? []);

/** The API answer, or `fallback` when the route does not exist on this server yet (404/405). */
async function optional(path, query, fallback = null) {
  try {
    return await api(path, { query });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405) && error.body?.detail === "Not Found") return fallback;
    throw error;
  }
}

const unavailable = () => el("p", { class: "muted" }, t("app.unavailable"));

// ---- home: dwellings, alerts, consumption --------------------------------------------------

async function home() {
  const [dwellings, meters] = await Promise.all([api("/dwellings"), api("/meters")]);
  const list = $("#dwellings");
  if (!dwellings.length) {
    list.replaceWith(el("p", {}, t("portal.no_dwelling")));
    return;
  }
  for (const d of dwellings) {
    const own = meters.filter((m) => m.dwelling_id === d.id && !m.removed_at);
    list.append(
      el(
        "li",
        { class: "card", dataset: { dwelling: d.id } },
        el("span", { class: "label" }, `${t("portal.dwelling")} · ${t(`portal.dwelling_type.${d.dwelling_type}`)}`),
        el("span", { class: "figure" }, d.reference),
        el("span", { class: "label" }, `${t("portal.meters")}: ${own.map((m) => m.serial).join(", ") || "–"}`),
      ),
    );
  }
  await Promise.all([alerts(meters), consumptionPicker(dwellings, meters)]);
}

async function alerts(meters) {
  const box = $("#alerts");
  const data = await optional("/anomalies", { state: "open" });
  if (data === null) return box.replaceChildren(unavailable());
  const open = items(data);
  if (!open.length) return box.replaceChildren(el("p", { class: "ok" }, t("portal.no_alerts")));
  const serial = new Map(meters.map((m) => [m.id, m.serial]));
  box.replaceChildren(
    el(
      "ul",
      { class: "alerts" },
      open.map((a) => {
        const known = `anomaly.${a.kind}` !== t(`anomaly.${a.kind}`);
        return el(
          "li",
          { class: `panel alert ${a.severity ?? ""}`, dataset: { kind: a.kind } },
          el("strong", {}, known ? t(`anomaly.${a.kind}`) : a.kind),
          " ",
          el("span", { class: "muted" }, `${serial.get(a.meter_id) ?? a.meter_id} · ${t("portal.since", { date: fmt.date(a.started_at) })}`),
          el("p", {}, el("b", {}, `${t("portal.todo")}: `), known ? t(`alert.${a.kind}.todo`) : t("alert.other.todo")),
        );
      }),
    ),
  );
}

async function consumptionPicker(dwellings, meters) {
  const select = $("#dwelling-select");
  for (const d of dwellings) select.append(el("option", { value: d.id }, d.reference));
  $("#dwelling-pick").hidden = dwellings.length < 2;
  const show = () => guarded(() => consumption(meters.filter((m) => m.dwelling_id === Number(select.value))), { quiet: true });
  select.addEventListener("change", show);
  await show();
}

/** Per "YYYY-MM" since January of last year: litres, and whether an unread day is in them.
 * Nothing before a meter's first reading (interpolated back to its installation, not measured). */
async function monthly(meters, thisYear) {
  const totals = new Map();
  const answers = await Promise.all(
    meters.map((m) => api(`/meters/${m.id}/volumes`, { query: { granularity: "day", start: `${thisYear - 1}-01-01` } })),
  );
  for (const answer of answers) {
    const first = answer.buckets.findIndex((b) => b.reading_count > 0);
    if (first < 0) continue;
    for (const [i, b] of answer.buckets.slice(first).entries()) {
      const month = b.local_date.slice(0, 7);
      const seen = totals.get(month) ?? { litres: 0, estimated: false };
      // A day without a reading or with an estimate, and the first day's start (drawn back to
      // the installation); a boundary between two readings is how daily meters are read.
      const estimated = b.reading_count === 0 || b.has_estimate || (i === 0 && b.start_interpolated);
      totals.set(month, { litres: seen.litres + b.volume_l, estimated: seen.estimated || estimated });
    }
  }
  return totals;
}

async function consumption(meters) {
  const box = $("#usage-chart");
  const year = new Date().getFullYear();
  const totals = await monthly(meters, year);
  const month = (y, i) => `${y}-${String(i + 1).padStart(2, "0")}`;
  const labels = Array.from({ length: 12 }, (_, i) => fmt.part(Date.UTC(2001, i, 15), { month: "short" }, "UTC"));
  const now = new Date().getMonth();
  // Months without a measured day have no bar (not a zero one).
  const series = (y, upTo) =>
    Array.from({ length: upTo + 1 }, (_, i) => {
      const m = totals.get(month(y, i));
      return m && { x: i, y: m.litres / 1000, className: m.estimated ? "estimated" : null };
    }).filter(Boolean);
  const current = series(year, now);
  const previous = series(year - 1, 11);
  const soFar = current.reduce((s, p) => s + p.y, 0);
  const sameMonths = previous.filter((p) => p.x <= now);
  $("#usage-total").textContent = sameMonths.length
    ? t("portal.total_year", { this: fmt.m3(soFar * 1000, 1), last: fmt.m3(sameMonths.reduce((s, p) => s + p.y, 0) * 1000, 1) })
    : t("portal.total_this_year", { this: fmt.m3(soFar * 1000, 1) });
  const estimated = [...current, ...previous].some((p) => p.className);
  $("#usage-note").textContent = estimated ? t("portal.estimated_days") : "";
  drawChart(box, {
    title: t("portal.consumption"),
    x: { kind: "category", labels, name: t("portal.month") },
    y: { format: (v, step) => fmt.number(v, tickDigits(step)), exact: (v) => fmt.number(v, 1), unit: t("unit.m3") },
    series: [
      { name: `${t("portal.last_year")} (${year - 1}, ${t("unit.m3")})`, kind: "bar", points: previous },
      { name: `${t("portal.this_year")} (${year}, ${t("unit.m3")})`, kind: "bar", points: current },
    ].map((s, i) => ({ ...s, className: i ? "this-year" : "last-year", tone: i ? 0 : 1 })),
  });
}

// ---- profile --------------------------------------------------------------------------------

async function profile() {
  const form = $("#profile-form");
  const me = await api("/users/me");
  $("#phone").value = me.phone ?? "";
  form.elements.first_name.value = me.first_name;
  form.elements.last_name.value = me.last_name;
  form.elements.language.value = me.language;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      const language = form.elements.language.value;
      try {
        await api("/users/me", {
          method: "PATCH",
          body: { first_name: form.elements.first_name.value, last_name: form.elements.last_name.value, language },
        });
      } catch (error) {
        if (!showFieldErrors(form, error)) status(`${t("app.error")} (${error.message})`, "error");
        return;
      }
      status(t("portal.saved"), "ok");
      if (language !== document.documentElement.lang) {
        document.cookie = `wb_lang=${language}; path=/; max-age=31536000; samesite=lax`;
        location.reload();
      }
    });
  });
  $("#export").addEventListener("click", (event) =>
    guarded(() => busy(event.target.parentElement, () => download("/users/me/export", "waterbill-my-data.json")), { quiet: true }),
  );
  // Loaded here only: the home page's first visit stays within its weight budget.
  const [{ absences }, dwellings] = await Promise.all([import("./portal-away.js"), api("/dwellings")]);
  if (dwellings.length) await absences(dwellings);
}

if (user?.role === "customer") {
  const views = { "/portal": home, "/portal/profile": profile };
  guarded(views[location.pathname]);
}
