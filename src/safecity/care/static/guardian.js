// SPDX-License-Identifier: Apache-2.0
// The guardian page (/care/guardian): a guardian logs in and sees, for each person they look after, the
// last position on a map, their safe zones (fences), the trip home and its status, and the alerts; they
// start a trip home and acknowledge an alert (so it is not escalated to the operators). Korean and
// English; data from the /care API, where every read of a position is recorded (위치정보법 §16, §19).
import { $, el, fill, when, leaflet, missingMessage, addTiles, signInShell } from "/static/common.js";

const T = {
  ko: {
    title: "안심 보호자", login: "보호자 로그인",
    refresh: "새로 고침", trip: "안심귀가", alerts: "알림",
    fences: "안심 구역", start: "귀가 시작", tripHint: "목적지는 집입니다. 지도를 눌러 다른 곳을 고를 수 있습니다.",
    law: "위치 열람은 위치정보법 제16조에 따라 기록되고 제19조에 따라 통보됩니다.", nobody: "보호 중인 사람이 없습니다.",
    noPosition: "아직 위치가 없습니다.", lastSeen: "마지막 위치", noTrip: "진행 중인 귀가가 없습니다.", noAlerts: "알림이 없습니다.",
    noFences: "안심 구역이 없습니다.", to: "목적지", due: "도착 예정", ack: "확인했습니다 (제가 연락합니다)", acked: "보호자가 확인함",
    toOperator: "관제센터에 전달됨", safety: "교통안전", checkins: "폭염·한파 안부 확인", call: "전화할 곳",
    outcomes: { ok: "통화함: 괜찮음", no_answer: "받지 않음", need_help: "도움 필요" }, picked: "지도에서 고른 곳", home: "집", end: "귀가 종료", offRoute: "경로에서",
    status: { active: "귀가 중", arrived: "도착", ended: "종료" },
    kinds: { arrived: "집에 도착했습니다", deviation: "경로를 벗어났습니다", stopped: "오래 멈춰 있습니다", late: "도착이 늦어지고 있습니다",
      signal_lost: "신호가 끊겼습니다", sos: "긴급 호출(SOS)", escalated: "관제센터에 전달되었습니다", enter: "구역에 들어감",
      exit: "구역에서 나감", dwell: "구역에 머묾", crossed: "구역을 지나감", violation: "있어야 할 곳에 없음", wandering: "배회 의심" },
  },
  en: {
    title: "Guardian", login: "Guardian login",
    refresh: "Refresh", trip: "Safe return home", alerts: "Alerts",
    fences: "Safe zones", start: "Start the trip home", tripHint: "The destination is home. Tap the map to pick another place.",
    law: "Each look at a position is recorded (Location Information Act §16) and notified (§19).", nobody: "You look after nobody yet.",
    noPosition: "No position yet.", lastSeen: "Last position", noTrip: "No trip under way.", noAlerts: "No alerts.",
    noFences: "No safe zones.", to: "To", due: "Due", ack: "Seen: I will call", acked: "acknowledged by a guardian",
    toOperator: "passed to the control room", safety: "Traffic safety", checkins: "Heat/cold check-ins", call: "Call",
    outcomes: { ok: "Called: fine", no_answer: "No answer", need_help: "Needs help" }, picked: "place picked on the map", home: "home", end: "End the trip", offRoute: "from the route",
    status: { active: "on the way", arrived: "arrived", ended: "ended" },
    kinds: { arrived: "arrived home", deviation: "left the route", stopped: "has stopped for long", late: "is late",
      signal_lost: "signal lost", sos: "SOS", escalated: "passed to the control room", enter: "entered a zone",
      exit: "left a zone", dwell: "stays in a zone", crossed: "crossed a zone", violation: "not where they should be", wandering: "may be wandering" },
  },
};

const ctx = {
  people: [], person: null, dest: null, trip: null,
  t(key) { return T[this.lang][key] ?? key; },
  kind(k) { return T[this.lang].kinds[k] ?? k; },
};
let L = null, map = null, layers = null;

async function setUpMap() {
  try { L = await leaflet(); } catch { missingMessage($("map"), ctx.lang); return; }
  map = L.map("map", { attributionControl: false }).setView([37.55, 126.96], 15);
  addTiles(L, map);
  layers = { fences: L.layerGroup().addTo(map), route: L.layerGroup().addTo(map), me: L.layerGroup().addTo(map), pick: L.layerGroup().addTo(map) };
  map.on("click", (e) => {
    ctx.dest = { lon: e.latlng.lng, lat: e.latlng.lat, name: ctx.t("picked") };
    layers.pick.clearLayers();
    L.circleMarker(e.latlng, { radius: 7, color: "#2f6fdb" }).addTo(layers.pick);
  });
}

async function enter() {
  if (!map) await setUpMap();
  ctx.people = await ctx.api("/care/people");
  drawPeople();
  if (ctx.people.length) await choose(ctx.person ?? ctx.people[0].id);
}

function drawPeople() {
  if (!ctx.people.length) { fill($("people"), el("p", { class: "muted" }, ctx.t("nobody"))); return; }
  fill($("people"), ctx.people.map((p) => el("button", {
    type: "button", "data-person": p.id, class: p.id === ctx.person ? "selected" : "", onclick: () => choose(p.id),
  }, p.name)));
}

async function choose(id) {
  ctx.person = id; ctx.dest = null;
  drawPeople();
  await refresh(true);
}

async function refresh(fit = false) {
  if (!ctx.person) return;
  const base = `/care/people/${ctx.person}`;
  // a carer sees the person and the check-ins, not positions: what is refused is shown as empty
  const got = await Promise.allSettled([
    ctx.api(`${base}/positions?limit=1`), ctx.api(`${base}/trips`), ctx.api(`${base}/alerts`), ctx.api(`${base}/fences`),
    ctx.api(`${base}/safety-note`), ctx.api("/care/checkins"),
  ]);
  const [positions, trips, alerts, fences, safety, checkins] = got.map((r) => (r.status === "fulfilled" ? r.value : null));
  drawSafety(safety);
  drawCheckins(checkins ?? []);
  if (!positions) { drawWhere(null); drawTrip(null); drawAlerts(alerts ?? []); drawFences(fences ?? []); return; }
  const last = positions[0] ?? null;
  ctx.trip = trips[0] ?? null;
  drawWhere(last);
  drawTrip(ctx.trip);
  drawAlerts(alerts);
  drawFences(fences);
  if (map) drawMap(last, ctx.trip, fences, fit);
}

function drawWhere(last) {
  const node = $("where");
  if (!last) { node.textContent = ctx.t("noPosition"); node.dataset.at = ""; return; }
  node.dataset.at = last.at;
  node.textContent = `${ctx.t("lastSeen")}: ${when(last.at, ctx.lang, true)}` + (last.battery != null ? ` · 🔋 ${Math.round(last.battery)}%` : "");
}

function drawTrip(trip) {
  const box = $("trip");
  const active = trip?.status === "active";
  $("trip-form").hidden = active;
  box.dataset.status = trip ? trip.status : "none";
  box.dataset.escalation = trip?.escalation ?? "";
  if (!trip) { fill(box, el("p", { class: "muted" }, ctx.t("noTrip"))); return; }
  const problems = trip.raised.map((k) => el("span", { class: "badge b-problem", "data-raised": k }, ctx.kind(k)));
  fill(box,
    el("p", {}, el("span", { class: `badge b-${trip.status}` }, T[ctx.lang].status[trip.status] ?? trip.status), " ",
      `${ctx.t("to")}: ${trip.destination.name}`, active ? ` · ${ctx.t("due")} ${when(trip.dueAt, ctx.lang)}` : ""),
    problems.length ? el("p", {}, problems) : null,
    trip.escalation === "operator" ? el("p", {}, el("span", { class: "badge b-operator" }, ctx.t("toOperator"))) : null,
    trip.acknowledged ? el("p", { class: "small muted" }, ctx.t("acked")) : null,
    active && trip.escalation === "guardian" && !trip.acknowledged
      ? el("button", { type: "button", id: "ack", class: "primary", onclick: acknowledge }, ctx.t("ack")) : null,
    active ? el("button", { type: "button", id: "end-trip", onclick: endTrip }, ctx.t("end")) : null,
  );
}

function drawAlerts(alerts) {
  if (!alerts.length) { fill($("alerts"), el("p", { class: "muted" }, ctx.t("noAlerts"))); return; }
  fill($("alerts"), alerts.slice(0, 20).map((a) => el("div", { class: `item alert alert-${a.kind}`, "data-kind": a.kind },
    `${when(a.at, ctx.lang, true)} · ${ctx.kind(a.kind)}` + (a.fence ? ` (${a.fence})` : ""))));
}

function drawSafety(safety) {
  $("safety").textContent = safety ? safety.note[ctx.lang] : "—";
  $("safety").dataset.hotspots = safety ? String(safety.hotspots.length) : "";
}

function drawCheckins(tasks) {
  $("checkins-card").hidden = !tasks.length;
  const outcomes = T[ctx.lang].outcomes;
  fill($("checkins"), tasks.map((t) => el("div", { class: "item checkin", "data-checkin": t.id },
    el("p", {}, el("strong", {}, t.name), ` · ${ctx.t("due")} ${when(t.dueAt, ctx.lang)}`),
    el("p", { class: "small" }, t.guidance[ctx.lang]),
    el("p", { class: "small" }, `${ctx.t("call")}: `, t.contacts.map((c) => `${c.relation} ${c.phone ?? ""}`).join(", ")),
    Object.entries(outcomes).map(([k, label]) => el("button", { type: "button", "data-outcome": k, onclick: () => answer(t.id, k) }, label)),
  )));
}

async function answer(id, outcome) {
  await ctx.post(`/care/checkins/${id}`, { outcome });
  await refresh();
}

function drawFences(fences) {
  if (!fences.length) { fill($("fences"), el("p", { class: "muted" }, ctx.t("noFences"))); return; }
  fill($("fences"), fences.map((f) => el("div", { class: "item", "data-fence": f.id }, f.name)));
}

function drawMap(last, trip, fences, fit) {
  layers.fences.clearLayers(); layers.route.clearLayers(); layers.me.clearLayers();
  for (const f of fences) L.polygon(f.polygon.map(([x, y]) => [y, x]), { color: "#1c7c3a", weight: 2, fillOpacity: 0.08 }).addTo(layers.fences);
  if (trip?.route && trip.status === "active") {
    L.polyline(trip.route.coordinates.map(([x, y]) => [y, x]), { color: "#2f6fdb", weight: 5, opacity: 0.7, className: "trip-route" }).addTo(layers.route);
  }
  if (trip) L.circleMarker([trip.destination.lat, trip.destination.lon], { radius: 8, color: "#1c7c3a", className: "trip-dest" }).addTo(layers.route);
  if (last) L.circleMarker([last.lat, last.lon], { radius: 9, color: "#fff", weight: 3, fillColor: "#d7261e", fillOpacity: 1, className: "me" }).addTo(layers.me);
  if (fit && last) map.setView([last.lat, last.lon], 16);
  else if (last && !map.getBounds().contains([last.lat, last.lon])) map.panTo([last.lat, last.lon]);
}

async function startTrip(event) {
  event.preventDefault();
  $("trip-error").textContent = "";
  const person = ctx.people.find((p) => p.id === ctx.person);
  const dest = ctx.dest ?? (person?.home ? { ...person.home, name: ctx.t("home") } : null);
  if (!dest) { $("trip-error").textContent = ctx.t("tripHint"); return; }
  try {
    await ctx.post(`/care/people/${ctx.person}/trips`, { destLon: dest.lon, destLat: dest.lat, destName: dest.name });
    layers?.pick.clearLayers(); ctx.dest = null;
    await refresh();
  } catch (e) { $("trip-error").textContent = e.message; }
}

async function acknowledge() {
  await ctx.post(`/care/people/${ctx.person}/trips/${ctx.trip.id}/acknowledge`);
  await refresh();
}

async function endTrip() {
  await ctx.post(`/care/people/${ctx.person}/trips/${ctx.trip.id}/end`);
  await refresh();
}

// ctx.lang, ctx.token, ctx.api / ctx.post, the sign-in form: the shared shell (a 401 signs out)
const shell = signInShell(ctx, { enter, onLang: () => refresh() });
$("trip-form").addEventListener("submit", startTrip);
$("refresh").addEventListener("click", () => refresh());
// a guardian's phone polls every 20 s; each poll is a recorded provision (§16②), so not more often
setInterval(() => { if (ctx.token && !document.hidden) refresh().catch(() => {}); }, 20_000);
shell.start();
