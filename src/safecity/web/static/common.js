// SPDX-License-Identifier: Apache-2.0
// Small helpers both pages share: building elements without HTML strings (no injection from data), the
// chosen language, dates in Seoul time, crisis colours, loading the vendored libraries (a missing one
// gives a bilingual message, not a blank page), and reading CAP area strings.

export const COLOURS = ["#c9d2dc", "#2f6fdb", "#f2c200", "#f07c00", "#d7261e"];
// CAP severity -> the crisis colour it is drawn with
export const SEVERITY_COLOUR = { Extreme: COLOURS[4], Severe: COLOURS[3], Moderate: COLOURS[2], Minor: COLOURS[1], Unknown: "#7a8794" };

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) {
      // listeners only: a handler attribute would be inline script, which the CSP forbids
      if (typeof v === "function") node.addEventListener(k.slice(2), v);
    } else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// replaceChildren without the absent parts: the DOM's own would write a null child as the text "null"
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

export function savedLang() {
  return localStorage.getItem("safecity.lang") || ((navigator.language || "ko").startsWith("ko") ? "ko" : "en");
}

export function when(iso, lang, withDate = false) {
  if (!iso) return "—";
  const opts = { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { month: "2-digit", day: "2-digit" });
  return new Date(iso).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB", opts);
}

export const MISSING = {
  ko: "지도·차트 라이브러리를 불러오지 못했습니다. 서버에서 make 또는 safecity assets fetch를 실행하세요.",
  en: "The map and chart libraries could not be loaded. Run make or safecity assets fetch on the server.",
};

// the vendored ES modules, imported when first needed so a missing file breaks only the map or chart
const vendor = {};
export async function leaflet() {
  vendor.leaflet ??= import("/static/vendor/leaflet/leaflet-src.esm.js");
  return vendor.leaflet;
}
export async function uplot() {
  vendor.uplot ??= import("/static/vendor/uplot/uPlot.esm.js").then((m) => m.default);
  return vendor.uplot;
}

// A deployment's tile server (setting map_tile_url), put under the city's own layers; none by default.
export function addTiles(L, map) {
  const tag = document.querySelector('meta[name="safecity-tiles"]');
  if (!tag) return null;
  const attribution = tag.dataset.attribution || "";
  if (attribution) L.control.attribution({ prefix: false }).addTo(map);
  return L.tileLayer(tag.content, { attribution, maxZoom: 19 }).addTo(map);
}

// The city's rivers, when its "rivers" collection holds any (the demo city's does): landmarks drawn above the
// district fills and alert areas (which would grey them) and below every marker, named in the reader's
// language (nameOf reads it when the tooltip opens).
export async function waterLayer(L, map, nameOf) {
  const r = await fetch("/ogcapi/collections/rivers/items?limit=500");
  const rivers = r.ok ? await r.json() : null;
  if (!rivers?.features?.length) return null;
  if (!map.getPane("waterPane")) map.createPane("waterPane").style.zIndex = 425;
  return L.geoJSON(rivers, {
    pane: "waterPane",
    style: { color: "#3f7fb3", weight: 0.6, fillColor: "#93c5ea", fillOpacity: 0.95 },
    onEachFeature: (f, layer) => layer.bindTooltip(() => nameOf(f.properties), { sticky: true, className: "dtip" }),
  });
}

export function missingMessage(box, lang) {
  box.replaceChildren(el("div", { class: "assets-missing", role: "alert" }, el("strong", {}, MISSING.ko), " ", MISSING.en));
  box.dataset.missing = lang;
}

// CAP 1.2 area strings: a polygon is "lat,lon lat,lon ...", a circle "lat,lon radius_km"
export function capPolygon(text) {
  return String(text).trim().split(/\s+/).map((pair) => pair.split(",").map(Number));
}
export function capCircle(text) {
  const [centre, radius] = String(text).trim().split(/\s+/);
  const [lat, lon] = centre.split(",").map(Number);
  return { lat, lon, radiusM: Number(radius) * 1000 };
}
const asList = (v) => (v == null ? [] : Array.isArray(v) ? v : [v]);
export function capAreas(info) {
  const out = [];
  for (const area of asList(info.area)) {
    for (const p of asList(area.polygon)) out.push({ kind: "polygon", points: capPolygon(p), desc: area.areaDesc });
    for (const c of asList(area.circle)) out.push({ kind: "circle", ...capCircle(c), desc: area.areaDesc });
  }
  return out;
}
export function infoFor(cap, lang) {
  const infos = asList(cap.info);
  return infos.find((i) => (i.language || "ko").startsWith(lang)) || infos.find((i) => (i.language || "ko").startsWith("ko")) || infos[0];
}

// Server-Sent Events through fetch (EventSource cannot send an Authorization header; ``headers`` may be a
// function, read at each connection, so a refreshed token is used on reconnect); calls onEvent with
// (eventName, data) and onState(true/false) as the connection comes and goes; reconnects after 2 s.
export async function sse(path, headers, onEvent, onState, keepGoing = () => true) {
  while (keepGoing()) {
    try {
      const response = await fetch(path, { headers: typeof headers === "function" ? headers() : headers });
      if (!response.ok) throw new Error(String(response.status));
      onState(true);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message";
          const data = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trim());
          }
          if (data.length) {
            let parsed = data.join("\n");
            try { parsed = JSON.parse(parsed); } catch { /* a plain text event */ }
            onEvent(event, parsed);
          }
        }
      }
    } catch {
      // the server went away or refused us: try again shortly
    }
    onState(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// The sensing catalogue (public): the observed properties the rules understand, with Korean and English
// names and the unit as people write it. Loaded once; the dashboard names a datastream's property and
// unit from it (온도 °C, not "air_temperature Cel").
let catalogue = null;
export async function loadCatalogue() {
  catalogue ??= fetch("/sensing/catalogue").then((r) => (r.ok ? r.json() : [])).catch(() => []);
  const specs = await catalogue;
  const byKey = new Map();
  const units = new Map(Object.entries({ Cel: "°C", "cm/s2": "cm/s²", "m/s2": "m/s²", "ug/m3": "µg/m³", deg: "°", "m3/s": "m³/s" }));
  for (const s of specs) {
    byKey.set(s.key, s);
    if (s.definition) byKey.set(s.definition, s);
    if (s.unit?.ucum && s.unit.symbol && s.unit.symbol !== s.unit.ucum) units.set(s.unit.ucum, s.unit.symbol);
  }
  return {
    // an ObservedProperty ({name, definition}) in the reader's language; its own name when unknown
    property(op, lang) {
      const s = byKey.get(op?.definition) || byKey.get(op?.name);
      return (s && (lang === "ko" ? s.name_ko : s.name_en)) || op?.name || "";
    },
    unit(symbol) {
      return symbol ? units.get(symbol) ?? symbol : "";
    },
  };
}

// Calls to the platform's API as the logged-in user (ctx.token, a bearer token), for the pages behind a
// login (the guardian page, the dispatcher's screen): JSON or text back; a 401 calls onUnauthorized (the
// page logs out) and throws; any other error throws the server's message in the reader's language.
export function apiClient(ctx, onUnauthorized) {
  async function api(path, options = {}) {
    const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${ctx.token}` } });
    if (response.status === 401) { onUnauthorized(); throw new Error("unauthorized"); }
    const body = (response.headers.get("content-type") || "").includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new Error((ctx.lang === "ko" && body.message_ko) || body.message || String(response.status));
    return body;
  }
  const post = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
  return { api, post };
}

/** The texts of the sign-in shell, in both languages (a page's own texts come first). */
const SHELL_TEXT = {
  ko: { other: "English", logout: "로그아웃", user: "아이디", password: "비밀번호", signin: "로그인", badlogin: "아이디나 비밀번호가 맞지 않습니다" },
  en: { other: "한국어", logout: "Log out", user: "User", password: "Password", signin: "Log in", badlogin: "Wrong user or password" },
};

/**
 * The sign-in shell of the pages for signed-in people (the care operator's and guardians' pages, the 119
 * dispatch screen): it builds the sign-in form in `<section id="login">` (its heading is the page's `login`
 * text), shows it or `#room`, wires `#lang` and `#logout`, keeps the token in sessionStorage and the
 * language in localStorage, and gives `ctx` its `lang`, `token`, `api` and `post` (a 401 signs out).
 * `ctx.t(key)` is the page's text; the shell's own texts fill what the page does not say.
 * Hooks: `translate()` after the `[data-t]` texts are set, `enter()` once signed in (a failure signs
 * out), `onLang()` after the language changed. Call `start()` once the page is wired.
 */
export function signInShell(ctx, { translate = () => {}, enter, onLang = () => {} }) {
  ctx.lang = localStorage.getItem("safecity.lang") || "ko";
  ctx.token = sessionStorage.getItem("safecity.token");
  const pageText = ctx.t.bind(ctx);
  ctx.t = (key) => {
    const own = pageText(key);
    return own === key && key in SHELL_TEXT[ctx.lang] ? SHELL_TEXT[ctx.lang][key] : own;
  };
  function logout() {
    sessionStorage.removeItem("safecity.token");
    ctx.token = null;
    $("room").hidden = true; $("login").hidden = false; $("logout").hidden = true;
  }
  Object.assign(ctx, apiClient(ctx, logout));
  function translateAll() {
    document.documentElement.lang = ctx.lang;
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = ctx.t(node.dataset.t);
    $("lang").textContent = ctx.t("other");
    translate();
  }
  async function show() {
    $("login").hidden = true; $("room").hidden = false; $("logout").hidden = false;
    await enter();
  }
  async function signIn(event) {
    event.preventDefault();
    const response = await fetch("/auth/token", { method: "POST", body: new URLSearchParams(new FormData(event.target)) });
    if (!response.ok) { $("login-error").textContent = ctx.t("badlogin"); return; }
    $("login-error").textContent = "";
    ctx.token = (await response.json()).access_token;
    sessionStorage.setItem("safecity.token", ctx.token);
    await show();
  }
  fill($("login"),
    el("h2", { "data-t": "login" }),
    el("form", { id: "login-form", onsubmit: signIn },
      el("label", {}, el("span", { "data-t": "user" }), " ", el("input", { name: "username", autocomplete: "username", required: true })),
      el("label", {}, el("span", { "data-t": "password" }), " ",
        el("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
      el("button", { type: "submit", class: "primary", "data-t": "signin" }),
      el("p", { id: "login-error", class: "error", role: "alert" })));
  $("lang").addEventListener("click", () => {
    ctx.lang = ctx.lang === "ko" ? "en" : "ko";
    localStorage.setItem("safecity.lang", ctx.lang);
    translateAll();
    onLang();
  });
  $("logout").addEventListener("click", logout);
  return {
    logout,
    translate: translateAll,
    start() {
      translateAll();
      if (ctx.token) show().catch(() => logout()); else logout();
    },
  };
}
