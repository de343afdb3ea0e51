// The shell every page script imports: messages, local formats, the signed-in user, the API.
// Plain ES modules, no framework: pages stay small on slow phone networks.

const boot = JSON.parse(document.getElementById("boot").textContent);

export const lang = boot.lang;
export const locale = boot.locale;
export const params = boot.params;

// ---- messages -------------------------------------------------------------------------------

/** The message `key` in the page's language; `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  const text = boot.messages[key] ?? key;
  return vars ? text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? vars[name] : m)) : text;
}

// ---- local formats --------------------------------------------------------------------------

function safeLocale() {
  try {
    Intl.NumberFormat.supportedLocalesOf([locale]);
    return locale;
  } catch {
    return "en";
  }
}
const LOCALE = safeLocale();

export const fmt = {
  /** A number with the locale's grouping and `digits` decimals. */
  number(value, digits = 0) {
    if (value === null || value === undefined) return "–";
    return new Intl.NumberFormat(LOCALE, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(value);
  },
  /** Litres as m³ (3 decimals at most). */
  m3(litres, digits = 3) {
    if (litres === null || litres === undefined) return "–";
    return `${fmt.number(litres / 1000, digits)}\u00a0${t("unit.m3")}`;
  },
  /** Minor units of `currency` written as the invoices write them (core/money.py). */
  money(minor, currency) {
    if (minor === null || minor === undefined) return "–";
    const conv = boot.money;
    const cur = conv.currencies[currency] ?? { minor_units: 2, symbol: `${currency}\u00a0`, symbol_first: true };
    const places = cur.minor_units;
    const negative = minor < 0;
    const digits = String(Math.abs(Math.trunc(minor))).padStart(places + 1, "0");
    let whole = places ? digits.slice(0, -places) : digits;
    const fraction = places ? digits.slice(-places) : "";
    const groups = [];
    while (whole.length > 3) {
      groups.unshift(whole.slice(-3));
      whole = whole.slice(0, -3);
    }
    groups.unshift(whole);
    let text = groups.join(conv.group) + (fraction ? conv.point + fraction : "");
    text = cur.symbol_first ? `${cur.symbol}${text}` : `${text}\u00a0${cur.symbol}`;
    return (negative ? "-" : "") + text;
  },
  /** A date (Date, ISO string or "YYYY-MM-DD") in the locale, in `timeZone` when given. */
  date(value, { timeZone, style = "medium" } = {}) {
    if (!value) return "–";
    const d = toDate(value);
    const opts = { dateStyle: style };
    if (timeZone) opts.timeZone = timeZone;
    else if (typeof value === "string" && value.length === 10) opts.timeZone = "UTC";
    return new Intl.DateTimeFormat(LOCALE, opts).format(d);
  },
  dateTime(value, { timeZone } = {}) {
    if (!value) return "–";
    const opts = { dateStyle: "medium", timeStyle: "short" };
    if (timeZone) opts.timeZone = timeZone;
    return new Intl.DateTimeFormat(LOCALE, opts).format(toDate(value));
  },
  /** A short label for chart axes: "12 Mar", "14:00" or "Mar". */
  part(value, options, timeZone) {
    const opts = { ...options };
    if (timeZone) opts.timeZone = timeZone;
    return new Intl.DateTimeFormat(LOCALE, opts).format(toDate(value));
  },
  /** Seconds as "42 s", "3 min", "5 h", "2 d". */
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const units = [
      [86400, "day"],
      [3600, "hour"],
      [60, "minute"],
      [1, "second"],
    ];
    for (const [size, unit] of units) {
      if (Math.abs(seconds) >= size || unit === "second") {
        return new Intl.NumberFormat(LOCALE, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 0 }).format(
          seconds / size,
        );
      }
    }
    return "";
  },
};

export function toDate(value) {
  if (value instanceof Date) return value;
  if (typeof value === "number") return new Date(value);
  return new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
}

// ---- the signed-in user ---------------------------------------------------------------------
//
// The access token lives in this module only and dies with the page. The refresh token is in an
// HttpOnly cookie no script can read, sent only to /auth: each page load trades it for an access
// token (POST /auth/refresh with the X-WaterBill-Session header, docs/security.md "Sessions").
// localStorage keeps who signed in (id and role, no token), so the technician's offline copy
// still knows whose outbox to show when the refresh cannot reach the server.

const SESSION = { "X-WaterBill-Session": "cookie" };
const WHO = "wb.user";
let accessToken = null;
let claims = null;

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      atob(part)
        .split("")
        .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
        .join(""),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(WHO) ?? "null");
  } catch {
    return null;
  }
}

export const auth = {
  /** The signed-in user's claims (user_id, role, names...), or null when signed out. */
  user() {
    return claims;
  },
  /** The access token, for the few calls that cannot go through `api` (uploads); or null. */
  token() {
    return accessToken;
  },
  save(pair) {
    accessToken = pair.access_token;
    claims = claimsOf(accessToken);
    if (claims) localStorage.setItem(WHO, JSON.stringify({ user_id: claims.user_id, role: claims.role }));
  },
  clear() {
    accessToken = null;
    claims = null;
    localStorage.removeItem(WHO);
  },
  async signOut() {
    // The server revokes the cookie's token and clears the cookie.
    await fetch("/auth/logout", { method: "POST", headers: SESSION }).catch(() => {});
    auth.clear();
    location.assign("/signin");
  },
  /** Where a role lands after sign-in. */
  home(role) {
    return { customer: "/portal", admin: "/operator", manager: "/manager", technician: "/technician" }[role] ?? "/";
  },
};

// One refresh at a time: parallel calls that all got 401 wait for the same new token, and tabs
// take turns (a Web Lock), so each presents the cookie the previous one left.
let refreshing = null;

/** Trade the cookie for an access token: "ok", "refused" (signed out) or "offline". */
function refreshTokens() {
  const work = async () => {
    try {
      const response = await fetch("/auth/refresh", { method: "POST", headers: SESSION });
      if (response.ok) {
        auth.save(await response.json());
        return "ok";
      }
      if (response.status === 401 || response.status === 403) {
        auth.clear();
        return "refused";
      }
      return "offline";
    } catch {
      return "offline";
    }
  };
  refreshing ??= (navigator.locks ? navigator.locks.request("wb-refresh", work) : work()).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** On page load: an access token from the cookie; with no network, who was signed in. */
async function restoreSession() {
  const who = remembered();
  if ((await refreshTokens()) === "offline" && who) claims = who;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (typeof body.detail === "string" ? body.detail : body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function toSignIn() {
  auth.clear();
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/signin?next=${next}`);
}

/** Call the API with the user's token: JSON in and out; a 401 refreshes the token once. */
export async function api(path, { method = "GET", body, query, raw = false, signal, headers: extra = {} } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
    }
    if ([...q].length) url += `?${q}`;
  }
  const send = () => {
    const headers = { ...extra };
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  };
  let response = await send();
  if (response.status === 401 && (await refreshTokens()) === "ok") response = await send();
  if (response.status === 401) {
    toSignIn();
    throw new ApiError(401, null);
  }
  if (raw) {
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    return response;
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Fetch a file with the user's token and hand it to the browser as a download. */
export async function download(path, filename) {
  const response = await api(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- DOM helpers ----------------------------------------------------------------------------

/** `el("a", {href: "/x", class: "btn"}, "text", child)`: an element; strings become text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Show a message in the page's live region (read out by screen readers). */
export function status(message, kind = "info") {
  const node = document.getElementById("status");
  node.textContent = message ?? "";
  node.dataset.kind = kind;
  delete node.dataset.guarded;
}

/** A table from rows: `columns` is [[header, row => cell (string or Node), className?], ...].
 * On a phone each row becomes a small card of "header: value" lines. */
export function table(columns, rows, { caption } = {}) {
  return el(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption ?? "" },
    el(
      "table",
      { class: "stack" },
      caption ? el("caption", { class: "sr-only" }, caption) : null,
      el("thead", {}, el("tr", {}, columns.map(([head, , cls]) => el("th", { scope: "col", class: cls }, head)))),
      el(
        "tbody",
        {},
        rows.map((row) => el("tr", {}, columns.map(([head, cell, cls]) => el("td", { class: cls, "data-label": head }, cell(row))))),
      ),
    ),
  );
}

/** Run `load` and report failures in the status line (and clear them once a later run works).
 * What `load` itself puts in the status line stays. */
export async function guarded(load, { quiet = false } = {}) {
  const node = document.getElementById("status");
  try {
    if (!quiet) status(t("app.loading"));
    const result = await load();
    if (node.textContent === t("app.loading") || node.dataset.guarded === "1") status("");
    return result;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    status(error instanceof ApiError ? `${t("app.error")} (${error.message})` : t("app.error"), "error");
    node.dataset.guarded = "1";
    console.error(error);
    return undefined;
  }
}

// ---- the shell: nav, language, guard ---------------------------------------------------------

// A page's script takes its forms over once the session is restored; a submit before that must
// not fall through to the browser, which would GET the page with the fields in the URL. Forms with
// an action of their own (the language switcher) still work without script.
document.addEventListener("submit", (event) => {
  if (!event.target.hasAttribute("action")) event.preventDefault();
});

function setLanguageCookie(value) {
  document.cookie = `wb_lang=${value}; path=/; max-age=31536000; samesite=lax`;
}

/** Sign the page in from the cookie, show the header for this user, switch language in place,
 * and keep others off the page. Resolves to the user's claims (null on public pages when signed
 * out). */
export async function startShell() {
  document.documentElement.classList.add("js");
  const allowed = boot.roles; // null: public page
  // A public page asks only when someone signed in here before: no refresh for every visitor.
  const restored = allowed !== null || remembered() ? restoreSession() : Promise.resolve();
  // The switcher works at once; saving the choice to the profile waits for the session.
  const select = document.getElementById("lang-select");
  select.addEventListener("change", async () => {
    setLanguageCookie(select.value);
    await restored;
    if (auth.user()) await api("/users/me", { method: "PATCH", body: { language: select.value } }).catch(() => {});
    location.reload();
  });
  await restored;
  const user = auth.user();
  if (allowed !== null && !user) {
    toSignIn();
    return null;
  }
  if (user && allowed && allowed.length && !allowed.includes(user.role)) {
    status(t("app.forbidden"), "error");
    document.querySelectorAll("main > :not(h1, #status)").forEach((n) => n.remove());
    return null;
  }
  for (const li of document.querySelectorAll("#nav li")) {
    const roles = li.dataset.roles.split(" ").filter(Boolean);
    li.hidden = !user || (roles.length > 0 && !roles.includes(user.role));
  }
  const signout = document.getElementById("signout");
  if (user) {
    signout.hidden = false;
    signout.addEventListener("click", () => auth.signOut());
  }
  return user;
}

/** After sign-in: remember the account's language for the pages, then go on. */
export async function afterSignIn(pair, next) {
  auth.save(pair);
  const me = await api("/users/me").catch(() => null);
  if (me) setLanguageCookie(me.language);
  const user = auth.user();
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : auth.home(user?.role);
  location.assign(target);
}

/** POST to a public endpoint (sign-in, sign-up): no token, no refresh on 401. A token pair comes
 * back as the access token only, the refresh token going to the cookie. */
export async function publicPost(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...SESSION },
    body: JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Mark the fields a 422 names (`{detail: [{loc: ["body", field], msg}]}`); true if any. */
export function showFieldErrors(form, error) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of form.querySelectorAll(".error")) node.textContent = "";
  const items = error instanceof ApiError && Array.isArray(error.body?.detail) ? error.body.detail : [];
  let first = null;
  for (const item of items) {
    const name = item.loc?.[item.loc.length - 1];
    const input = form.elements[name] ?? form.elements[`new_${name}`];
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const slot = document.getElementById(`${input.id}-error`);
    // The server names the reason (item.type); the page's own words for it when it has them.
    if (slot) slot.textContent = `error.${item.type}` in boot.messages ? t(`error.${item.type}`) : item.msg;
    first ??= input;
  }
  first?.focus();
  return first !== null;
}

/** Disable a form's buttons while `work` runs. */
export async function busy(form, work) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => (b.disabled = true));
  try {
    return await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}
