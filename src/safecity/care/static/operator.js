// SPDX-License-Identifier: Apache-2.0
// The control room's view of a safe-return trip passed to it (/care/operator): the trips escalated to
// the operators; for the one chosen, the person's live track since the trip began, the planned route and
// the destination on a map, with the nearest 119 units (the dispatch board, /dispatch/units) and the
// nearest CCTV and police stations (the OGC API collections "cctv" and "police", when a city has imported them). Reading the person's
// positions is a *use* recorded with the operator's reason (위치정보법 §16②) and audited; the page
// re-reads them every 20 s while a trip is open. Korean and English.
import { $, el, fill, when, leaflet, missingMessage, addTiles, signInShell } from "/static/common.js";

const T = {
  ko: {
    title: "안심귀가 관제", login: "관제 요원 로그인",
    escalated: "관제센터로 넘어온 귀가",
    reason: "열람 사유 (위치정보법 제16조에 따라 기록됨)", defaultReason: "안심귀가 긴급 대응", none: "넘어온 귀가가 없습니다.",
    units: "가까운 119 출동대", cctv: "가까운 CCTV", police: "경찰", noCctv: "CCTV 레이어가 없습니다 (가져온 CCTV 위치가 없음).",
    noUnits: "출동대 정보가 없습니다.", noPolice: "경찰서 레이어가 없습니다 (가져온 경찰서 위치 없음). 112에 연락하십시오.",
    patrols: "순찰차 위치는 이 플랫폼에 연결되어 있지 않습니다: 112에 연락하십시오.",
    to: "목적지", started: "출발", incident: "사건", last: "마지막 위치", fixes: "위치", away: "떨어짐",
    kinds: { deviation: "경로 이탈", stopped: "장시간 정지", late: "도착 지연", signal_lost: "신호 끊김", sos: "긴급 호출(SOS)" },
  },
  en: {
    title: "Safe-return control", login: "Operator login",
    escalated: "Trips passed to the control room",
    reason: "Reason for reading (recorded, Location Information Act §16)", defaultReason: "safe-return emergency response", none: "No trip has been passed on.",
    units: "Nearest 119 units", cctv: "Nearest CCTV", police: "Police", noCctv: "No CCTV layer (no CCTV positions imported).",
    noUnits: "No unit positions.", noPolice: "No police layer (no police stations imported). Call 112.",
    patrols: "Police patrol car positions are not connected to this platform: call 112.",
    to: "To", started: "Started", incident: "Incident", last: "Last position", fixes: "fixes", away: "away",
    kinds: { deviation: "route deviation", stopped: "unexpected stop", late: "late arrival", signal_lost: "signal lost", sos: "SOS" },
  },
};

const ctx = {
  trips: [], chosen: null,
  t(key) { return T[this.lang][key] ?? key; },
};
let L = null, map = null, layers = null;

function translate() {
  if (!$("reason").value || Object.values(T).some((x) => x.defaultReason === $("reason").value)) $("reason").value = ctx.t("defaultReason");
}

async function enter() {
  if (!map) {
    try {
      L = await leaflet();
      map = L.map("map", { attributionControl: false }).setView([37.55, 126.96], 15);
      addTiles(L, map);
      layers = { route: L.layerGroup().addTo(map), track: L.layerGroup().addTo(map), near: L.layerGroup().addTo(map) };
    } catch { missingMessage($("map"), ctx.lang); }
  }
  await list();
}

async function list() {
  ctx.trips = await ctx.api("/care/trips/escalated");
  if (!ctx.trips.length) { fill($("trips"), el("p", { class: "muted" }, ctx.t("none"))); return; }
  fill($("trips"), ctx.trips.map((t) => el("button", {
    type: "button", "data-trip": t.tripId, class: t.tripId === ctx.chosen?.tripId ? "selected" : "", onclick: () => open(t),
  }, `${t.name} · ${t.problems.map((k) => T[ctx.lang].kinds[k] ?? k).join(", ")}`)));
}

/** Metres between two WGS84 points (haversine). */
function metres(a, b) {
  const r = Math.PI / 180, dLat = (b.lat - a.lat) * r, dLon = (b.lon - a.lon) * r;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

async function open(t) {
  ctx.chosen = t;
  $("trip-error").textContent = "";
  await list();
  const reason = encodeURIComponent($("reason").value.trim());
  const base = `/care/people/${t.personId}`;
  let trip, track;
  try {
    [trip, track] = await Promise.all([
      ctx.api(`${base}/trips/${t.tripId}?reason=${reason}`),
      ctx.api(`${base}/positions?since=${encodeURIComponent(t.startedAt)}&limit=500&reason=${reason}`),
    ]);
  } catch (e) { $("trip-error").textContent = e.message; return; }
  const last = track[0] ?? null;
  const [units, cctv, police] = await Promise.all([nearestUnits(last), nearestOf("cctv", last), nearestOf("police", last)]);
  drawTrip(t, trip, track, last);
  drawNear(units, cctv, police);
  if (map) drawMap(trip, track, last, units, cctv, police);
}

async function nearestUnits(last) {
  if (!last) return [];
  const units = await ctx.api("/dispatch/units").catch(() => []);
  return units.map((u) => ({ ...u, away: metres(last, u) })).sort((a, b) => a.away - b.away).slice(0, 3);
}

// the nearest three points of a public OGC API collection ("cctv", "police") within about 2 km;
// null when the city has imported none of that kind (the page says so)
async function nearestOf(collection, last) {
  if (!last) return null;
  const d = 0.02;
  const bbox = [last.lon - d, last.lat - d, last.lon + d, last.lat + d].join(",");
  const any = await fetch(`/ogcapi/collections/${collection}/items?limit=1`, { headers: { Accept: "application/geo+json" } })
    .then((r) => (r.ok ? r.json() : { features: [] })).catch(() => ({ features: [] }));
  if (!(any.features ?? []).length) return null;  // nothing of this kind imported in this city
  const response = await fetch(`/ogcapi/collections/${collection}/items?bbox=${bbox}&limit=500`, { headers: { Accept: "application/geo+json" } });
  if (!response.ok) return null;
  const features = (await response.json()).features ?? [];
  return features.map((f) => {
    const [lon, lat] = f.geometry.type === "Point" ? f.geometry.coordinates : f.geometry.coordinates[0][0];
    return { name: f.properties.name ?? String(f.id), lon, lat, away: metres(last, { lon, lat }) };
  }).sort((a, b) => a.away - b.away).slice(0, 3);
}

function drawTrip(t, trip, track, last) {
  const box = $("trip");
  box.dataset.status = trip.status;
  box.dataset.trip = String(t.tripId);
  fill(box,
    el("h2", {}, t.name),
    el("p", {}, t.problems.map((k) => el("span", { class: "badge b-problem", "data-raised": k }, T[ctx.lang].kinds[k] ?? k))),
    el("p", {}, `${ctx.t("to")}: ${trip.destination.name} · ${ctx.t("started")} ${when(trip.startedAt, ctx.lang)}`),
    t.incidentId ? el("p", { class: "small" }, `${ctx.t("incident")} #${t.incidentId}`) : null,
    el("p", { id: "last", class: "small", "data-fixes": String(track.length) },
      last ? `${ctx.t("last")}: ${when(last.at, ctx.lang, true)} · ${track.length} ${ctx.t("fixes")}` : "—"),
  );
}

function drawNear(units, cctv, police) {
  const away = (m) => `${Math.round(m)} m ${ctx.t("away")}`;
  fill($("units"), units.length ? units.map((u) => el("div", { class: "item unit", "data-unit": u.callsign },
    `${u.callsign} · ${ctx.lang === "ko" ? (u.typeKo ?? u.type) : u.type} · ${away(u.away)}`)) : el("p", { class: "muted" }, ctx.t("noUnits")));
  fill($("cctv"), cctv === null ? el("p", { class: "muted", id: "no-cctv" }, ctx.t("noCctv"))
    : cctv.map((c) => el("div", { class: "item cctv", "data-cctv": c.name }, `${c.name} · ${away(c.away)}`)));
  fill($("police"), police === null ? el("p", { class: "muted", id: "no-police" }, ctx.t("noPolice"))
    : police.map((p) => el("div", { class: "item police", "data-police": p.name }, `${p.name} · ${away(p.away)}`)),
    el("p", { class: "small muted" }, ctx.t("patrols")));
}

function drawMap(trip, track, last, units, cctv, police) {
  for (const g of Object.values(layers)) g.clearLayers();
  if (trip.route) L.polyline(trip.route.coordinates.map(([x, y]) => [y, x]), { color: "#2f6fdb", weight: 5, opacity: 0.6, dashArray: "8 6", className: "trip-route" }).addTo(layers.route);
  L.circleMarker([trip.destination.lat, trip.destination.lon], { radius: 8, color: "#1c7c3a", className: "trip-dest" }).addTo(layers.route);
  if (track.length) L.polyline(track.map((p) => [p.lat, p.lon]), { color: "#d7261e", weight: 4, className: "track" }).addTo(layers.track);
  if (last) L.circleMarker([last.lat, last.lon], { radius: 9, color: "#fff", weight: 3, fillColor: "#d7261e", fillOpacity: 1, className: "me" }).addTo(layers.track);
  for (const u of units) L.circleMarker([u.lat, u.lon], { radius: 7, color: "#f07c00", className: "unit" }).bindTooltip(u.callsign).addTo(layers.near);
  for (const c of cctv ?? []) L.circleMarker([c.lat, c.lon], { radius: 5, color: "#6b3fa0", className: "cctv" }).bindTooltip(c.name).addTo(layers.near);
  for (const p of police ?? []) L.circleMarker([p.lat, p.lon], { radius: 7, color: "#1b3a8c", fillOpacity: 0.6, className: "police" }).bindTooltip(p.name).addTo(layers.near);
  const near = [...(cctv ?? []), ...(police ?? [])].map((p) => [p.lat, p.lon]);
  const all = [...track.map((p) => [p.lat, p.lon]), ...units.map((u) => [u.lat, u.lon]), ...near, [trip.destination.lat, trip.destination.lon]];
  if (all.length > 1) map.fitBounds(all, { padding: [20, 20] });
}

// ctx.lang, ctx.token, ctx.api / ctx.post, the sign-in form: the shared shell (a 401 signs out)
const shell = signInShell(ctx, { translate, enter, onLang: () => (ctx.chosen ? open(ctx.chosen) : list()) });
// every re-read of the track is a recorded use: every 20 s while a trip is open, not more often
setInterval(() => { if (ctx.token && ctx.chosen && !document.hidden) open(ctx.chosen).catch(() => {}); }, 20_000);
shell.start();
