// SPDX-License-Identifier: Apache-2.0
// The citizen page: the warnings in force where I am (or in the district I choose), in my language, with the
// action guide for my profile; the nearest open shelters; subscribing to my place without an account. Live:
// the warnings are fetched again whenever /alerts/stream announces an alert. No login needed.

const T = {
  ko: {
    title: "우리 동네 재난 경보", district: "구 선택", choose: "구를 고르세요", locate: "내 위치 사용",
    profile: "나에게 맞는 안내", general: "일반", elderly: "어르신", children: "어린이·보호자",
    disability: "장애인", foreigner: "외국인", shelters: "가까운 대피소", subscribe: "이 지역 경보 받기",
    subscribeText: "로그인 없이 이 위치의 경보를 받습니다. 관리용 토큰은 이 기기에만 저장됩니다.",
    subscribeButton: "이 위치 구독", feed: "경보 피드 (Atom)", other: "English", calm: "지금 이 지역에 발효 중인 경보가 없습니다.",
    here: "현재 위치", noplace: "위치를 고르면 경보와 대피소를 보여 드립니다.", subscribed: "구독했습니다. 번호",
    nolocation: "위치를 알 수 없습니다. 구를 직접 골라 주세요.", noshelter: "가까운 대피소 정보가 없습니다.",
    capacity: "수용", guide: "행동요령",
  },
  en: {
    title: "Warnings for my area", district: "District", choose: "Choose a district", locate: "Use my location",
    profile: "Guidance for me", general: "General", elderly: "Older people", children: "Children and parents",
    disability: "People with disabilities", foreigner: "Foreign residents", shelters: "Nearest shelters",
    subscribe: "Get warnings for this place",
    subscribeText: "No account needed. The token to manage it is kept on this device only.",
    subscribeButton: "Subscribe to this place", feed: "Alert feed (Atom)", other: "한국어", calm: "No warning is in force here now.",
    here: "My location", noplace: "Choose a place to see its warnings and shelters.", subscribed: "Subscribed. Number",
    nolocation: "Your location is not available. Please choose a district.", noshelter: "No shelter information nearby.",
    capacity: "capacity", guide: "What to do",
  },
};
// the language chosen before on this device, else the browser's (Korean unless it says otherwise)
let lang = localStorage.getItem("safecity.lang") || ((navigator.language || "ko").startsWith("ko") ? "ko" : "en");
let place = null; // {lon, lat} or {district, lon, lat}
let districts = [];
const $ = (id) => document.getElementById(id);
const t = (k) => T[lang][k] ?? k;
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
};

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("lang").textContent = t("other");
  fillDistricts();
}

async function loadDistricts() {
  const r = await fetch("/ogcapi/collections/districts/items?limit=1000");
  const fc = await r.json();
  districts = fc.features.map((f) => {
    const c = centroid(f.geometry);
    return { code: f.properties.code, ko: f.properties.name_ko, en: f.properties.name_en || f.properties.name_ko, lon: c[0], lat: c[1] };
  }).sort((a, b) => a.ko.localeCompare(b.ko, "ko"));
  fillDistricts();
}

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

async function show() {
  const box = $("warnings");
  if (!place) {
    box.replaceChildren(el("p", { class: "calm" }, t("noplace")));
    return;
  }
  const q = new URLSearchParams({ lang, audience: $("audience").value });
  if (place.district) q.set("district", place.district);
  else { q.set("lon", place.lon); q.set("lat", place.lat); }
  const r = await fetch(`/alerts/current?${q}`);
  const { warnings } = await r.json();
  if (!warnings.length) box.replaceChildren(el("p", { class: "calm" }, t("calm")));
  else box.replaceChildren(...warnings.map((w) => el("article", { class: `warning level-${w.level ?? 3}` },
    el("div", { class: "tag" }, `${w.category} · ${new Date(w.sent).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB", { timeZone: "Asia/Seoul" })}`),
    el("h2", {}, w.headline),
    el("p", {}, w.description),
    el("div", { class: "guide" }, el("strong", {}, `${t("guide")}: ${w.guide.title}`), el("ul", {}, ...w.guide.lines.slice(0, 8).map((line) => el("li", {}, line)))))));
  await shelters();
}

async function shelters() {
  const list = $("shelters");
  const q = new URLSearchParams({ near: `${place.lon},${place.lat}`, open: "true", has_space: "true", limit: "5" });
  const r = await fetch(`/shelters?${q}`);
  const fc = await r.json();
  if (!fc.features?.length) {
    list.replaceChildren(el("li", {}, t("noshelter")));
    return;
  }
  list.replaceChildren(...fc.features.map((f) => {
    const p = f.properties;
    const name = lang === "ko" ? p.name_ko : p.name_en || p.name_ko;
    const metres = p.distance_m != null ? ` · ${Math.round(p.distance_m)} m` : "";
    return el("li", {}, `${name}${metres} · ${t("capacity")} ${p.capacity}`);
  }));
}

function choose(code) {
  const d = districts.find((x) => x.code === code);
  place = d ? { district: d.code, lon: d.lon, lat: d.lat } : null;
  $("place").textContent = d ? (lang === "ko" ? d.ko : d.en) : "";
  show();
}

function locate() {
  if (!navigator.geolocation) { $("place").textContent = t("nolocation"); return; }
  navigator.geolocation.getCurrentPosition((pos) => {
    place = { lon: pos.coords.longitude, lat: pos.coords.latitude };
    $("place").textContent = `${t("here")} (${place.lat.toFixed(4)}, ${place.lon.toFixed(4)})`;
    show();
  }, () => { $("place").textContent = t("nolocation"); });
}

async function subscribe() {
  if (!place) { $("subscribed").textContent = t("noplace"); return; }
  const body = { kind: "anonymous", language: lang, audience: $("audience").value, channels: [{ channel: "sse" }], areas: [{ kind: "point", lon: place.lon, lat: place.lat }] };
  const r = await fetch("/subscriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await r.json();
  if (!r.ok) { $("subscribed").textContent = answer.message || String(r.status); return; }
  localStorage.setItem(`safecity.subscription.${answer.id}`, answer.token || "");
  $("subscribed").textContent = `${t("subscribed")} ${answer.id}`;
}

function listen() {
  const source = new EventSource("/alerts/stream");
  source.addEventListener("alert", () => show());
}

$("lang").addEventListener("click", () => { lang = lang === "ko" ? "en" : "ko"; localStorage.setItem("safecity.lang", lang); translate(); show(); });
$("district").addEventListener("change", (e) => choose(e.target.value));
$("audience").addEventListener("change", () => show());
$("locate").addEventListener("click", locate);
$("subscribe").addEventListener("click", subscribe);
translate();
const params = new URLSearchParams(location.search);
loadDistricts().then(() => {
  if (params.get("district")) { $("district").value = params.get("district"); choose(params.get("district")); }
  else if (params.get("lon") && params.get("lat")) { place = { lon: Number(params.get("lon")), lat: Number(params.get("lat")) }; show(); }
  else show();
});
listen();
