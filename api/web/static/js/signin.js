// Sign-in by phone number and password.
import { afterSignIn, ApiError, busy, publicPost, showFieldErrors, startShell, status, t } from "./core.js";

startShell(); // not awaited: the form works at once, signed in or not
const form = document.getElementById("signin-form");
const next = new URLSearchParams(location.search).get("next");

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form, async () => {
    status("");
    try {
      const pair = await publicPost("/auth/login", {
        phone: form.elements.phone.value,
        password: form.elements.password.value,
      });
      status(t("account.welcome"), "ok");
      await afterSignIn(pair, next);
    } catch (error) {
      if (!(error instanceof ApiError)) return status(t("app.error"), "error");
      if (showFieldErrors(form, error)) return status(t("account.check_fields"), "error");
      if (error.status === 401) return status(t("account.bad_credentials"), "error");
      if (error.status === 403) {
        status(t("account.inactive"), "error");
        sessionStorage.setItem("wb.signup.phone", form.elements.phone.value);
        return;
      }
      if (error.status === 429) return status(t("account.too_many"), "error");
      status(`${t("app.error")} (${error.message})`, "error");
    }
  });
});
