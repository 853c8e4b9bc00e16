// SPDX-License-Identifier: Apache-2.0
// The citizen page (mobile first, no login): the warnings in force where I am (my location, a point I tap
// on the map, or the district I choose), in my language, with the action guide for my profile; the
// nearest open shelters; subscribing to my place without an account; and the live feed of alerts
// (/alerts/stream). Everything it reads is public.
import { $, el, when, savedLang, leaflet, addTiles, waterLayer, COLOURS, SEVERITY_COLOUR, capAreas, infoFor, sse } from "/static/common.js";
import { subscribe, mySubscriptions } from "/static/citizen-subscribe.js";
import { afterShaking } from "/static/citizen-quake.js";
import { schoolZones } from "/static/citizen-schools.js";

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
    route: "가까운 대피소로 가는 길", walk: "걸어서", minutes: "분", noroute: "대피 경로를 찾지 못했습니다",
    safeFrom: "이 재난에 안전한 대피소", updates: "이전 발령", capacityUnknown: "수용 인원 미상", alsoInForce: "함께 발효 중",
    subscribing: "구독하는 중…", viaPush: "페이지를 닫아도 이 기기로 알림이 옵니다.", viaPage: "이 브라우저는 푸시 알림을 받을 수 없어, 이 페이지가 열려 있을 때만 알립니다.",
    mine_subs: "내 구독", unsubscribe: "구독 해지", unsubscribed: "구독을 해지했습니다. 번호",
    channel_webpush: "푸시 알림", channel_sse: "페이지 알림", channel_webhook: "웹훅", channel_email: "이메일", channel_sms: "문자",
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
    route: "The way to the nearest shelter", walk: "on foot", minutes: "min", noroute: "No evacuation route was found",
    safeFrom: "Shelters safe from this hazard", updates: "earlier messages", capacityUnknown: "capacity unknown", alsoInForce: "Also in force",
    subscribing: "Subscribing…", viaPush: "Notifications reach this device even when the page is closed.", viaPage: "This browser cannot receive push notifications: you are told only while this page is open.",
    mine_subs: "My subscriptions", unsubscribe: "Unsubscribe", unsubscribed: "Unsubscribed. Number",
    channel_webpush: "push notification", channel_sse: "page notification", channel_webhook: "webhook", channel_email: "e-mail", channel_sms: "SMS",
  },
};
// the evacuation capability's hazards (which shelters are safe from what), in both languages
const HAZARD = {
  earthquake: ["지진", "earthquakes"], flood: ["홍수·침수", "floods"], landslide: ["산사태", "landslides"], typhoon: ["태풍·강풍", "typhoons and strong wind"],
  heat: ["폭염", "heat"], cold: ["한파", "cold"], air_raid: ["공습", "air raids"], chemical: ["화학사고·가스", "chemical and gas leaks"],
  collapse: ["붕괴", "collapses"], fire: ["화재", "fire"], displacement: ["이재민 임시 주거", "people who lost their home"],
};
let lang = savedLang();
let place = null; // {lon, lat, mine?} or {district, lon, lat}
let districts = [];
let L = null;
let map = null;
let marker = null;
let areaLayer = null;
let shelterLayer = null;
let routeLayer = null;
let schoolLayer = null;
let online = false;
let shown = 0; // the newest show(): an older answer arriving late must not overwrite a newer place
let caps = []; // the issued alerts of the Atom feed, newest first (CAP JSON)
const t = (k) => T[lang][k] ?? k;

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("lang").textContent = t("other");
  liveState(online); // the label above is also data-t: say the connection's state, not "offline"
  fillDistricts();
  renderFeed();
  renderSubscriptions();
}

function liveState(on) {
  online = on;
  $("live").textContent = t(on ? "live" : "offline");
  $("live").classList.toggle("on", on);
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

const SEVERITY_RANK = { Extreme: 4, Severe: 3, Moderate: 2, Minor: 1 };
// the most severe first (level, then CAP severity and urgency), the newest first among equals
export function bySeverity(a, b) {
  return (b.level ?? 0) - (a.level ?? 0) || (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0)
    || (b.urgency === "Immediate") - (a.urgency === "Immediate") || String(b.sent).localeCompare(String(a.sent));
}

function guideBox(w) {
  const lines = w.guide.lines;
  return el("div", { class: "guide" }, el("strong", {}, `${t("guide")}: ${w.guide.title}`),
    el("ul", {}, ...lines.slice(0, 4).map((line) => el("li", {}, line))),
    // the first steps stay in sight on a phone; the rest of the guide is one tap away
    lines.length > 4 ? el("details", {}, el("summary", {}, t("more")), el("ul", {}, ...lines.slice(4).map((line) => el("li", {}, line)))) : null);
}

// The alert's own <instruction> (what to do): the lines the hazard's guide and the description do not
// already say (an operator's "반지하 주민은 즉시 지상으로 대피하십시오.", the nearest shelters, an agency's steps).
export function ownInstruction(w) {
  const known = new Set(w.guide?.lines ?? []);
  const description = w.description ?? "";
  const lines = String(w.instruction ?? "").split("\n").map((s) => s.trim())
    .filter((s) => s && !known.has(s) && !description.includes(s));
  return lines.length ? el("div", { class: "guide instruction" }, el("strong", {}, t("instruction")),
    el("ul", {}, ...lines.map((line) => el("li", {}, line)))) : null;
}

// The most severe warning in full; each other incident in force as one line that opens to its text.
function warningCard(w, first) {
  const body = [
    el("p", {}, w.description),
    w.areaDesc ? el("p", { class: "area" }, `${t("area")}: ${w.areaDesc}`) : null,
    ownInstruction(w),
    guideBox(w),
    el("a", { class: "cap", href: w.cap }, "CAP"),
  ];
  const tag = el("div", { class: "tag" }, `${w.category} · ${when(w.sent, lang, true)}`);
  if (first) return el("article", { class: `warning level-${w.level ?? 3}`, "data-id": w.identifier }, tag, el("h2", {}, w.headline), ...body);
  return el("article", { class: `warning level-${w.level ?? 3} also`, "data-id": w.identifier },
    el("details", {}, el("summary", {}, tag, el("h2", {}, w.headline)), ...body));
}

async function show() {
  const mine = ++shown;
  const box = $("warnings");
  $("place").textContent = placeLabel();
  if (!place) {
    box.replaceChildren(el("p", { class: "calm" }, t("noplace")));
    $("shelters").replaceChildren();
    clearRoute();
    return;
  }
  if (marker) marker.setLatLng([place.lat, place.lon]);
  else if (map) marker = L.circleMarker([place.lat, place.lon], { pane: "placePane", radius: 9, color: "#14202e", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(map);
  const q = new URLSearchParams({ lang, audience: $("audience").value });
  if (place.district) q.set("district", place.district);
  else { q.set("lon", place.lon); q.set("lat", place.lat); }
  const r = await fetch(`/alerts/current?${q}`);
  const { warnings } = await r.json();
  if (mine !== shown) return;
  warnings.sort(bySeverity);
  if (!warnings.length) box.replaceChildren(el("p", { class: "calm" }, t("calm")));
  else box.replaceChildren(...warnings.map((w, i) => warningCard(w, i === 0)));
  // shelters and the route for the most severe hazard in force (a flood warning: flood-safe shelters)
  const hazard = warnings.find((w) => w.shelterHazard)?.shelterHazard ?? null;
  await Promise.all([
    shelters(hazard), warnings.length ? route(hazard, mine) : clearRoute(), afterShaking(place, lang), schoolZones(place, lang, L, schoolLayer),
  ]);
}

function distance(m) {
  return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

function clearRoute() {
  routeLayer?.clearLayers();
  $("route").hidden = true;
}

// the way on foot from the place to the nearest open shelter with space that is safe from the hazard
async function route(hazard, mine) {
  const q = new URLSearchParams({ from: `${place.lon},${place.lat}`, mode: "walk" });
  if (hazard) q.set("hazard", hazard);
  const r = await fetch(`/evacuation/route?${q}`);
  const answer = await r.json();
  if (mine !== shown) return;
  routeLayer?.clearLayers();
  const box = $("route");
  box.hidden = false;
  if (!r.ok) {
    box.replaceChildren(el("h2", {}, t("route")), el("p", { class: "muted" }, `${t("noroute")}: ${(lang === "ko" && answer.message_ko) || answer.message || r.status}`));
    return;
  }
  const p = answer.properties;
  const s = p.shelter;
  const name = lang === "ko" ? s.name_ko : s.name_en || s.name_ko;
  box.replaceChildren(el("h2", {}, t("route")),
    el("p", { class: "route-line" }, el("strong", { class: "shelter-name" }, name), " ",
      el("span", { class: "dist" }, `${distance(p.distance_m)} · ${t("walk")} ${Math.max(1, Math.round(p.duration_s / 60))} ${t("minutes")}`)),
    p.hazard ? el("p", { class: "muted small" }, `${t("safeFrom")}: ${HAZARD[p.hazard]?.[lang === "ko" ? 0 : 1] ?? p.hazard}`) : null);
  if (routeLayer) {
    const points = answer.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
    const line = L.polyline(points, { className: "evac-route", color: "#0b5cad", weight: 5, opacity: 0.9 }).addTo(routeLayer);
    // from the place to the road the route starts on (the router snaps to the nearest road)
    L.polyline([[place.lat, place.lon], points[0]], { color: "#0b5cad", weight: 3, dashArray: "4 6", interactive: false }).addTo(routeLayer);
    const [lon, lat] = s.location;
    L.marker([lat, lon], { icon: L.divIcon({ className: "shelter-pin target", html: "", iconSize: [18, 18] }) }).bindTooltip(name).addTo(routeLayer);
    map.fitBounds(line.getBounds().extend([place.lat, place.lon]), { padding: [24, 24], maxZoom: 16, animate: false });
  }
}

async function shelters(hazard) {
  const list = $("shelters");
  const q = new URLSearchParams({ near: `${place.lon},${place.lat}`, open: "true", has_space: "true", limit: "5" });
  if (hazard) q.set("safe_from", hazard);
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
    const metres = p.distance_m != null ? distance(p.distance_m) : "";
    const kind = lang === "ko" ? p.kind_ko : p.kind_en;
    // a shelter imported without its capacity: known to exist, size unknown (never "0 places")
    const room = p.capacity == null ? t("capacityUnknown") : `${t("available")} ${p.available ?? p.capacity - p.occupancy} / ${p.capacity}`;
    if (shelterLayer) {
      const [lon, lat] = f.geometry.coordinates;
      L.marker([lat, lon], { icon: L.divIcon({ className: "shelter-pin", html: "", iconSize: [14, 14] }) }).bindTooltip(name).addTo(shelterLayer);
    }
    return el("li", {}, el("strong", {}, name), el("span", { class: "dist" }, metres),
      el("div", { class: "muted small" }, [kind, room, p.wheelchair ? t("wheelchair") : null, p.address].filter(Boolean).join(" · ")));
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

// The issued alerts (Atom feed -> CAP JSON), newest first; the map's areas and the feed are drawn from them.
async function loadAlerts() {
  const r = await fetch("/alerts/feed.atom");
  const doc = new DOMParser().parseFromString(await r.text(), "application/xml");
  const ids = [...doc.querySelectorAll("entry")].map((e) => {
    const link = [...e.querySelectorAll("link")].map((l) => l.getAttribute("href")).find((h) => h && h.includes("/alerts/"));
    const m = link ? /\/alerts\/([^/]+?)\.(xml|json)$/.exec(new URL(link, location.href).pathname) : null;
    return m ? decodeURIComponent(m[1]) : null;
  }).filter(Boolean);
  const got = await Promise.all(ids.slice(0, 30).map((id) => fetch(`/alerts/${encodeURIComponent(id)}.json`).then((x) => (x.ok ? x.json() : null))));
  caps = got.filter(Boolean).sort((a, b) => String(b.sent).localeCompare(String(a.sent)));
  renderFeed();
  drawAreas();
}

// CAP references chain an incident's messages (each Update or Cancel names the one it replaces): the
// newest of each chain stands for the incident, the rest are its earlier messages.
export function threads(list) {
  const root = new Map();
  const find = (id) => { while (root.has(id) && root.get(id) !== id) id = root.get(id); return id; };
  for (const cap of [...list].reverse()) {
    root.set(cap.identifier, cap.identifier);
    for (const ref of String(cap.references || "").split(/\s+/).filter(Boolean)) {
      const older = ref.split(",")[1];
      if (older && root.has(older)) root.set(cap.identifier, find(older));
    }
  }
  const out = new Map();
  for (const cap of list) {
    const key = find(cap.identifier);
    if (!out.has(key)) out.set(key, { latest: cap, earlier: [] });
    else out.get(key).earlier.push(cap);
  }
  return [...out.values()];
}

function drawAreas() {
  if (!areaLayer) return;
  areaLayer.clearLayers();
  for (const { latest: cap } of threads(caps)) {
    if (cap.msgType === "Cancel") continue;
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
  routeLayer = L.layerGroup().addTo(map);
  schoolLayer = L.layerGroup().addTo(map);
  map.on("click", (e) => {
    place = { lon: Number(e.latlng.lng.toFixed(5)), lat: Number(e.latlng.lat.toFixed(5)) };
    $("district").value = "";
    show();
  });
}

function headline(cap) {
  return infoFor(cap, lang)?.headline || cap.identifier;
}

function feedLine(cap) {
  const cancelled = cap.msgType === "Cancel";
  return [el("time", {}, when(cap.sent, lang, true)), " ", cancelled ? `[${t("cancelled")}] ` : "", headline(cap)];
}

// one line per incident: its newest message, the earlier ones folded under it
function renderFeed() {
  const list = $("feed");
  if (!list) return;
  const incidents = threads(caps);
  if (!incidents.length) {
    list.replaceChildren(el("li", { class: "muted" }, t("nofeed")));
    return;
  }
  list.replaceChildren(...incidents.slice(0, 10).map(({ latest, earlier }) => el("li", { class: latest.msgType === "Cancel" ? "cancelled" : "", "data-id": latest.identifier },
    ...feedLine(latest),
    earlier.length ? el("details", { class: "earlier" }, el("summary", {}, `${t("updates")} ${earlier.length}`),
      el("ol", {}, ...earlier.map((c) => el("li", {}, ...feedLine(c))))) : null)));
}

function listen() {
  sse("/alerts/stream", {}, (event, data) => {
    if (event !== "alert" || typeof data !== "object") return;
    show();
    loadAlerts();
  }, liveState);
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
$("subscribe").addEventListener("click", () => subscribe({ place, lang, audience: $("audience").value, t }).then(renderSubscriptions));
function renderSubscriptions() {
  mySubscriptions({ lang, t, placeName: (code) => { const d = districts.find((x) => x.code === code); return d ? (lang === "ko" ? d.ko : d.en) : code; } });
}
translate();
const params = new URLSearchParams(location.search);
loadDistricts().then(async (fc) => {
  await initMap(fc);
  renderSubscriptions();
  if (params.get("district")) { $("district").value = params.get("district"); choose(params.get("district")); }
  else if (params.get("lon") && params.get("lat")) { place = { lon: Number(params.get("lon")), lat: Number(params.get("lat")) }; show(); }
  else show();
  await loadAlerts();
});
listen();
