// Technician view: today's round, manual readings with a photo, fault reports — offline first.
//
// Everything the technician saves goes to an outbox in IndexedDB first, with an idempotency key
// chosen at that moment; the outbox is sent when the network is there (now, on "online", every
// 30 s), and the server's answer is kept with the item: synced, synced with a warning, or refused
// with the server's reason. Sending an item twice is harmless: the key makes the server answer the
// first result again. A service worker (/technician/sw.js) keeps the page and the last round.
import { ApiError, api, auth, el, fmt, startShell, status, t } from "./core.js";

const user = await startShell();
const DB_NAME = "wb-field";
const STORE = "outbox";
const RETRY_MS = 30_000;

// ---- IndexedDB outbox --------------------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function store(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result.result ?? result);
    tx.onerror = () => reject(tx.error);
  });
}

const outbox = {
  all: () => store("readonly", (s) => s.getAll()).then((items) => items.filter((i) => i.userId === user?.user_id)),
  put: (item) => store("readwrite", (s) => s.put(item)),
  remove: (key) => store("readwrite", (s) => s.delete(key)),
};

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- sending -----------------------------------------------------------------------------------

function formOf(item) {
  const form = new FormData();
  for (const [name, value] of Object.entries(item.fields)) form.append(name, value);
  if (item.photo) form.append("photo", item.photo, item.photoName || "photo.jpg");
  return form;
}

/** The access token as a header; none while the page opened offline (the first 401 refreshes). */
function bearer() {
  const token = auth.token();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function post(item) {
  const send = () =>
    fetch(item.url, {
      method: "POST",
      headers: { ...bearer(), "Idempotency-Key": item.key },
      body: formOf(item),
    });
  let response = await send();
  if (response.status === 401) {
    // core.api refreshes the token pair (or sends the user to sign in).
    await api("/users/me");
    response = await send();
  }
  return response;
}

function outcome(response, body) {
  if (response.ok) {
    const warned = body?.status === "accepted_with_warning";
    return { state: "synced", warned, message: body?.message ?? "" };
  }
  if (response.status >= 500 || response.status === 429) return null; // try again later
  const detail = typeof body?.detail === "string" ? body.detail : JSON.stringify(body?.detail ?? body);
  return { state: "conflict", warned: false, message: detail };
}

let syncing = false;

async function sync() {
  if (syncing || !navigator.onLine) return;
  syncing = true;
  try {
    for (const item of await outbox.all()) {
      if (item.state === "synced" || item.state === "conflict") continue;
      item.state = "syncing";
      await outbox.put(item);
      renderQueue();
      let response;
      try {
        response = await post(item);
      } catch {
        item.state = "queued"; // no network after all
        await outbox.put(item);
        break;
      }
      const body = await response.json().catch(() => null);
      const result = outcome(response, body);
      Object.assign(item, result ?? { state: "queued" }, { status: response.status, answeredAt: Date.now() });
      await outbox.put(item);
      renderQueue();
    }
  } finally {
    syncing = false;
    renderQueue();
  }
  if ((await outbox.all()).some((i) => i.state === "synced")) loadRound({ quiet: true });
}

// ---- the round ---------------------------------------------------------------------------------

let round = [];

function indexText(meter, litres) {
  return meter.unit === "l" ? `${fmt.number(litres)}\u00a0${t("unit.l")}` : fmt.m3(litres);
}

function renderRound() {
  const list = document.getElementById("round");
  list.replaceChildren();
  if (!round.length) {
    list.append(el("li", {}, t("technician.empty")));
    return;
  }
  for (const meter of round) {
    const urgent = meter.reasons.some((r) => r !== "due");
    const where = [meter.building_name, meter.dwelling_reference, meter.building_address].filter(Boolean).join(" · ");
    const last = meter.last_reading_at
      ? t("technician.last", { index: indexText(meter, meter.last_index_l), when: fmt.dateTime(meter.last_reading_at) })
      : t("technician.never");
    list.append(
      el(
        "li",
        { class: meter.read_today ? "done" : urgent ? "urgent" : "", dataset: { meter: meter.meter_id } },
        el("h3", {}, `${t("technician.meter")} ${meter.serial}`),
        el("p", { class: "where" }, where),
        el(
          "div",
          { class: "badges" },
          meter.reasons.map((r) => el("span", { class: `badge ${r === "due" ? "warn" : "bad"}` }, t(`technician.reason.${r}`))),
          meter.read_today ? el("span", { class: "badge ok" }, t("technician.done")) : null,
          meter.faults.map((f) => el("span", { class: "badge" }, t(`fault.${f.kind}`))),
        ),
        el("p", { class: "muted" }, last),
        el(
          "div",
          { class: "actions" },
          el("button", { class: "primary", type: "button", onclick: () => openForm("reading", meter) }, t("technician.read")),
          el("button", { class: "secondary", type: "button", onclick: () => openForm("fault", meter) }, t("technician.report")),
        ),
      ),
    );
  }
}

async function loadRound({ quiet = false } = {}) {
  if (!quiet) status(t("app.loading"));
  try {
    const response = await fetch("/rounds/today", {
      headers: bearer(),
    });
    if (response.status === 401) {
      await api("/users/me");
      return loadRound({ quiet });
    }
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const body = await response.json();
    round = body.meters;
    const cached = response.headers.get("X-From-Cache") === "1";
    document.getElementById("round-note").textContent = cached
      ? t("technician.round_cached", { when: fmt.dateTime(body.generated_at) })
      : "";
    renderRound();
    status("");
  } catch (error) {
    if (!round.length) status(navigator.onLine ? t("app.error") : t("technician.offline"), "error");
  }
}

// ---- forms -------------------------------------------------------------------------------------

const forms = { reading: document.getElementById("reading-form"), fault: document.getElementById("fault-form") };

function localNow() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function openForm(kind, meter) {
  for (const form of Object.values(forms)) form.hidden = true;
  const form = forms[kind];
  form.reset();
  form.dataset.meter = JSON.stringify({ id: meter.meter_id, serial: meter.serial, unit: meter.unit });
  form.elements.meter_id.value = meter.meter_id;
  document.getElementById(`${kind}-meter`).textContent = `${t("technician.meter")} ${meter.serial}`;
  if (kind === "reading") {
    form.elements.time.value = localNow();
    const index = form.elements.index;
    index.step = meter.unit === "l" ? "1" : "0.001";
    document.querySelector('label[for="reading-index"]').textContent = t(
      meter.unit === "l" ? "technician.index_l" : "technician.index_m3",
    );
  }
  form.hidden = false;
  form.scrollIntoView({ block: "start" });
  form.querySelector("input:not([type=hidden]), select").focus();
}

for (const form of Object.values(forms)) {
  form.querySelector("[data-cancel]").addEventListener("click", () => (form.hidden = true));
}

function litresFrom(text, unit) {
  const value = Number(String(text).replace(",", "."));
  if (!Number.isFinite(value) || value < 0 || String(text).trim() === "") return null;
  return unit === "l" ? Math.round(value) : Math.round(value * 1000);
}

async function enqueue(item) {
  await outbox.put({ ...item, key: newKey(), userId: user.user_id, state: "queued", createdAt: Date.now() });
  renderQueue();
  status(t("technician.saved_local"), "ok");
  sync();
}

forms.reading.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = forms.reading;
  const meter = JSON.parse(form.dataset.meter);
  const litres = litresFrom(form.elements.index.value, meter.unit);
  const error = document.getElementById("reading-index-error");
  if (litres === null) {
    form.elements.index.setAttribute("aria-invalid", "true");
    error.textContent = t("technician.bad_index");
    form.elements.index.focus();
    return;
  }
  form.elements.index.removeAttribute("aria-invalid");
  error.textContent = "";
  const photo = form.elements.photo.files[0] ?? null;
  await enqueue({
    kind: "reading",
    url: "/readings/manual",
    serial: meter.serial,
    label: indexText(meter, litres),
    fields: {
      meter_id: String(meter.id),
      time: new Date(form.elements.time.value).toISOString(),
      index_l: String(litres),
      note: form.elements.note.value,
    },
    photo,
    photoName: photo?.name,
  });
  form.hidden = true;
});

forms.fault.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = forms.fault;
  const meter = JSON.parse(form.dataset.meter);
  const photo = form.elements.photo.files[0] ?? null;
  await enqueue({
    kind: "fault",
    url: `/meters/${meter.id}/faults`,
    serial: meter.serial,
    label: t(`fault.${form.elements.kind.value}`),
    fields: { kind: form.elements.kind.value, note: form.elements.note.value, observed_at: new Date().toISOString() },
    photo,
    photoName: photo?.name,
  });
  form.hidden = true;
});

// ---- the outbox on screen ----------------------------------------------------------------------

function stateText(item) {
  if (item.state === "synced" && item.warned) return t("technician.state.warning");
  return t(`technician.state.${item.state}`);
}

let rendering = Promise.resolve();

function renderQueue() {
  rendering = rendering.then(async () => {
    const items = (await outbox.all()).sort((a, b) => b.createdAt - a.createdAt);
    const list = document.getElementById("queue");
    list.replaceChildren();
    if (!items.length) list.append(el("li", {}, t("technician.queue_empty")));
    for (const item of items) {
      const badge = item.state === "conflict" ? "bad" : item.state === "synced" ? (item.warned ? "warn" : "ok") : "";
      list.append(
        el(
          "li",
          { dataset: { state: item.state, key: item.key } },
          el("strong", {}, `${t(`technician.kind.${item.kind}`)} · ${item.serial} · ${item.label}`),
          " ",
          el("span", { class: `badge ${badge}`, dataset: { role: "state" } }, stateText(item)),
          el("div", { class: "muted" }, fmt.dateTime(item.fields.time ?? item.fields.observed_at)),
          item.message ? el("p", { class: "server" }, item.message) : null,
        ),
      );
    }
  });
  return rendering;
}

document.getElementById("sync-now").addEventListener("click", () => sync());
document.getElementById("clear-sent").addEventListener("click", async () => {
  for (const item of await outbox.all()) if (item.state === "synced") await outbox.remove(item.key);
  renderQueue();
});

// ---- network state -----------------------------------------------------------------------------

function showNetwork() {
  document.getElementById("net").hidden = navigator.onLine;
}

if (user) {
  window.addEventListener("online", () => {
    showNetwork();
    sync();
    loadRound({ quiet: true });
  });
  window.addEventListener("offline", showNetwork);
  showNetwork();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/technician/sw.js", { scope: "/technician" }).catch((e) => console.warn(e));
    // The first visit's round went past the worker: fetch it again through it, so it is kept.
    navigator.serviceWorker.addEventListener("controllerchange", () => loadRound({ quiet: true }));
  }
  renderQueue();
  loadRound().then(() => sync());
  setInterval(() => sync(), RETRY_MS);
}
