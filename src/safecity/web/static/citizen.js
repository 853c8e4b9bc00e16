// SPDX-License-Identifier: Apache-2.0
// The citizen page (mobile first, no login): the warnings in force where I am (my location, a point I tap
// on the map, or the district I choose), in my language, with the action guide for my profile; the
// nearest open shelters; subscribing to my place without an account; and the live feed of alerts
// (/alerts/stream). Everything it reads is public.
import { $, el, when, savedLang, leaflet, addTiles, waterLayer, COLOURS, SEVERITY_COLOUR, capAreas, infoFor, sse } from "/static/common.js";

const T = {
  ko: {
    title: "우리 동네 재난 경보", district: "또는 구 선택", choose: "구를 고르세요", locate: "내 위치 사용",
    profile: "나에게 맞는 안내", general: "일반", elderly: "어르신", children: "어린이·보호자",
    disability: "장애인", foreigner: "외국인", shelters: "가까운 대피소", subscribe: "이 지역 경보 받기",
    subscribeText: "로그인 없이 이 위치의 경보를 받습니다. 관리용 토큰은 이 기기에만 저장됩니다.",
    subscribeButton: "이 위치 구독", feed: "경보 피드 (Atom)", other: "English", calm: "지금 이 지역에 발효 중인 경보가 없습니다.",
    here: "선택한 위치", mine: "내 위치", noplace: "위치를 고르면 경보와 대피소를 보여 드립니다.", subscribed: "구독했습니다. 번호",
    nolocation: "위치를 알 수 없습니다. 지도를 누르거나 구를 골라 주세요.", noshelter: "가까운 대피소 정보가 없습니다.",
    capacity: "수용", available: "남은 자리", guide: "행동요령", tap: "지도를 눌러 위치를 고를 수도 있습니다.",
    feedTitle: "실시간 경보 소식", nofeed: "아직 발령된 경보가 없습니다.", live: "실시간", offline: "연결 안 됨",
    instruction: "안내", area: "지역", more: "행동요령 더 보기", wheelchair: "휠체어 가능", cancelled: "해제",
  },
  en: {
    title: "Warnings for my area", district: "Or choose a district", choose: "Choose a district", locate: "Use my location",
    profile: "Guidance for me", general: "General", elderly: "Older people", children: "Children and parents",
    disability: "People with disabilities", foreigner: "Foreign residents", shelters: "Nearest shelters",
    subscribe: "Get warnings for this place",
    subscribeText: "No account needed. The token to manage it is kept on this device only.",
    subscribeButton: "Subscribe to this place", feed: "Alert feed (Atom)", other: "한국어", calm: "No warning is in force here now.",
    here: "Chosen place", mine: "My location", noplace: "Choose a place to see its warnings and shelters.", subscribed: "Subscribed. Number",
    nolocation: "Your location is not available. Tap the map or choose a district.", noshelter: "No shelter information nearby.",
    capacity: "capacity", available: "places left", guide: "What to do", tap: "You can also tap the map to choose a place.",
    feedTitle: "Live alerts", nofeed: "No alert has been issued yet.", live: "live", offline: "offline",
    instruction: "Instructions", area: "Area", more: "More of what to do", wheelchair: "wheelchair access", cancelled: "cancelled",
  },
};
let lang = savedLang();
let place = null; // {lon, lat, label} or {district, lon, lat, label}
let districts = [];
let L = null;
let map = null;
let marker = null;
let areaLayer = null;
let shelterLayer = null;
const feed = [];
const t = (k) => T[lang][k] ?? k;

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("lang").textContent = t("other");
  fillDistricts();
  renderFeed();
}

async function loadDistricts() {
  const r = await fetch("/ogcapi/collections/districts/items?limit=1000");
  const fc = await r.json();
  districts = fc.features.map((f) => {
    const c = centroid(f.geometry);
    return { code: f.properties.code, ko: f.properties.name_ko, en: f.properties.name_en || f.properties.name_ko, lon: c[0], lat: c[1] };
  }).sort((a, b) => a.ko.localeCompare(b.ko, "ko"));
  fillDistricts();
  return fc;
}

// the mean of the outer ring's vertices: inside every convex-ish district, good enough to find shelters
function centroid(geometry) {
  const ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
  let x = 0, y = 0;
  for (const [lon, lat] of ring) { x += lon; y += lat; }
  return [x / ring.length, y / ring.length];
}

function fillDistricts() {
  const select = $("district");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, t("choose")), ...districts.map((d) => el("option", { value: d.code }, lang === "ko" ? d.ko : d.en)));
  select.value = chosen;
}

function placeLabel() {
  if (!place) return "";
  if (place.district) {
    const d = districts.find((x) => x.code === place.district);
    return d ? (lang === "ko" ? d.ko : d.en) : place.district;
  }
  return `${t(place.mine ? "mine" : "here")} (${place.lat.toFixed(4)}, ${place.lon.toFixed(4)})`;
}

async function show() {
  const box = $("warnings");
  $("place").textContent = placeLabel();
  if (!place) {
    box.replaceChildren(el("p", { class: "calm" }, t("noplace")));
    $("shelters").replaceChildren();
    return;
  }
  if (marker) marker.setLatLng([place.lat, place.lon]);
  else if (map) marker = L.circleMarker([place.lat, place.lon], { pane: "placePane", radius: 9, color: "#14202e", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(map);
  const q = new URLSearchParams({ lang, audience: $("audience").value });
  if (place.district) q.set("district", place.district);
  else { q.set("lon", place.lon); q.set("lat", place.lat); }
  const r = await fetch(`/alerts/current?${q}`);
  const { warnings } = await r.json();
  if (!warnings.length) box.replaceChildren(el("p", { class: "calm" }, t("calm")));
  else box.replaceChildren(...warnings.map((w) => el("article", { class: `warning level-${w.level ?? 3}`, "data-id": w.identifier },
    el("div", { class: "tag" }, `${w.category} · ${when(w.sent, lang, true)}`),
    el("h2", {}, w.headline),
    el("p", {}, w.description),
    w.areaDesc ? el("p", { class: "area" }, `${t("area")}: ${w.areaDesc}`) : null,
    el("div", { class: "guide" }, el("strong", {}, `${t("guide")}: ${w.guide.title}`),
      el("ul", {}, ...w.guide.lines.slice(0, 4).map((line) => el("li", {}, line))),
      // the first steps stay in sight on a phone; the rest of the guide is one tap away
      w.guide.lines.length > 4 ? el("details", {}, el("summary", {}, t("more")), el("ul", {}, ...w.guide.lines.slice(4).map((line) => el("li", {}, line)))) : null),
    el("a", { class: "cap", href: w.cap }, "CAP"))));
  await shelters();
}

async function shelters() {
  const list = $("shelters");
  const q = new URLSearchParams({ near: `${place.lon},${place.lat}`, open: "true", has_space: "true", limit: "5" });
  const r = await fetch(`/shelters?${q}`);
  const fc = await r.json();
  shelterLayer?.clearLayers();
  if (!fc.features?.length) {
    list.replaceChildren(el("li", {}, t("noshelter")));
    return;
  }
  list.replaceChildren(...fc.features.map((f) => {
    const p = f.properties;
    const name = lang === "ko" ? p.name_ko : p.name_en || p.name_ko;
    const metres = p.distance_m != null ? (p.distance_m >= 1000 ? `${(p.distance_m / 1000).toFixed(1)} km` : `${Math.round(p.distance_m)} m`) : "";
    const kind = lang === "ko" ? p.kind_ko : p.kind_en;
    if (shelterLayer) {
      const [lon, lat] = f.geometry.coordinates;
      L.marker([lat, lon], { icon: L.divIcon({ className: "shelter-pin", html: "", iconSize: [14, 14] }) }).bindTooltip(name).addTo(shelterLayer);
    }
    return el("li", {}, el("strong", {}, name), el("span", { class: "dist" }, metres),
      el("div", { class: "muted small" }, [kind, `${t("available")} ${p.available ?? p.capacity - p.occupancy} / ${p.capacity}`, p.wheelchair ? t("wheelchair") : null, p.address].filter(Boolean).join(" · ")));
  }));
}

function choose(code) {
  const d = districts.find((x) => x.code === code);
  place = d ? { district: d.code, lon: d.lon, lat: d.lat } : null;
  if (d) map?.setView([d.lat, d.lon], 12, { animate: false });
  show();
}

function locate() {
  if (!navigator.geolocation) { $("place").textContent = t("nolocation"); return; }
  navigator.geolocation.getCurrentPosition((pos) => {
    place = { lon: pos.coords.longitude, lat: pos.coords.latitude, mine: true };
    $("district").value = "";
    map?.setView([place.lat, place.lon], 13, { animate: false });
    show();
  }, () => { $("place").textContent = t("nolocation"); }, { timeout: 10000 });
}

async function subscribe() {
  if (!place) { $("subscribed").textContent = t("noplace"); return; }
  const area = place.district ? { kind: "district", code: place.district } : { kind: "point", lon: place.lon, lat: place.lat };
  const body = { kind: "anonymous", language: lang, audience: $("audience").value, channels: [{ channel: "sse" }], areas: [area] };
  const r = await fetch("/subscriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await r.json();
  if (!r.ok) { $("subscribed").textContent = (lang === "ko" && answer.message_ko) || answer.message || String(r.status); return; }
  localStorage.setItem(`safecity.subscription.${answer.id}`, answer.token || "");
  $("subscribed").textContent = `${t("subscribed")} ${answer.id}`;
}

// the alerts in force, drawn on the map by severity (public: the Atom feed lists them, CAP JSON has areas)
async function drawAreas() {
  if (!areaLayer) return;
  const r = await fetch("/alerts/feed.atom");
  const doc = new DOMParser().parseFromString(await r.text(), "application/xml");
  const ids = [...doc.querySelectorAll("entry")].map((e) => {
    const link = [...e.querySelectorAll("link")].map((l) => l.getAttribute("href")).find((h) => h && h.includes("/alerts/"));
    const m = link ? /\/alerts\/([^/]+?)\.(xml|json)$/.exec(new URL(link, location.href).pathname) : null;
    return m ? decodeURIComponent(m[1]) : null;
  }).filter(Boolean);
  const caps = await Promise.all(ids.slice(0, 30).map((id) => fetch(`/alerts/${encodeURIComponent(id)}.json`).then((x) => (x.ok ? x.json() : null))));
  // per incident only the newest counts; a Cancel withdraws what it references
  const withdrawn = new Set();
  for (const cap of caps.filter(Boolean)) if (cap.msgType !== "Alert" && cap.references) for (const ref of String(cap.references).split(/\s+/)) withdrawn.add(ref.split(",")[1]);
  // the feed starts with what was issued before this page opened; the stream adds what comes next
  for (const cap of caps.filter(Boolean).reverse()) {
    if (feed.some((x) => x.identifier === cap.identifier)) continue;
    const texts = {};
    for (const info of Array.isArray(cap.info) ? cap.info : [cap.info]) texts[(info.language || "ko").slice(0, 2)] = { headline: info.headline || info.event };
    feed.unshift({ identifier: cap.identifier, msgType: cap.msgType, sent: cap.sent, texts });
  }
  renderFeed();
  areaLayer.clearLayers();
  for (const cap of caps.filter(Boolean)) {
    if (cap.msgType === "Cancel" || withdrawn.has(cap.identifier)) continue;
    const info = infoFor(cap, lang);
    const colour = SEVERITY_COLOUR[info.severity] || COLOURS[3];
    for (const a of capAreas(info)) {
      const style = { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.18, interactive: false };
      (a.kind === "polygon" ? L.polygon(a.points, style) : L.circle([a.lat, a.lon], { ...style, radius: a.radiusM })).addTo(areaLayer);
    }
  }
}

async function initMap(fc) {
  try {
    L = await leaflet();
  } catch {
    $("map").remove();
    return;
  }
  map = L.map("map", { zoomSnap: 0.25, attributionControl: false, tap: true });
  addTiles(L, map);
  map.createPane("placePane").style.zIndex = 650; // the chosen place above the shelters around it
  const outline = L.geoJSON(fc, { style: { color: "#5b6b7c", weight: 1, fillColor: "#e8eef3", fillOpacity: 0.6 }, interactive: false }).addTo(map);
  if (fc.features.length) map.fitBounds(outline.getBounds(), { padding: [4, 4] });
  else map.setView([37.55, 126.98], 10);
  (await waterLayer(L, map, (p) => (lang === "ko" ? p.name_ko : p.name_en || p.name_ko)))?.addTo(map);
  areaLayer = L.layerGroup().addTo(map);
  shelterLayer = L.layerGroup().addTo(map);
  map.on("click", (e) => {
    place = { lon: Number(e.latlng.lng.toFixed(5)), lat: Number(e.latlng.lat.toFixed(5)) };
    $("district").value = "";
    show();
  });
  await drawAreas();
}

function renderFeed() {
  const list = $("feed");
  if (!list) return;
  if (!feed.length) {
    list.replaceChildren(el("li", { class: "muted" }, t("nofeed")));
    return;
  }
  list.replaceChildren(...feed.slice(0, 10).map((a) => {
    const text = a.texts?.[lang] || a.texts?.ko || Object.values(a.texts || {})[0] || {};
    return el("li", { class: a.msgType === "Cancel" ? "cancelled" : "" },
      el("time", {}, when(a.sent, lang, true)), " ", a.msgType === "Cancel" ? `[${t("cancelled")}] ` : "", text.headline || a.identifier);
  }));
}

function listen() {
  const state = (on) => {
    $("live").textContent = t(on ? "live" : "offline");
    $("live").classList.toggle("on", on);
  };
  sse("/alerts/stream", {}, (event, data) => {
    if (event !== "alert" || typeof data !== "object") return;
    if (!feed.some((x) => x.identifier === data.identifier)) feed.unshift(data);
    renderFeed();
    show();
    drawAreas();
  }, state);
}

$("lang").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  localStorage.setItem("safecity.lang", lang);
  translate();
  show();
  drawAreas();
});
$("district").addEventListener("change", (e) => choose(e.target.value));
$("audience").addEventListener("change", () => show());
$("locate").addEventListener("click", locate);
$("subscribe").addEventListener("click", subscribe);
translate();
const params = new URLSearchParams(location.search);
loadDistricts().then(async (fc) => {
  await initMap(fc);
  if (params.get("district")) { $("district").value = params.get("district"); choose(params.get("district")); }
  else if (params.get("lon") && params.get("lat")) { place = { lon: Number(params.get("lon")), lat: Number(params.get("lat")) }; show(); }
  else show();
});
listen();
