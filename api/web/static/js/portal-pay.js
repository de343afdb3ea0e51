// Pay now by mobile money, and receipts: the pay form of one invoice (the country's operators,
// the payer's number), the wait for the provider's confirmation, then the receipt.
import { $, api, ApiError, busy, el, fmt, showFieldErrors, t } from "./core.js";

const POLL_MS = 2000;
// Longer than a payer takes to approve on their phone; after it the page says it still waits.
const WAIT_MS = 5 * 60 * 1000;

const panel = () => $("#pay-panel");

/** A key for one pay form: sent with every submit of it, so a double click asks once. */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function show(title, ...body) {
  $("#pay-now-h").textContent = title;
  $("#pay-body").replaceChildren(...body.filter(Boolean), el("button", { type: "button", class: "secondary", onclick: () => (panel().hidden = true) }, t("portal.pay_close")));
  panel().hidden = false;
  panel().scrollIntoView({ block: "start" });
  panel().focus();
}

/** The receipt of a settled payment: what it paid, what is still owed, the credit left. */
export function receiptView(r) {
  const p = r.payment;
  const money = (minor) => fmt.money(minor, p.currency);
  return el(
    "div",
    { class: "receipt", dataset: { payment: p.id } },
    el("p", { class: "figure" }, t("portal.receipt_paid", { amount: money(p.amount_minor) })),
    el(
      "dl",
      {},
      el("dt", {}, t("portal.reference")),
      el("dd", {}, p.reference),
      el("dt", {}, t("portal.date")),
      el("dd", {}, fmt.date(p.received_at ?? p.created_at)),
      el("dt", {}, t("portal.method")),
      el("dd", {}, t(`portal.method.${p.method}`)),
    ),
    el("ul", {}, r.invoices.map((i) => el("li", {}, t("portal.receipt_invoice", { number: i.number ?? i.invoice_id, amount: money(i.amount_minor) })))),
    el("p", {}, r.owed_minor > 0 ? t("portal.balance", { amount: money(r.owed_minor) }) : t("portal.all_paid")),
    r.credit_minor > 0 ? el("p", { class: "credit" }, t("portal.receipt_credit", { amount: money(r.credit_minor) })) : null,
  );
}

export async function showReceipt(paymentId) {
  const r = await api(`/payments/${paymentId}/receipt`);
  show(t("portal.receipt_of", { reference: r.payment.reference }), receiptView(r));
}

/** Poll the payment until the provider settles it; `done` refreshes the page's lists. */
async function wait(paymentId, operator, done) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (panel().hidden) return;
    const r = await api(`/payments/${paymentId}/receipt`);
    if (r.payment.status === "succeeded") {
      show(t("portal.receipt_of", { reference: r.payment.reference }), receiptView(r));
      return done();
    }
    if (r.payment.status === "failed") return show($("#pay-now-h").textContent, el("p", { class: "status", dataset: { kind: "error" } }, t("portal.pay_failed")));
    if (Date.now() > deadline) return show($("#pay-now-h").textContent, el("p", { class: "status" }, t("portal.pay_still_waiting", { operator })));
  }
}

/** The pay form of one invoice, from the operators of its country. */
export async function openPay(invoice, user, done) {
  const title = t("portal.pay_title", { number: invoice.number ?? invoice.id, amount: fmt.money(invoice.owed_minor, invoice.currency) });
  const options = await api(`/invoices/${invoice.id}/pay`);
  if (!options.length) return show(title, el("p", {}, t("portal.pay_none")));
  const key = newKey();
  const form = el(
    "form",
    { class: "stack", id: "pay-form", novalidate: true },
    el(
      "div",
      { class: "field" },
      el("label", { for: "pay-method" }, t("portal.pay_operator")),
      el("select", { id: "pay-method", name: "method" }, options.map((o) => el("option", { value: o.method }, o.operator))),
    ),
    el(
      "div",
      { class: "field" },
      el("label", { for: "pay-phone" }, t("portal.pay_phone")),
      el("input", { id: "pay-phone", name: "phone", type: "tel", autocomplete: "tel", required: true, value: user?.phone ?? "" }),
      el("span", { class: "hint error", id: "pay-phone-error", role: "alert" }),
    ),
    el("button", { class: "primary", type: "submit" }, t("portal.pay_submit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      const method = form.elements.method.value;
      const operator = options.find((o) => o.method === method).operator;
      try {
        const started = await api(`/invoices/${invoice.id}/pay`, {
          method: "POST",
          body: { method, phone: form.elements.phone.value },
          headers: { "Idempotency-Key": key },
        });
        const finish = started.finish_url ? el("a", { class: "btn primary", href: started.finish_url, rel: "noopener" }, t("portal.pay_finish", { operator })) : null;
        show(title, el("p", { class: "status", role: "status" }, t("portal.pay_approve", { amount: fmt.money(started.payment.amount_minor, started.payment.currency), operator })), finish);
        await wait(started.payment.id, operator, done);
      } catch (error) {
        if (showFieldErrors(form, error)) return;
        const text = error instanceof ApiError && error.status === 503 ? t("portal.pay_unreachable") : `${t("app.error")} (${error.message})`;
        show(title, el("p", { class: "status", dataset: { kind: "error" } }, text));
      }
    });
  });
  show(title, form);
  form.elements.phone.focus();
}
