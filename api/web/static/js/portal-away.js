// The customer portal's holiday mode (profile page): declare, list and cancel absences.
import { $, api, busy, el, fmt, guarded, showFieldErrors, status, t } from "./core.js";

// ---- holiday mode: declared absences --------------------------------------------------------

/** Today on the browser's calendar, "YYYY-MM-DD" (the server judges by the dwelling's). */
function isoToday() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

export async function absences(dwellings) {
  const form = $("#away-form");
  const select = $("#away-dwelling");
  for (const d of dwellings) select.append(el("option", { value: d.id }, d.reference));
  $("#away-dwelling-pick").hidden = dwellings.length < 2;
  form.elements.from_date.min = form.elements.to_date.min = isoToday();
  $("#away-section").hidden = false;
  const cancel = (absence) =>
    guarded(async () => {
      await api(`/dwellings/${absence.dwelling_id}/absences/${absence.id}`, { method: "DELETE" });
      await list();
    }, { quiet: true });
  const list = async () => {
    const found = await Promise.all(
      dwellings.map(async (d) => (await api(`/dwellings/${d.id}/absences`)).map((a) => ({ ...a, ref: d.reference }))),
    );
    const rows = found.flat();
    $("#absences").replaceChildren(
      ...(rows.length
        ? rows.map((a) =>
            el(
              "li",
              { class: "panel", dataset: { absence: a.id } },
              t("portal.away_item", { ref: a.ref, start: fmt.date(a.from_date), end: fmt.date(a.to_date) }),
              " ",
              el("button", { type: "button", class: "secondary", onclick: () => cancel(a) }, t("portal.away_cancel")),
            ),
          )
        : [el("li", { class: "muted" }, t("portal.away_none"))]),
    );
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      const { from_date, to_date } = form.elements;
      showFieldErrors(form, null);
      if (from_date.value && to_date.value && to_date.value < from_date.value) {
        to_date.setAttribute("aria-invalid", "true");
        $("#to_date-error").textContent = t("portal.away_order");
        return;
      }
      try {
        await api(`/dwellings/${select.value}/absences`, {
          method: "POST",
          body: { from_date: from_date.value, to_date: to_date.value },
        });
      } catch (error) {
        if (!showFieldErrors(form, error)) status(`${t("app.error")} (${error.message})`, "error");
        return;
      }
      form.reset();
      status(t("portal.away_saved"), "ok");
      await list();
    });
  });
  await list();
}

