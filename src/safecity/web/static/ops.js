// SPDX-License-Identifier: Apache-2.0
// The situation room: a map of the districts coloured by crisis level with the sensors, pending alert
// drafts to approve, open incidents with their timelines and lifecycle actions, the district grid and the
// sensor health counts. Live: the board is fetched again whenever /situation/stream reports a change.
import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";

const T = {
  ko: {
    title: "재난안전 상황판", normal: "평시", offline: "연결 안 됨", live: "실시간", logout: "로그아웃",
    login: "운영자 로그인", user: "아이디", password: "비밀번호", signin: "로그인", badlogin: "아이디나 비밀번호가 맞지 않습니다",
    drafts: "승인 대기 경보", incidents: "진행 중인 사건", board: "구별 위기 수준", sensors: "센서 상태",
    none: "없음", approve: "승인·발령", reject: "반려", reason: "반려 사유", ack: "확인", respond: "대응",
    recover: "복구", close: "종료", total: "전체", ok: "정상", stale: "수신 끊김", suspect: "이상값",
    note: "지도는 구 경계와 센서 위치만으로 그립니다(배경 지도 없음).", other: "English",
    levels: ["평시", "관심", "주의", "경계", "심각"],
  },
  en: {
    title: "Disaster safety situation room", normal: "Normal", offline: "offline", live: "live", logout: "Log out",
    login: "Operator login", user: "User", password: "Password", signin: "Log in", badlogin: "Wrong user or password",
    drafts: "Alerts awaiting approval", incidents: "Open incidents", board: "Crisis level by district", sensors: "Sensors",
    none: "none", approve: "Approve & issue", reject: "Reject", reason: "Reason for rejecting", ack: "Acknowledge", respond: "Respond",
    recover: "Recovering", close: "Close", total: "total", ok: "ok", stale: "stale", suspect: "suspect",
    note: "The map draws district outlines and sensor positions only (no base map).", other: "한국어",
    levels: ["Normal", "Attention", "Caution", "Alert", "Serious"],
  },
};
const COLOURS = ["#c9d2dc", "#2f6fdb", "#f2c200", "#f07c00", "#d7261e"];
let lang = localStorage.getItem("safecity.lang") || "ko";
let token = sessionStorage.getItem("safecity.token");
let board = null;
let map = null;
let districtLayer = null;
let sensorLayer = null;

const $ = (id) => document.getElementById(id);
const t = (key) => T[lang][key] ?? key;
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
};

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("lang").textContent = t("other");
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${token}` };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    logout();
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function logout() {
  sessionStorage.removeItem("safecity.token");
  token = null;
  $("room").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/auth/token", { method: "POST", body: new URLSearchParams(form) });
  if (!response.ok) {
    $("login-error").textContent = t("badlogin");
    return;
  }
  token = (await response.json()).access_token;
  sessionStorage.setItem("safecity.token", token);
  start();
}

function levelName(level) {
  return T[lang].levels[level] ?? String(level);
}

function districtLevel(code) {
  const d = board?.districts.find((x) => x.code === code);
  return d ? d.level : 0;
}

async function drawMap() {
  if (!map) {
    map = L.map("map", { preferCanvas: true, zoomSnap: 0.25 }).setView([37.55, 126.98], 11);
    sensorLayer = L.layerGroup().addTo(map);
  }
  const districts = await (await fetch("/ogcapi/collections/districts/items?limit=1000")).json();
  if (districtLayer) districtLayer.remove();
  districtLayer = L.geoJSON(districts, {
    style: (f) => ({
      color: "#4a5b6d", weight: 1, fillOpacity: 0.55, fillColor: COLOURS[districtLevel(f.properties.code)],
    }),
    onEachFeature: (f, layer) => layer.bindTooltip(lang === "ko" ? f.properties.name_ko : f.properties.name_en || f.properties.name_ko),
  }).addTo(map);
  if (districts.features.length) map.fitBounds(districtLayer.getBounds(), { padding: [8, 8] });
  const sensors = await (await fetch("/ogcapi/collections/sensors/items?limit=5000")).json();
  sensorLayer.clearLayers();
  for (const f of sensors.features) {
    const [lon, lat] = f.geometry.coordinates;
    L.circleMarker([lat, lon], { radius: 4, color: "#14202e", weight: 1, fillColor: "#fff", fillOpacity: 1 })
      .bindTooltip(f.properties.name || `#${f.id}`)
      .addTo(sensorLayer);
  }
}

function recolour() {
  if (!districtLayer) return;
  districtLayer.setStyle((f) => ({ color: "#4a5b6d", weight: 1, fillOpacity: 0.55, fillColor: COLOURS[districtLevel(f.properties.code)] }));
}

function renderDrafts() {
  const box = $("drafts");
  box.replaceChildren();
  const drafts = board.alertDrafts || [];
  if (!drafts.length) box.append(el("p", { class: "empty" }, t("none")));
  for (const a of drafts) {
    const item = el("div", { class: "item" },
      el("div", { class: "head" }, el("span", { class: `level level-${a.level ?? 0}` }, levelName(a.level ?? 0)), el("span", { class: "title" }, a.headlines[lang] || a.headlines.ko)),
      el("div", { class: "meta" }, `${a.msgType} · ${a.severity} · ${a.urgency} · ${a.districts.join(", ")}`));
    const short = el("div", { class: "short" });
    item.append(short);
    api(`/alerts/${encodeURIComponent(a.identifier)}`).then((full) => {
      const info = full.cap.info.find((i) => i.language.startsWith(lang)) || full.cap.info[0];
      short.textContent = `${info.headline}\n${info.description}`;
    }).catch(() => {});
    item.append(
      el("button", { class: "primary", onclick: () => act(`/alerts/${encodeURIComponent(a.identifier)}/approve`, {}) }, t("approve")),
      el("button", { onclick: () => { const reason = prompt(t("reason")); if (reason) act(`/alerts/${encodeURIComponent(a.identifier)}/reject`, { reason }); } }, t("reject")));
    box.append(item);
  }
}

function renderIncidents() {
  const box = $("incidents");
  box.replaceChildren();
  if (!board.incidents.length) box.append(el("p", { class: "empty" }, t("none")));
  for (const inc of board.incidents) {
    const title = lang === "ko" ? inc.titleKo : inc.titleEn;
    const areas = inc.areas.map((a) => (lang === "ko" ? a.nameKo : a.nameEn) || a.code).join(", ");
    const status = lang === "ko" ? inc.statusKo : inc.statusEn;
    const timeline = el("ul", { class: "timeline" }, ...inc.timeline.slice(-8).map((e) => el("li", {}, `${new Date(e.at).toLocaleTimeString(lang === "ko" ? "ko-KR" : "en-GB", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit" })} ${lang === "ko" ? e.detailKo : e.detailEn}`)));
    const steps = [["acknowledged", "ack"], ["responding", "respond"], ["recovering", "recover"], ["closed", "close"]];
    box.append(el("div", { class: "item" },
      el("div", { class: "head" }, el("span", { class: `level level-${inc.level}` }, levelName(inc.level)), el("span", { class: "title" }, `#${inc.id} ${title}`)),
      el("div", { class: "meta" }, `${status} · ${areas}`),
      timeline,
      ...steps.map(([status, key]) => el("button", { onclick: () => act(`/incidents/${inc.id}/status`, { status }) }, t(key)))));
  }
}

function renderGrid() {
  const box = $("grid");
  box.replaceChildren();
  for (const d of board.districts) {
    const name = (lang === "ko" ? d.nameKo : d.nameEn) || d.code;
    box.append(el("div", { class: `cell level-${d.level}`, title: Object.entries(d.levels).map(([h, l]) => `${h}: ${levelName(l)}`).join("\n") }, name));
  }
}

function renderSensors() {
  const s = board.sensors || {};
  $("sensors").replaceChildren(
    el("span", {}, `${t("total")} ${s.total ?? 0}`),
    el("span", {}, `${t("ok")} ${s.ok ?? 0}`),
    el("span", {}, `${t("stale")} ${s.stale ?? 0}`),
    el("span", {}, `${t("suspect")} ${s.suspect ?? 0}`));
}

function render() {
  const overall = board.level.level;
  $("overall").className = `level level-${overall}`;
  $("overall").textContent = levelName(overall);
  renderDrafts();
  renderIncidents();
  renderGrid();
  renderSensors();
  recolour();
}

async function refresh() {
  board = await api("/situation");
  render();
}

async function act(path, body) {
  try {
    await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (error) {
    alert(error.message);
  }
  refresh();
}

let pending = null;
function soon() {
  clearTimeout(pending);
  pending = setTimeout(() => refresh().catch(() => {}), 300);
}

// EventSource cannot send an Authorization header: read the stream with fetch instead.
async function listen() {
  for (;;) {
    try {
      const response = await fetch("/situation/stream", { headers: { Authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(String(response.status));
      $("live").textContent = t("live");
      $("live").classList.add("on");
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (decoder.decode(value, { stream: true }).includes("data:")) soon();
      }
    } catch (error) {
      if (!token) return;
    }
    $("live").textContent = t("offline");
    $("live").classList.remove("on");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function start() {
  $("login").hidden = true;
  $("room").hidden = false;
  $("logout").hidden = false;
  try {
    await refresh();
    await drawMap();
    recolour();
    listen();
  } catch (error) {
    if (token) console.error(error);
  }
}

$("lang").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  localStorage.setItem("safecity.lang", lang);
  translate();
  if (board) {
    render();
    drawMap();
  }
});
$("logout").addEventListener("click", logout);
$("login-form").addEventListener("submit", login);
translate();
if (token) start();
else logout();
