// Administrator: tariff versions, the billing run (close, issue, approve regularisations), the jobs
// (running with progress, failed with a retry, scheduled), users and roles.
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

/** The zone jobs a close or an issue queued: followed in the jobs panel, summed up here. */
function queuedJobs(message, queued) {
  if (queued === null) return $("#close-result").replaceChildren(unavailable());
  for (const job of queued.jobs) followed.add(job.job_id);
  $("#close-result").replaceChildren(
    t(message, { period: queued.period, count: queued.jobs.length, ids: queued.jobs.map((job) => `#${job.job_id}`).join(", ") }),
  );
  return guarded(jobs, { quiet: true });
}

$("#close-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, async () => {
    try {
      const queued = await optional("/billing/close", { method: "POST", body: { period: $("#period").value } });
      await queuedJobs("admin.closed", queued);
      await regularisations();
    } catch (error) {
      status(explain(error), "error");
    }
  });
});

$("#issue").addEventListener("click", () => {
  busy($("#close-form"), async () => {
    try {
      const queued = await optional("/billing/issue", { method: "POST", body: { period: $("#period").value } });
      await queuedJobs("admin.issue_queued", queued);
    } catch (error) {
      status(explain(error), "error");
    }
  });
});

// ---- jobs --------------------------------------------------------------------------------------

const JOBS_REFRESH_S = 3;
// Jobs started from this page (a close, an issue, a retry): listed until done, and after.
const followed = new Set();
const BADGE = { doing: "warn", succeeded: "ok", failed: "bad", aborted: "bad" };

function jobLabel(job) {
  const args = job.args ?? {};
  const parts = [job.task];
  if (args.period) parts.push(args.period);
  if (args.zone_id !== undefined) parts.push(`${t("admin.zone")} #${args.zone_id}`);
  return `#${job.id} ${parts.join(" · ")}`;
}

const jobStatus = (job) => el("span", { class: `badge ${BADGE[job.status] ?? ""}`, dataset: { status: job.status } }, t(`job.${job.status}`));

function jobProgress(job) {
  const p = job.progress;
  if (!p) return "–";
  const label = t("admin.job_of", { done: fmt.number(p.done), total: fmt.number(p.total) });
  // An empty run (nothing to do) is complete, not stuck at 0 of 0.
  const bar = el("progress", { max: String(Math.max(p.total, 1)), value: String(p.total ? p.done : 1), "aria-label": `${jobLabel(job)}: ${label}` });
  return el("span", { class: "job-progress" }, bar, " ", label);
}

const resultValue = (value) =>
  Array.isArray(value)
    ? value.join(" – ")
    : value && typeof value === "object"
      ? Object.entries(value).map(([key, item]) => `${key} ${resultValue(item)}`).join("; ")
      : fmt.number(value);

const jobResult = (job) =>
  job.result ? Object.entries(job.result).map(([key, value]) => `${t(`jobres.${key}`)}: ${resultValue(value)}`).join(", ") : job.error ?? "";

function retryButton(job) {
  return el(
    "button",
    {
      class: "secondary",
      type: "button",
      "aria-label": `${t("admin.retry")} ${jobLabel(job)}`,
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          const retried = await api(`/jobs/${job.id}/retry`, { method: "POST" });
          followed.add(retried.job_id);
          status(t("admin.retried", { id: retried.job_id }), "ok");
        } catch (error) {
          status(explain(error), "error");
        }
        await guarded(jobs, { quiet: true });
      },
    },
    t("admin.retry"),
  );
}

async function jobs() {
  const [doing, todo, failed, scheduled] = await Promise.all([
    api("/jobs", { query: { status: "doing", limit: 50 } }),
    api("/jobs", { query: { status: "todo", limit: 50 } }),
    api("/jobs", { query: { status: "failed", limit: 20 } }),
    api("/jobs/schedule"),
  ]);
  const shown = new Map([...doing.items, ...todo.items].map((job) => [job.id, job]));
  const others = [...followed].filter((id) => !shown.has(id));
  for (const job of await Promise.all(others.map((id) => api(`/jobs/${id}`)))) shown.set(job.id, job);
  const running = [...shown.values()].sort((a, b) => b.id - a.id);
  $("#jobs-running").replaceChildren(
    running.length
      ? table(
          [
            [t("admin.job"), jobLabel],
            [t("admin.job_status"), jobStatus],
            [t("admin.job_progress"), jobProgress],
            [t("admin.job_started"), (job) => (job.started_at ? fmt.dateTime(job.started_at) : "–")],
            [t("admin.job_result"), jobResult],
          ],
          running,
          { caption: t("admin.jobs_running") },
        )
      : el("p", {}, t("admin.no_jobs")),
  );
  $("#jobs-failed").replaceChildren(
    failed.items.length
      ? table(
          [
            [t("admin.job"), jobLabel],
            [t("admin.job_failed_at"), (job) => (job.finished_at ? fmt.dateTime(job.finished_at) : "–")],
            [t("admin.job_error"), (job) => el("span", { class: "job-error" }, job.error ?? "–")],
            ["", retryButton],
          ],
          failed.items,
          { caption: t("admin.jobs_failed") },
        )
      : el("p", {}, t("admin.no_failed")),
  );
  $("#jobs-scheduled").replaceChildren(
    table(
      [
        [t("admin.job"), (s) => s.task],
        [t("admin.job_cron"), (s) => el("code", {}, s.cron)],
        [t("admin.job_next"), (s) => fmt.dateTime(s.next_at)],
      ],
      scheduled,
      { caption: t("admin.jobs_scheduled") },
    ),
  );
  $("#jobs-updated").textContent = t("admin.jobs_updated", { time: fmt.part(Date.now(), { timeStyle: "medium" }), seconds: JOBS_REFRESH_S });
}

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
  await guarded(() => Promise.all([tariffs(), regularisations(), users(), jobs()]));
  setInterval(() => {
    if (document.visibilityState === "visible") guarded(jobs, { quiet: true });
  }, JOBS_REFRESH_S * 1000);
}

if (user) start();
