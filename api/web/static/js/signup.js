// Sign-up: details (an SMS code is sent), then the code activates the account and signs in.
import { afterSignIn, ApiError, busy, lang, publicPost, showFieldErrors, startShell, status, t } from "./core.js";

startShell(); // not awaited: the form works at once, signed in or not
const details = document.getElementById("signup-form");
const codeForm = document.getElementById("code-form");
details.elements.language.value = lang;
let phone = sessionStorage.getItem("wb.signup.phone");

function explain(form, error) {
  if (!(error instanceof ApiError)) return status(t("app.error"), "error");
  if (showFieldErrors(form, error)) return status(t("account.check_fields"), "error");
  if (error.status === 429) return status(t("account.too_many"), "error");
  if (error.status === 400) return status(t("account.code_wrong"), "error");
  status(`${t("app.error")} (${error.message})`, "error");
}

function askCode() {
  details.hidden = true;
  codeForm.hidden = false;
  document.getElementById("code-sent").textContent = t("account.code_sent", { phone });
  codeForm.elements.code.focus();
}

details.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(details, async () => {
    status("");
    try {
      await publicPost("/auth/register", {
        phone: details.elements.phone.value,
        first_name: details.elements.first_name.value,
        last_name: details.elements.last_name.value,
        password: details.elements.new_password.value,
        language: details.elements.language.value,
      });
      phone = details.elements.phone.value;
      sessionStorage.setItem("wb.signup.phone", phone);
      askCode();
    } catch (error) {
      explain(details, error);
    }
  });
});

codeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(codeForm, async () => {
    status("");
    try {
      const pair = await publicPost("/auth/activate", { phone, code: codeForm.elements.code.value.trim() });
      sessionStorage.removeItem("wb.signup.phone");
      status(t("account.welcome"), "ok");
      await afterSignIn(pair, null);
    } catch (error) {
      explain(codeForm, error);
    }
  });
});

document.getElementById("resend").addEventListener("click", () =>
  busy(codeForm, async () => {
    try {
      const answer = await publicPost("/auth/resend-code", { phone, purpose: "activation" });
      status(t("account.code_sent", { phone }), "ok");
      return answer;
    } catch (error) {
      explain(codeForm, error);
    }
  }),
);

// Came back from sign-in with an inactive account, or reloaded mid sign-up: go to the code step.
if (phone && new URLSearchParams(location.search).has("code")) askCode();
