// SPDX-License-Identifier: Apache-2.0
// The 119 dispatcher's screen (/dispatch/screen): take a call, see the recommended units (by live road
// time, each explained), send them with one click, and watch the unit board, the map (units, calls,
// routes, 7-minute coverage of the available ambulances) and the month's golden-time KPIs follow.
// Korean and English; the look of the situation room (ops.css); data from the /dispatch API.
import { $, el, fill, when, leaflet, missingMessage, signInShell } from "/static/common.js";

const T = {
  ko: {
    title: "119 출동 지령", roomLink: "상황판", apiLink: "API 문서",
    login: "지령 요원 로그인",
    newCall: "신고 접수", type: "유형", where: "위치 (동 또는 주소)", clickHint: "또는 지도를 눌러 위치를 고르세요.", take: "접수",
    queue: "신고 대기열", recommendation: "추천 출동대", accept: "추천대로 출동 지령", units: "출동대 현황",
    kpis: "골든타임 지표 (이번 달)", csv: "CSV 내려받기", none: "없음", missing: "보낼 차량 없음",
    unit: "차량", kind: "종류", status: "상태", station: "소속", district: "구", calls: "건수", within7: "7분 내",
    within4: "4분 내", mean: "평균", coverage: "구급차 7분 도달 인구", picked: "지도에서 고른 위치",
    minutes: "분", fills: "임무", passed: "가까운데 보내지 않은 차량",
    hospitals: "이송 병원 (도로 시간·빈 자리)", recommended: "추천", setCapacity: "수용 인원 변경", capacity: "수용 가능",
    kinds: { pumper: "펌프차", ladder: "사다리차", rescue: "구조차", ambulance: "구급차", water_rescue: "수난구조", collapse_rescue: "붕괴구조" },
    states: { open: "접수", suggested: "예측 (확인 필요)", dispatched: "출동", closed: "종결", available: "대기", on_scene: "현장 도착", returning: "귀소 중" },
  },
  en: {
    title: "119 dispatch", roomLink: "Situation room", apiLink: "API docs",
    login: "Dispatcher login",
    newCall: "Take a call", type: "Type", where: "Place (dong or address)", clickHint: "Or click the map to pick the place.", take: "Take call",
    queue: "Calls", recommendation: "Recommended units", accept: "Dispatch as recommended", units: "Unit board",
    kpis: "Golden-time KPIs (this month)", csv: "Download CSV", none: "none", missing: "no unit to send",
    unit: "Unit", kind: "Type", status: "Status", station: "Station", district: "District", calls: "Calls", within7: "≤7 min",
    within4: "≤4 min", mean: "Mean", coverage: "Residents within 7 min of an ambulance", picked: "place picked on the map",
    minutes: "min", fills: "fills", passed: "Nearer units not sent",
    hospitals: "Hospitals (road time, free places)", recommended: "recommended", setCapacity: "Set capacity", capacity: "Can take",
    kinds: { pumper: "pumper", ladder: "ladder", rescue: "rescue", ambulance: "ambulance", water_rescue: "water rescue", collapse_rescue: "collapse rescue" },
    states: { open: "open", suggested: "predicted (to confirm)", dispatched: "dispatched", closed: "closed", available: "available", on_scene: "on scene", returning: "returning" },
  },
};

const ctx = {
  selected: null,
  types: [],
  t(key) { return T[this.lang][key] ?? key; },
  kind(k) { return T[this.lang].kinds[k] ?? k; },
  state(k) { return T[this.lang].states[k] ?? k; },
};
let L = null, map = null, layers = null;
// names of the codes the API answers with: stations (GET /dispatch/stations) and districts (the map's layer)
const names = { stations: new Map(), districts: new Map() };
const named = (table, code) => {
  const n = table.get(code);
  return n ? (ctx.lang === "ko" ? n.ko : n.en || n.ko) : code;
};
let fitted = false; // the map has been brought to the units once (then the dispatcher moves it)

function translate() {
  fillTypes();
  if (map) drawLegend();
}

const name = (o, ko, en) => (ctx.lang === "ko" ? o[ko] : o[en]);
const mins = (s) => (s == null ? "—" : `${(s / 60).toFixed(1)} ${ctx.t("minutes")}`);
const pct = (x) => (x == null ? "—" : `${Math.round(x * 100)}%`);

function fillTypes() {
  const select = $("call-type");
  const value = select.value;
  fill(select, ctx.types.map((t) => el("option", { value: t.code }, name(t, "nameKo", "nameEn"))));
  if (value) select.value = value;
}

async function setUpMap() {
  try {
    L = await leaflet();
  } catch {
    missingMessage($("map"), ctx.lang);
    return;
  }
  map = L.map("map", { zoomControl: true, attributionControl: false }).setView([37.55, 126.98], 12);
  layers = { coverage: L.layerGroup().addTo(map), routes: L.layerGroup().addTo(map), calls: L.layerGroup().addTo(map), units: L.layerGroup().addTo(map), pick: L.layerGroup().addTo(map) };
  const districts = await fetch("/ogcapi/collections/districts/items?limit=100").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (districts?.features?.length) {
    for (const f of districts.features) names.districts.set(String(f.properties.code), { ko: f.properties.name_ko, en: f.properties.name_en });
    const d = L.geoJSON(districts, { style: { color: "#7a8794", weight: 1, fillOpacity: 0.04 } }).addTo(map);
    map.fitBounds(d.getBounds());
  }
  map.on("click", (e) => {
    $("call-lon").value = e.latlng.lng.toFixed(6);
    $("call-lat").value = e.latlng.lat.toFixed(6);
    $("call-address").value = "";
    $("call-address").placeholder = ctx.t("picked");
    layers.pick.clearLayers();
    L.circleMarker(e.latlng, { radius: 7, color: "#d7261e" }).addTo(layers.pick);
  });
  drawLegend();
}

function drawLegend() {
  fill($("legend"), ["available", "dispatched", "on_scene", "returning"].map((s) => el("span", { class: "key" }, el("i", { style: `background:${COLOUR[s]}` }), ctx.state(s))));
}

const COLOUR = { available: "#16a34a", dispatched: "#f07c00", en_route: "#f07c00", on_scene: "#d7261e", transporting: "#d7261e", at_hospital: "#d7261e", returning: "#2f6fdb", out_of_service: "#64748b" };

function drawUnits(units) {
  fill($("units"), el("tr", {}, ["unit", "kind", "status", "station"].map((k) => el("th", {}, ctx.t(k)))),
    units.map((u) => el("tr", { "data-unit": u.callsign, "data-status": u.status },
      el("td", {}, u.callsign), el("td", {}, name(u, "typeKo", "typeEn")),
      el("td", {}, el("span", { class: `status s-${u.status}` }, name(u, "statusKo", "statusEn"))),
      el("td", { title: u.station, "data-station": u.station }, named(names.stations, u.station)))));
  if (!map) return;
  if (!fitted && units.length) {
    // where the units are, not the whole city: a dispatcher must see them and the calls between them
    map.fitBounds(L.latLngBounds(units.map((u) => [u.lat, u.lon])).pad(0.25), { maxZoom: 14 });
    fitted = true;
  }
  layers.units.clearLayers();
  for (const u of units) {
    L.circleMarker([u.lat, u.lon], { radius: 6, color: COLOUR[u.status], fillOpacity: 0.9, className: `unit-${u.status}` })
      .bindTooltip(`${u.callsign} · ${name(u, "statusKo", "statusEn")}`).addTo(layers.units);
  }
}

function drawCalls(calls) {
  const list = calls.filter((c) => c.status !== "closed");
  fill($("calls"), list.length ? list.map((c) => el("div", {
    class: `item incident${ctx.selected === c.id ? " selected" : ""}`, "data-call": c.id, onclick: () => select(c.id),
  }, el("div", { class: "head" }, el("span", { class: "title" }, `#${c.id} ${name(c, "typeKo", "typeEn")}`), el("span", { class: `status s-${c.status === "open" ? "dispatched" : "on_scene"}` }, ctx.state(c.status))),
  el("div", { class: "meta" }, `${when(c.receivedAt, ctx.lang)} · ${c.address || c.dong || ""}`),
  // a call the platform suggests (an earthquake's predicted collapse) says so, in the note's two languages
  c.status === "suggested" && c.note ? el("div", { class: "meta", "data-suggested": c.id }, c.note.split(" / ")[ctx.lang === "ko" ? 0 : 1] || c.note) : null)) : el("p", { class: "muted" }, ctx.t("none")));
  if (!map) return;
  layers.calls.clearLayers();
  for (const c of list) L.circleMarker([c.lat, c.lon], { radius: 9, color: "#14202e", weight: 3, dashArray: c.status === "suggested" ? "3 3" : null, fillColor: c.status === "suggested" ? "#ffffff" : "#f2c200", fillOpacity: 1 }).bindTooltip(`#${c.id}`).addTo(layers.calls);
}

async function select(id) {
  ctx.selected = id;
  $("rec-card").hidden = false;
  $("rec-error").textContent = "";
  fill($("rec"), el("p", { class: "muted" }, "…"));
  try {
    const rec = await ctx.api(`/dispatch/calls/${id}/recommendation`);
    fill($("rec"), rec.units.map((u) => el("div", { class: "pick", "data-pick": u.unit },
      el("div", {}, el("strong", {}, u.unit), ` · ${ctx.t("fills")} ${ctx.kind(u.fills)} · ${mins(u.travelS)}`),
      el("p", { class: "why" }, name(u, "whyKo", "whyEn")),
      u.passedOver.length ? el("p", { class: "why" }, `${ctx.t("passed")}: `, u.passedOver.map((p) => `${p.unit} (${name(p, "whyKo", "whyEn")})`).join("; ")) : null)),
    rec.missing.length ? el("p", { class: "error" }, `${ctx.t("missing")}: ${rec.missing.map((m) => ctx.kind(m.unit)).join(", ")}`) : null,
    rec.rain ? el("p", { class: "muted", "data-rain": String(rec.rain.raining) }, name(rec.rain, "ko", "en")) : null);
    $("accept").disabled = rec.units.length === 0;
    if (map) {
      layers.routes.clearLayers();
      for (const u of rec.units) if (u.route.length > 1) L.polyline(u.route.map(([x, y]) => [y, x]), { color: "#d7261e", weight: 4, opacity: 0.7 }).addTo(layers.routes);
      // the call and its recommended units' routes in view
      const routes = layers.routes.getLayers();
      if (routes.length) map.fitBounds(L.featureGroup(routes).getBounds().pad(0.3), { maxZoom: 16 });
    }
  } catch (e) {
    fill($("rec"));
    $("rec-error").textContent = e.message;
    $("accept").disabled = true;
  }
  await drawHospitals(id);
  refresh();
}

// For an EMS call: where the patient would go, by live road time among the hospitals with a free place;
// a dispatcher who hears an ED is full (or has room again) says so here (audited on the server).
async function drawHospitals(id) {
  const call = await ctx.api(`/dispatch/calls/${id}`).catch(() => null);
  const box = $("hospitals-box");
  box.hidden = !call || call.category !== "ems";
  if (box.hidden) return;
  $("hospital-error").textContent = "";
  const list = await ctx.api(`/dispatch/calls/${id}/hospitals`).catch((e) => { $("hospital-error").textContent = e.message; return []; });
  fill($("hospitals"), list.length ? list.map((h) => el("div", { class: `item${h.recommended ? " selected" : ""}`, "data-hospital": h.code, "data-free": h.free },
    el("div", { class: "head" }, el("span", { class: "title" }, name(h, "nameKo", "nameEn")), h.recommended ? el("span", { class: "status s-available" }, ctx.t("recommended")) : null),
    el("p", { class: "why" }, name(h, "whyKo", "whyEn")),
    el("form", { class: "capacity", onsubmit: (event) => setCapacity(event, id, h.code) },
      el("label", {}, `${ctx.t("capacity")} `, el("input", { name: "capacity", type: "number", min: "0", max: "10000", value: String(h.capacity), style: "width:5em" })),
      el("button", { type: "submit" }, ctx.t("setCapacity"))))) : el("p", { class: "muted" }, ctx.t("none")));
}

async function setCapacity(event, id, code) {
  event.preventDefault();
  const capacity = Number(new FormData(event.target).get("capacity"));
  try {
    await ctx.api(`/dispatch/hospitals/${encodeURIComponent(code)}/capacity`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ capacity }) });
  } catch (e) {
    $("hospital-error").textContent = e.message;
    return;
  }
  await drawHospitals(id);
}

async function accept() {
  if (ctx.selected == null) return;
  $("accept").disabled = true;
  try {
    await ctx.post(`/dispatch/calls/${ctx.selected}/accept`);
    $("rec-card").hidden = true;
    if (layers) layers.routes.clearLayers();
  } catch (e) {
    $("rec-error").textContent = e.message;
  }
  refresh();
}

async function takeCall(event) {
  event.preventDefault();
  $("call-error").textContent = "";
  const body = { type: $("call-type").value };
  if ($("call-lon").value) Object.assign(body, { lon: Number($("call-lon").value), lat: Number($("call-lat").value) });
  else body.address = $("call-address").value;
  try {
    const call = await ctx.post("/dispatch/calls", body);
    $("call-lon").value = $("call-lat").value = "";
    if (layers) layers.pick.clearLayers();
    await select(call.id);
  } catch (e) {
    $("call-error").textContent = e.message;
  }
}

async function drawCoverage() {
  try {
    const cov = await ctx.api("/dispatch/coverage?type=ambulance");
    $("cover").textContent = `${ctx.t("coverage")}: ${pct(cov.shares.within7min)}`;
    $("cover").dataset.share = String(cov.shares.within7min);
    $("cover").dataset.available = String(cov.available);
    if (!map) return;
    layers.coverage.clearLayers();
    for (const u of cov.units) if (u.within7min) L.geoJSON(u.within7min, { style: { color: "#16a34a", weight: 0, fillOpacity: 0.12, className: "reach" } }).addTo(layers.coverage);
  } catch (e) {
    $("cover").textContent = e.message;
  }
}

async function drawKpis() {
  const month = new Date().toLocaleString("sv-SE", { timeZone: "Asia/Seoul" }).slice(0, 7);
  $("kpi-csv").href = `/dispatch/kpis.csv?month=${month}`;
  const rows = await ctx.api(`/dispatch/kpis?month=${month}`);
  fill($("kpis"), el("tr", {}, ["district", "type", "calls", "mean", "within4", "within7"].map((k) => el("th", {}, ctx.t(k)))),
    rows.map((r) => el("tr", { "data-kpi": `${r.district}/${r.callType}` }, el("td", { title: r.district }, named(names.districts, r.district)), el("td", {}, name(r, "callTypeKo", "callTypeEn")),
      el("td", {}, `${r.arrived}/${r.calls}`), el("td", {}, mins(r.responseMeanS)), el("td", {}, pct(r.within4min)), el("td", {}, pct(r.within7min)))));
}

async function refresh() {
  if (!ctx.token) return;
  const [units, calls] = await Promise.all([ctx.api("/dispatch/units"), ctx.api("/dispatch/calls?open=true")]);
  drawUnits(units);
  drawCalls(calls);
  await Promise.all([drawCoverage(), drawKpis()]);
}

async function start() {
  ctx.types = await ctx.api("/dispatch/call-types");
  fillTypes();
  const stations = await ctx.api("/dispatch/stations").catch(() => []);
  for (const s of stations) names.stations.set(s.code, { ko: s.name_ko, en: s.name_en });
  if (!map) await setUpMap();
  await refresh();
}

// units move by themselves (their trackers): the board and the map follow without a click
setInterval(() => { if (ctx.token && map) ctx.api("/dispatch/units").then(drawUnits).catch(() => {}); }, 10000);

// ctx.lang, ctx.token, ctx.api / ctx.post, the sign-in form: the shared shell (a 401 signs out)
const shell = signInShell(ctx, { translate, enter: start, onLang: () => refresh() });
$("accept").addEventListener("click", accept);
$("call-form").addEventListener("submit", takeCall);
shell.start();
setInterval(() => { if (ctx.token && !document.hidden) refresh(); }, 10_000);
