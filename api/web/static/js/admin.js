// Administrator: tariff versions, the billing run (close, approve regularisations), users and roles.
import { $, api, ApiError, busy, el, fmt, guarded, startShell, status, t, table } from "./core.js";

const user = await startShell();
const boot = JSON.parse(document.getElementById("boot").textContent);
const ROLES = ["customer", "manager", "technician", "admin"];
const DWELLING_TYPES = ["apartment", "house", "commercial", "communal"];

async function optional(path, options) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405) && error.body?.detail === "Not Found") return null;
    throw error;
  }
}

const unavailable = () => el("p", { class: "muted", dataset: { unavailable: "" } }, t("app.unavailable"));

/** An API error in words: the rule broken, or each field FastAPI refused. */
function explain(error) {
  const detail = error instanceof ApiError ? error.body?.detail : null;
  if (Array.isArray(detail)) return detail.map((d) => `${d.loc?.slice(1).join(".")}: ${d.msg}`).join("; ");
  return typeof detail === "string" ? detail : t("app.error");
}

// ---- tariffs -----------------------------------------------------------------------------------

async function tariffs() {
  const country = $("#country").value.trim().toUpperCase();
  const rows = await api("/tariffs", { query: { country_code: country } });
  const money = (value, r) => fmt.money(Math.round(Number(value) * 10 ** (boot.money.currencies[r.currency]?.minor_units ?? 2)), r.currency);
  $("#tariffs").replaceChildren(
    rows.length
      ? table(
          [
            [t("admin.effective"), (r) => fmt.date(r.effective_from)],
            [t("admin.zone"), (r) => (r.zone_id === null ? t("admin.all_zones") : `#${r.zone_id}`)],
            [
              t("admin.blocks"),
              (r) => r.blocks.map((b) => `${b.upper_m3 === null ? "∞" : fmt.number(Number(b.upper_m3), 0)}: ${money(b.price_per_m3, r)}`).join(" · "),
            ],
            [t("admin.fee"), (r) => money(r.service_fee, r), "num"],
            [t("admin.vat"), (r) => fmt.number(Number(r.vat_pct), 2), "num"],
          ],
          rows,
          { caption: `${t("admin.tariffs")} ${country}` },
        )
      : el("p", {}, t("app.none")),
  );
}

$("#tariff-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const value = (name) => form.elements[name].value.trim();
  const blocks = [];
  for (let n = 1; form.elements[`price${n}`]; n += 1) {
    if (!value(`price${n}`)) continue;
    blocks.push({ upper_m3: value(`upper${n}`) || null, price_per_m3: value(`price${n}`) });
  }
  const body = {
    country_code: $("#country").value.trim().toUpperCase(),
    effective_from: value("effective_from"),
    blocks,
    subscriptions: Object.fromEntries(DWELLING_TYPES.map((type) => [type, value(`sub_${type}`)])),
    service_fee: value("service_fee"),
    vat_pct: value("vat_pct"),
    penalty_pct: value("penalty_pct") || "0",
    penalty_fixed: value("penalty_fixed") || "0",
    note: value("note"),
  };
  busy(form, async () => {
    try {
      await api("/tariffs", { method: "POST", body });
      status(t("admin.created"), "ok");
      await tariffs();
    } catch (error) {
      status(explain(error), "error");
    }
  });
});

// ---- billing run -------------------------------------------------------------------------------

async function regularisations() {
  const rows = await optional("/billing/regularisations");
  const box = $("#regularisations");
  if (rows === null) return box.replaceChildren(unavailable());
  if (!rows.length) return box.replaceChildren(el("p", {}, t("admin.no_regularisations")));
  box.replaceChildren(
    table(
      [
        [t("admin.invoice"), (r) => r.number ?? `#${r.id}`],
        [t("admin.dwelling"), (r) => `#${r.dwelling_id}`],
        [t("admin.amount"), (r) => fmt.money(r.total_minor, r.currency), "num"],
        [
          "",
          (r) =>
            el(
              "button",
              {
                class: "secondary",
                type: "button",
                onclick: async (event) => {
                  event.currentTarget.disabled = true;
                  try {
                    await api(`/billing/regularisations/${r.id}/approve`, { method: "POST" });
                    status(t("admin.approved"), "ok");
                  } catch (error) {
                    status(explain(error), "error");
                  }
                  await regularisations();
                },
              },
              t("admin.approve"),
            ),
        ],
      ],
      rows,
      { caption: t("admin.regularisations") },
    ),
  );
}

$("#close-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, async () => {
    try {
      const queued = await optional("/billing/close", { method: "POST", body: { period: $("#period").value } });
      $("#close-result").replaceChildren(
        queued === null
          ? unavailable()
          : t("admin.closed", { period: queued.period, count: queued.jobs.length, ids: queued.jobs.map((job) => `#${job.job_id}`).join(", ") }),
      );
      await regularisations();
    } catch (error) {
      status(explain(error), "error");
    }
  });
});

// ---- users and roles ---------------------------------------------------------------------------

async function users() {
  const rows = await api("/users", { query: { limit: 500 } });
  const roleSelect = (person) => {
    const select = el(
      "select",
      { "aria-label": `${t("admin.role")}: ${person.full_name}`, disabled: person.id === user.user_id, dataset: { user: person.id } },
      ROLES.map((role) => el("option", { value: role, selected: role === person.role }, t(`role.${role}`))),
    );
    select.addEventListener("change", async () => {
      try {
        await api(`/users/${person.id}`, { method: "PATCH", body: { role: select.value } });
        status(t("admin.role_saved", { name: person.full_name, role: t(`role.${select.value}`) }), "ok");
      } catch (error) {
        status(explain(error), "error");
        select.value = person.role;
      }
    });
    return select;
  };
  $("#users").replaceChildren(
    table(
      [
        [t("admin.name"), (p) => p.full_name],
        [t("admin.phone"), (p) => p.phone ?? "–"],
        [t("admin.role"), roleSelect],
        [t("admin.active"), (p) => (p.is_active ? "✓" : "–")],
      ],
      rows,
      { caption: t("admin.users") },
    ),
  );
}

async function start() {
  $("#country").value = boot.country;
  $("#country").addEventListener("change", () => guarded(tariffs));
  const now = new Date();
  const previous = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  $("#period").value = `${previous.getFullYear()}-${String(previous.getMonth() + 1).padStart(2, "0")}`;
  await guarded(() => Promise.all([tariffs(), regularisations(), users()]));
}

if (user) start();
