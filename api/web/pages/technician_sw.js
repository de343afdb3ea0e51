// WaterBill technician view: offline shell and round (versions filled in by api/web/pages/technician.py).
const CACHE = "wb-field-__VERSION__";
const SHELL = __SHELL__;
// Past this, a slow network counts as none and the saved copy is shown.
const NETWORK_TIMEOUT_MS = 6000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("wb-field-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms));
}

async function networkFirst(request, cacheKey) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([fetch(request), timeout(NETWORK_TIMEOUT_MS)]);
    if (response.ok) await cache.put(cacheKey ?? request, response.clone());
    return response;
  } catch (error) {
    const saved = await cache.match(cacheKey ?? request);
    if (saved) {
      const headers = new Headers(saved.headers);
      headers.set("X-From-Cache", "1");
      return new Response(await saved.blob(), { status: saved.status, headers });
    }
    throw error;
  }
}

async function cacheFirst(request) {
  const saved = await caches.match(request);
  if (saved) return saved;
  const response = await fetch(request);
  if (response.ok) (await caches.open(CACHE)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // uploads are queued by the page, never here
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/rounds/today") {
    event.respondWith(networkFirst(request, "/rounds/today"));
  } else if (request.mode === "navigate" && url.pathname.startsWith("/technician")) {
    event.respondWith(networkFirst(request, "/technician"));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(url.searchParams.has("v") ? cacheFirst(request) : networkFirst(request));
  }
});
