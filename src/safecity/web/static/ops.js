// SPDX-License-Identifier: Apache-2.0
// The situation room (operations dashboard at /): a map of the city with switchable layers, the situation
// board (district x hazard crisis levels, sensor health, counts), alert drafts to compose and approve,
// open incidents and the alerts in force. Live: the board is fetched again whenever /situation/stream
// reports a change. The map lives in ops-map.js, the sensor chart in ops-chart.js, the incident and
// composer dialogs in ops-dialogs.js.
import { $, el, fill, when, COLOURS, sse, loadCatalogue } from "/static/common.js";
import { MapView } from "/static/ops-map.js";
import { openChart } from "/static/ops-chart.js";
import { openIncident, openComposer, cancelAlert } from "/static/ops-dialogs.js";
import { QuakePanel } from "/static/ops-quake.js";

const T = {
  ko: {
    title: "재난안전 상황판", normal: "평시", offline: "연결 안 됨", live: "실시간", logout: "로그아웃",
    login: "운영자 로그인", user: "아이디", password: "비밀번호", signin: "로그인", badlogin: "아이디나 비밀번호가 맞지 않습니다",
    citizenHint: "시민은 로그인 없이 시민용 페이지에서 경보를 볼 수 있습니다.",
    citizenLink: "시민용 페이지", apiLink: "API 문서", feedLink: "경보 피드", aboutLink: "플랫폼 상태", careLink: "안심귀가 관제",
    board: "상황 현황", drafts: "승인 대기 경보", incidents: "진행 중인 사건", issued: "발령 중인 경보",
    none: "없음", open: "열기", compose: "검토·승인", cancel: "발령 취소", close: "닫기",
    sensorsTotal: "센서", ok: "정상", stale: "수신 끊김", suspect: "이상값", openIncidents: "사건", pending: "승인 대기", inForce: "발령 중",
    district: "구", clock: "상황 시각",
    note: "지도는 도시의 자체 벡터 레이어로 그립니다(외부 배경 지도 없음).", other: "English",
    levels: ["평시", "관심", "주의", "경계", "심각"],
    layers: {
      districts: "구별 위기 수준", rivers: "하천", sensors: "센서", facilities: "시설물", shelters: "대피소", fire_stations: "119안전센터",
      hospitals: "병원", schools: "학교", incidents: "사건", alerts: "발령 경보 지역", quake: "지진 피해 추정",
      floodForecast: "침수 예측 수심 (60분)",
    },
    latest: "최근값", state: "상태", noData: "자료 없음", capacity: "수용", capacityUnknown: "수용 인원 미상", occupancy: "현재", openShelter: "개방", closedShelter: "폐쇄",
    chart: "센서 시계열", readings: "관측값", thresholdLines: "판단 기준선", noThreshold: "이 센서에 적용되는 판단 기준이 없습니다.",
    notDrawn: "차트에 그리지 않는 기준", sumNote: "누적 곡선은 표시된 관측값에서 계산한 창 합계입니다(규칙 엔진과 같은 (t−창, t] 구간).",
    since: "부터", cancelReason: "취소 사유 (시민에게 전달됩니다)", cancelled: "취소 경보를 발령했습니다",
    unread: "규칙이 읽지 않는 센서", unreadHint: "관측 항목을 카탈로그에 연결하세요 (POST /sensing/catalogue/mappings)",
  },
  en: {
    title: "Disaster safety situation room", normal: "Normal", offline: "offline", live: "live", logout: "Log out",
    login: "Operator login", user: "User", password: "Password", signin: "Log in", badlogin: "Wrong user or password",
    citizenHint: "Citizens read the warnings on the citizen page, no login needed.",
    citizenLink: "Citizen page", apiLink: "API docs", feedLink: "Alert feed", aboutLink: "Platform status", careLink: "Safe-return control",
    board: "Situation", drafts: "Alerts awaiting approval", incidents: "Open incidents", issued: "Alerts in force",
    none: "none", open: "Open", compose: "Review & approve", cancel: "Cancel alert", close: "Close",
    sensorsTotal: "sensors", ok: "ok", stale: "stale", suspect: "suspect", openIncidents: "incidents", pending: "pending", inForce: "in force",
    district: "District", clock: "Situation time",
    note: "The map is drawn from the city's own vector layers (no external base map).", other: "한국어",
    levels: ["Normal", "Attention", "Caution", "Alert", "Serious"],
    layers: {
      districts: "Districts by crisis level", rivers: "Rivers", sensors: "Sensors", facilities: "Facilities", shelters: "Shelters",
      fire_stations: "119 safety centres", hospitals: "Hospitals", schools: "Schools", incidents: "Incidents", alerts: "Issued alert areas",
      quake: "Earthquake damage", floodForecast: "Predicted flood depth (60 min)",
    },
    latest: "latest", state: "state", noData: "no data", capacity: "capacity", capacityUnknown: "capacity unknown", occupancy: "now", openShelter: "open", closedShelter: "closed",
    chart: "Sensor time series", readings: "readings", thresholdLines: "Thresholds", noThreshold: "No rule threshold applies to this sensor.",
    notDrawn: "Thresholds not drawn", sumNote: "Sum curves are window sums computed from the readings shown (the rule engine's (t−window, t] windows).",
    since: "since", cancelReason: "Reason for cancelling (sent to citizens)", cancelled: "A Cancel was issued",
    unread: "Sensors no rule reads", unreadHint: "Map their observed property to the catalogue (POST /sensing/catalogue/mappings)",
  },
};
// hazards shown as columns of the board, short names for narrow cells
const SHORT = {
  heavy_rain: ["호우", "Rain"], river_flood: ["홍수", "Flood"], landslide: ["산사태", "Slide"], heat_wave: ["폭염", "Heat"],
  cold_wave: ["한파", "Cold"], strong_wind: ["강풍", "Wind"], facility: ["시설", "Struct"], fire: ["화재", "Fire"],
  earthquake: ["지진", "Quake"], gas: ["가스", "Gas"], air_quality: ["대기", "Air"], sensor: ["센서", "Sensor"],
  other: ["기타", "Other"],
};

const ctx = {
  lang: localStorage.getItem("safecity.lang") || "ko",
  token: sessionStorage.getItem("safecity.token"),
  board: null,
  issued: [],
  t(key) { return T[this.lang][key] ?? key; },
  layerName(key) { return T[this.lang].layers[key] ?? key; },
  levelName(level) { return T[this.lang].levels[level] ?? String(level); },
  names: null, // the sensing catalogue's names and units (loadCatalogue)
  propName(op) { return this.names?.property(op, this.lang) || op?.name || ""; },
  unit(symbol) { return this.names ? this.names.unit(symbol) : symbol || ""; },
  async api(path, options = {}) {
    const headers = { ...(options.headers || {}), Authorization: `Bearer ${this.token}` };
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) {
      logout();
      throw new Error("unauthorized");
    }
    if (!response.ok) {
      let message = `${response.status}`;
      try {
        const body = await response.json();
        message = (this.lang === "ko" && body.message_ko) || body.message || message;
      } catch { /* not JSON */ }
      throw new Error(message);
    }
    const type = response.headers.get("content-type") || "";
    return type.includes("json") ? response.json() : response.text();
  },
  post(path, body, method = "POST") {
    return this.api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  },
  refresh: () => refresh(),
  openChart: (id) => openChart(ctx, id),
  streamName: (id) => map?.streamName(id) ?? `#${id}`,
  openIncident: (id) => openIncident(ctx, id),
  openComposer: (id) => openComposer(ctx, id),
};
let map = null;
let quake = null;
const MAP_REFRESH_MS = 15_000;

let online = false;

function translate() {
  document.documentElement.lang = ctx.lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = ctx.t(node.dataset.t);
  $("lang").textContent = ctx.t("other");
  liveState(online); // #live is data-t too: show the connection's state, not the "offline" it starts with
}

function liveState(on) {
  online = on;
  $("live").textContent = ctx.t(on ? "live" : "offline");
  $("live").classList.toggle("on", on);
}

// An operator stays signed in through an event: the token is exchanged for a fresh one (POST
// /auth/refresh) when two thirds of its life have passed, and at once when the tab comes back from
// sleep; only a refused refresh (account deactivated, token already expired) shows the login again.
let refreshTimer = null;
function keepToken(token, expiresIn) {
  ctx.token = token;
  sessionStorage.setItem("safecity.token", token);
  const due = Date.now() + (expiresIn * 1000 * 2) / 3;
  sessionStorage.setItem("safecity.tokenDue", String(due));
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshToken, Math.max(0, due - Date.now()));
}

async function refreshToken() {
  if (!ctx.token) return;
  try {
    const response = await fetch("/auth/refresh", { method: "POST", headers: { Authorization: `Bearer ${ctx.token}` } });
    if (response.status === 401) { logout(); return; }
    if (!response.ok) throw new Error(String(response.status));
    const body = await response.json();
    keepToken(body.access_token, body.expires_in);
  } catch {
    // the server is unreachable for a moment: try again shortly, the token is still valid
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshToken, 10_000);
  }
}

document.addEventListener("visibilitychange", () => {
  const due = Number(sessionStorage.getItem("safecity.tokenDue") || 0);
  if (!document.hidden && ctx.token && Date.now() >= due) refreshToken();
});

function logout() {
  sessionStorage.removeItem("safecity.token");
  sessionStorage.removeItem("safecity.tokenDue");
  clearTimeout(refreshTimer);
  ctx.token = null;
  $("room").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/auth/token", { method: "POST", body: new URLSearchParams(form) });
  if (!response.ok) {
    $("login-error").textContent = ctx.t("badlogin");
    return;
  }
  const body = await response.json();
  keepToken(body.access_token, body.expires_in);
  start();
}

const levelChip = (level) => el("span", { class: `level level-${level}` }, ctx.levelName(level));

function renderCounts() {
  const b = ctx.board;
  const s = b.sensors || {};
  const tile = (n, key, cls = "") => el("div", { class: `count ${cls}` }, el("strong", {}, String(n ?? 0)), el("span", {}, ctx.t(key)));
  $("counts").replaceChildren(
    tile(s.total, "sensorsTotal"), tile(s.ok, "ok", "ok"), tile(s.stale, "stale", s.stale ? "warn" : ""),
    tile(s.suspect, "suspect", s.suspect ? "warn" : ""), tile(b.incidents.length, "openIncidents"),
    tile((b.alertDrafts || []).length, "pending", (b.alertDrafts || []).length ? "warn" : ""), tile(ctx.issued.length, "inForce"));
  // the sensors that need a look (silent or sending implausible values), each opening its chart
  const problems = ctx.health?.problems || [];
  $("health").replaceChildren(...problems.slice(0, 6).map((p) => el("li", {},
    el("span", { class: `tag ${p.state}` }, ctx.t(p.state)), " ",
    el("button", { type: "button", class: "link", onclick: () => ctx.openChart(p.datastream) }, p.name),
    p.lastReceivedAt ? el("span", { class: "muted small" }, ` · ${when(p.lastReceivedAt, ctx.lang, true)}`) : null)),
    ...(problems.length > 6 ? [el("li", { class: "muted small" }, `+${problems.length - 6}`)] : []));
  // a city's own sensors whose observed property no rule understands yet
  const unread = b.unreadStreams || [];
  fill($("unread"), unread.length ? [
    el("summary", { title: ctx.t("unreadHint") }, `${ctx.t("unread")} ${unread.length}`),
    el("ul", {}, ...unread.slice(0, 20).map((s) => el("li", {},
      el("button", { type: "button", class: "link", "data-datastream": s.datastream, onclick: () => ctx.openChart(s.datastream) }, s.name),
      s.property ? el("span", { class: "muted small" }, ` · ${s.property}`) : null))),
    unread.length > 20 ? el("p", { class: "muted small" }, `+${unread.length - 20}`) : null,
    el("p", { class: "muted small" }, ctx.t("unreadHint")),
  ] : []);
  $("unread").hidden = !unread.length;
}

function renderGrid() {
  const b = ctx.board;
  const known = new Set(b.hazards.map((h) => h.key));
  const active = new Set(b.districts.flatMap((d) => Object.keys(d.levels)));
  const hazards = Object.keys(SHORT).filter((h) => known.has(h) && (active.has(h) || ["heavy_rain", "river_flood", "heat_wave", "facility", "fire"].includes(h)));
  for (const h of active) if (!hazards.includes(h)) hazards.push(h);
  const name = (h) => {
    const full = b.hazards.find((x) => x.key === h);
    const long = full ? (ctx.lang === "ko" ? full.nameKo : full.nameEn) : h;
    return [SHORT[h]?.[ctx.lang === "ko" ? 0 : 1] ?? long, long];
  };
  const head = el("tr", {}, el("th", { class: "dname" }, ctx.t("district")), ...hazards.map((h) => {
    const [short, full] = name(h);
    return el("th", { title: full }, short);
  }));
  const rows = b.districts.map((d) => {
    const dname = (ctx.lang === "ko" ? d.nameKo : d.nameEn) || d.code;
    return el("tr", { "data-code": d.code },
      el("td", { class: `dname cell level-${d.level}`, title: ctx.levelName(d.level) }, dname),
      ...hazards.map((h) => {
        const lv = d.levels[h] ?? 0;
        return el("td", { class: `cell level-${lv}`, title: `${dname} · ${name(h)[1]}: ${ctx.levelName(lv)}` }, lv ? ctx.levelName(lv) : "");
      }));
  });
  $("grid").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

function renderDrafts() {
  const box = $("drafts");
  const drafts = ctx.board.alertDrafts || [];
  if (!drafts.length) {
    box.replaceChildren(el("p", { class: "empty" }, ctx.t("none")));
    return;
  }
  box.replaceChildren(...drafts.map((a) => el("div", { class: "item draft", "data-id": a.identifier },
    el("div", { class: "head" }, levelChip(a.level ?? 0), el("span", { class: "title" }, a.headlines[ctx.lang] || a.headlines.ko)),
    el("div", { class: "meta" }, `${a.msgType} · ${a.severity} · ${a.urgency} · ${a.districts.length}${ctx.lang === "ko" ? "개 구" : " districts"}`),
    el("button", { type: "button", class: "primary compose", onclick: () => ctx.openComposer(a.identifier) }, ctx.t("compose")))));
}

function renderIncidents() {
  const box = $("incidents");
  const list = ctx.board.incidents;
  if (!list.length) {
    box.replaceChildren(el("p", { class: "empty" }, ctx.t("none")));
    return;
  }
  box.replaceChildren(...list.map((inc) => {
    const areas = inc.areas.map((a) => (ctx.lang === "ko" ? a.nameKo : a.nameEn) || a.code).join(", ");
    const last = inc.timeline.at(-1);
    return el("div", { class: "item incident", "data-id": inc.id, role: "button", tabindex: "0", onclick: () => ctx.openIncident(inc.id), onkeydown: (e) => { if (e.key === "Enter") ctx.openIncident(inc.id); } },
      el("div", { class: "head" }, levelChip(inc.level), el("span", { class: "title" }, `#${inc.id} ${ctx.lang === "ko" ? inc.titleKo : inc.titleEn}`)),
      el("div", { class: "meta" }, `${ctx.lang === "ko" ? inc.statusKo : inc.statusEn} · ${areas}`),
      last ? el("div", { class: "meta last" }, `${when(last.at, ctx.lang)} ${(ctx.lang === "ko" ? last.detailKo : last.detailEn) ?? ""}`) : null);
  }));
}

// the alerts in force: per incident the latest issued one, unless that was a Cancel
async function loadIssued() {
  const { alerts } = await ctx.api("/alerts?state=issued&origin=platform&limit=200");
  const latest = new Map();
  for (const a of alerts) if (!latest.has(a.incidentId ?? a.identifier)) latest.set(a.incidentId ?? a.identifier, a);
  ctx.issued = [...latest.values()].filter((a) => a.msgType !== "Cancel");
}

function renderIssued() {
  const box = $("issued");
  if (!ctx.issued.length) {
    box.replaceChildren(el("p", { class: "empty" }, ctx.t("none")));
    return;
  }
  box.replaceChildren(...ctx.issued.map((a) => el("div", { class: "item issued", "data-id": a.identifier },
    el("div", { class: "head" }, levelChip(a.level ?? 0), el("span", { class: "title" }, a.headlines[ctx.lang] || a.headlines.ko)),
    el("div", { class: "meta" }, `${a.msgType} · ${when(a.sent, ctx.lang, true)} · ${a.decidedBy ?? ""}`),
    el("div", { class: "row" },
      el("button", { type: "button", class: "view", onclick: () => ctx.openComposer(a.identifier) }, ctx.t("open")),
      el("button", { type: "button", class: "cancel", onclick: () => cancelAlert(ctx, a.identifier) }, ctx.t("cancel"))))));
}

function renderHeader() {
  const overall = ctx.board.level.level;
  $("overall").className = `level level-${overall}`;
  $("overall").textContent = ctx.levelName(overall);
  $("clock").textContent = `${ctx.t("clock")} ${when(ctx.board.generatedAt, ctx.lang, true)}`;
}

function renderLegend() {
  $("legend").replaceChildren(...[1, 2, 3, 4].map((l) => el("span", { class: "key" }, el("i", { style: `background:${COLOURS[l]}` }), ctx.levelName(l))));
}

function render() {
  renderHeader();
  renderCounts();
  renderGrid();
  renderDrafts();
  renderIncidents();
  renderIssued();
  renderLegend();
  map?.update();
  quake?.update().catch((error) => console.error("quake panel", error));
}

async function refresh() {
  const [board, health] = await Promise.all([ctx.api("/situation"), ctx.api("/sensing/health"), loadIssued()]);
  ctx.board = board;
  ctx.health = health;
  render();
}

let pending = null;
let slowTimer = null;
function soon() {
  clearTimeout(pending);
  pending = setTimeout(() => refresh().catch(() => {}), 300);
  // sensor values and alert areas change less often than the board: a slower refresh for the map layers
  if (!slowTimer) slowTimer = setTimeout(() => { slowTimer = null; refreshMap(); }, 1000);
}

function refreshMap() {
  map?.refreshData().catch((error) => console.error("map refresh", error));
}

function listen() {
  // the stream reconnects with the token current at that moment (a refreshed one after a refresh)
  sse("/situation/stream", () => ({ Authorization: `Bearer ${ctx.token}` }), () => soon(), liveState, () => Boolean(ctx.token));
}

async function start() {
  $("login").hidden = true;
  $("room").hidden = false;
  $("logout").hidden = false;
  try {
    ctx.names ??= await loadCatalogue();
    await refresh();
    map = map ?? new MapView(ctx, $("map"));
    await map.init();
    quake = quake ?? new QuakePanel(ctx, map);
    await quake.update();
    listen();
    // readings arrive without changing the situation (no event on the stream): the sensor values and
    // health on the map are read again on a steady beat as well
    setInterval(() => { if (ctx.token && !document.hidden) refreshMap(); }, MAP_REFRESH_MS);
  } catch (error) {
    if (ctx.token) console.error(error);
  }
}

$("lang").addEventListener("click", () => {
  ctx.lang = ctx.lang === "ko" ? "en" : "ko";
  localStorage.setItem("safecity.lang", ctx.lang);
  translate();
  if (ctx.board) {
    render();
    map?.relabel();
  }
});
$("logout").addEventListener("click", logout);
$("login-form").addEventListener("submit", login);
$("chart-close").addEventListener("click", () => { $("chart-panel").hidden = true; });
translate();
if (ctx.token) {
  refreshToken(); // a reload: learn the token's remaining life (and renew it) before it can lapse
  start();
} else logout();
