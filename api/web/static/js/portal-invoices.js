// The customer's invoices and payments: what is owed and any credit, the estimated next bill,
// each invoice with its period and dwelling and a pay-now button, the payments with their
// receipts. Its own module: the portal's home page stays within its first-visit budget on slow
// networks.
import { $, api, ApiError, download, el, fmt, guarded, startShell, t, table } from "./core.js";
import { openPay, showReceipt } from "./portal-pay.js";

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

function badge(text, kind) {
  return el("span", { class: `badge ${kind}` }, text);
}

const OPEN = new Set(["issued", "partially_paid", "overdue"]);
const INVOICE_TONE = { paid: "ok", overdue: "bad", issued: "warn", partially_paid: "warn" };

/** "October 2026" for a calendar month, "October – November 2026" for whole months, else dates. */
function periodLabel(start, end) {
  const [y1, m1, d1] = start.split("-").map(Number);
  const [y2, m2, d2] = end.split("-").map(Number);
  const month = (m) => t(`portal.month.${m}`);
  const lastDay = new Date(Date.UTC(y2, m2, 0)).getUTCDate();
  if (d1 !== 1 || d2 !== lastDay) return `${fmt.date(start)} – ${fmt.date(end)}`;
  if (y1 === y2 && m1 === m2) return `${month(m1)} ${y1}`;
  return y1 === y2 ? `${month(m1)} – ${month(m2)} ${y2}` : `${month(m1)} ${y1} – ${month(m2)} ${y2}`;
}

/** What is owed and any credit, per currency: the first thing a customer wants to know. */
async function summary() {
  const box = $("#summary");
  const data = await optional("/invoices/balance");
  if (data === null) return box.replaceWith(unavailable());
  box.replaceChildren();
  if (!data.length) {
    return box.replaceChildren(el("li", { class: "card ok" }, el("span", { class: "figure" }, t("portal.nothing_to_pay")), el("span", { class: "label" }, t("portal.all_paid"))));
  }
  for (const b of data) {
    const owes = b.owed_minor > 0;
    box.append(
      el(
        "li",
        { class: `card ${owes ? "warn" : "ok"}`, dataset: { owed: b.currency } },
        el("span", { class: "label" }, t("portal.to_pay")),
        el("span", { class: "figure" }, fmt.money(b.owed_minor, b.currency)),
        el("span", { class: "label" }, owes ? t("portal.open_invoices", { count: b.open_invoices }) : t("portal.all_paid")),
      ),
    );
    if (b.credit_minor > 0) {
      box.append(
        el(
          "li",
          { class: "card ok", dataset: { credit: b.currency } },
          el("span", { class: "label" }, t("portal.credit")),
          el("span", { class: "figure" }, fmt.money(b.credit_minor, b.currency)),
          el("span", { class: "label" }, t("portal.credit_hint")),
        ),
      );
    }
  }
}

/** The forecast of a meter, or null when the server has none to give (too little history, a
 * meter no longer held): the estimate is a help, never an error on the page. */
async function forecastOf(meter) {
  try {
    return await api(`/meters/${meter.id}/forecast`);
  } catch (error) {
    if (error instanceof ApiError && error.status >= 400 && error.status < 500) return null;
    throw error;
  }
}

/** The next invoice's estimate of each meter of the dwellings held now, labelled as one. */
async function estimate() {
  const [dwellings, meters] = await Promise.all([api("/dwellings"), api("/meters")]);
  const reference = new Map(dwellings.map((d) => [d.id, d.reference]));
  const live = meters.filter((m) => reference.has(m.dwelling_id) && !m.removed_at);
  const perDwelling = (id) => live.filter((m) => m.dwelling_id === id).length;
  const found = (await Promise.all(live.map(async (m) => ({ meter: m, outlook: await forecastOf(m) })))).filter((f) => f.outlook?.invoice);
  if (!found.length) return;
  $("#estimate").replaceChildren(
    el(
      "ul",
      { class: "cards wide" },
      found.map(({ meter, outlook }) => {
        const e = outlook.invoice;
        const place = [reference.get(meter.dwelling_id), perDwelling(meter.dwelling_id) > 1 ? t("portal.meter_serial", { serial: meter.serial }) : null];
        return el(
          "li",
          { class: "card estimate", dataset: { meter: meter.id } },
          el("span", { class: "label" }, `${t("portal.estimate_for", { period: periodLabel(e.period_start, e.period_end) })} · ${place.filter(Boolean).join(" · ")}`),
          el("span", { class: "figure" }, `≈\u00a0${fmt.money(e.total_minor, e.currency)}`),
          el("span", { class: "label" }, t("portal.estimate_range", { low: fmt.money(e.low_total_minor, e.currency), high: fmt.money(e.high_total_minor, e.currency) })),
          el("span", { class: "label" }, t("portal.estimate_used", { volume: fmt.m3(e.consumed_l, 1) })),
        );
      }),
    ),
    el("p", { class: "hint" }, t("portal.estimate_note")),
  );
  $("#estimate-section").hidden = false;
}

async function invoices() {
  const box = $("#invoices");
  const data = await optional("/invoices");
  if (data === null) return box.replaceChildren(unavailable());
  const rows = items(data).filter((i) => i.status !== "draft");
  if (!rows.length) return box.replaceChildren(el("p", {}, t("app.none")));
  box.replaceChildren(
    table(
      [
        [t("portal.period"), (i) => el("strong", {}, periodLabel(i.period_start, i.period_end))],
        [t("portal.dwelling"), (i) => i.dwelling_reference],
        [t("portal.amount"), (i) => fmt.money(i.total_minor, i.currency), "num"],
        [
          t("portal.status"),
          (i) =>
            el(
              "span",
              {},
              badge(t(`portal.invoice.${i.status}`), INVOICE_TONE[i.status] ?? ""),
              i.penalty_minor > 0 ? el("div", { class: "hint" }, t("portal.penalty", { amount: fmt.money(i.penalty_minor, i.currency) })) : null,
              i.owed_minor > 0 ? el("div", { class: "hint" }, t("portal.balance", { amount: fmt.money(i.owed_minor, i.currency) })) : null,
              i.owed_minor > 0 && OPEN.has(i.status)
                ? el(
                    "button",
                    {
                      type: "button",
                      class: "primary pay",
                      "aria-label": t("portal.pay_now_label", { number: i.number ?? i.id }),
                      onclick: () => guarded(() => openPay(i, user, refresh), { quiet: true }),
                    },
                    t("portal.pay_now"),
                  )
                : null,
            ),
        ],
        [t("portal.due"), (i) => fmt.date(i.due_date)],
        [t("portal.volume"), (i) => fmt.m3(i.volume_l, 1), "num"],
        [t("portal.number"), (i) => i.number ?? "–"],
        [
          t("portal.pdf"),
          (i) =>
            el(
              "button",
              {
                type: "button",
                class: "link",
                "aria-label": t("portal.download_invoice", { number: i.number ?? i.id }),
                onclick: () => guarded(() => download(`/invoices/${i.id}/pdf`, `${i.number ?? `invoice-${i.id}`}.pdf`), { quiet: true }),
              },
              t("portal.pdf"),
            ),
        ],
      ],
      rows,
      { caption: t("portal.invoice_list") },
    ),
  );
}

const PAYMENT_TONE = { succeeded: "ok", failed: "bad", pending: "warn" };

async function payments() {
  const box = $("#payments");
  const data = await optional("/payments");
  if (data === null) return box.replaceChildren(unavailable());
  const rows = items(data);
  if (!rows.length) return box.replaceChildren(el("p", {}, t("app.none")));
  box.replaceChildren(
    table(
      [
        [t("portal.date"), (p) => fmt.date(p.received_at ?? p.created_at)],
        [t("portal.method"), (p) => t(`portal.method.${p.method}`)],
        [t("portal.reference"), (p) => p.reference],
        [t("portal.amount"), (p) => fmt.money(p.amount_minor, p.currency), "num"],
        [t("portal.status"), (p) => badge(t(`portal.payment.${p.status}`), PAYMENT_TONE[p.status] ?? "")],
        [
          t("portal.receipt"),
          (p) =>
            p.status === "succeeded"
              ? el(
                  "button",
                  { type: "button", class: "link", "aria-label": t("portal.receipt_of", { reference: p.reference }), onclick: () => guarded(() => showReceipt(p.id), { quiet: true }) },
                  t("portal.receipt"),
                )
              : "–",
        ],
      ],
      rows,
      { caption: t("portal.payments") },
    ),
  );
}

/** After a payment: what is owed, the invoices and the payments again. */
const refresh = () => guarded(() => Promise.all([summary(), invoices(), payments()]), { quiet: true });

if (user?.role === "customer") guarded(() => Promise.all([summary(), estimate(), invoices(), payments()]));
