// SPDX-License-Identifier: Apache-2.0
// Parts of the alert dialog beside the texts: the target area on a map (the CAP areas over the city's
// districts, in the alert's severity colour), the delivery counts of an issued alert per channel and status
// (GET /alerts/{id}/deliveries), and the checks an operator must see before issuing (text problems, and
// where the Korean and English texts do not say the same), refreshed while they edit (POST .../check).
import { el, fill, leaflet, capAreas, infoFor, SEVERITY_COLOUR, COLOURS } from "/static/common.js";

const V = {
  ko: {
    area: "대상 지역", deliveries: "발송 현황", channel: "채널", none: "발송 대상이 없습니다.", total: "합계",
    status: { queued: "대기", retrying: "재시도", sent: "전송", delivered: "전달", failed: "실패", expired: "만료", cancelled: "취소" },
    channels: { sse: "웹 실시간", webhook: "웹훅", email: "이메일", sms: "문자", mastodon: "마스토돈", webpush: "푸시 알림" },
    problems: "발령 전에 고칠 문제", disagree: "한국어와 영어 문구가 같은 내용을 말하지 않습니다", ok: "문구 점검: 문제 없음",
  },
  en: {
    area: "Target area", deliveries: "Deliveries", channel: "Channel", none: "Nobody to deliver to.", total: "Total",
    status: { queued: "queued", retrying: "retrying", sent: "sent", delivered: "delivered", failed: "failed", expired: "expired", cancelled: "cancelled" },
    channels: { sse: "web live", webhook: "webhook", email: "e-mail", sms: "SMS", mastodon: "Mastodon", webpush: "push" },
    problems: "Problems to fix before issuing", disagree: "The Korean and English texts do not say the same", ok: "Text check: no problem",
  },
};
const ORDER = ["queued", "retrying", "sent", "delivered", "failed", "expired", "cancelled"];

let districts = null;

// A map of the alert's areas in `box` (call once the dialog is open: Leaflet measures its container).
export async function drawAreaMap(box, cap, lang) {
  let L;
  try {
    L = await leaflet();
  } catch {
    box.remove();
    return;
  }
  districts ??= fetch("/ogcapi/collections/districts/items?limit=1000").then((r) => (r.ok ? r.json() : null));
  const fc = await districts;
  const map = L.map(box, { zoomSnap: 0.25, attributionControl: false });
  if (fc?.features?.length) L.geoJSON(fc, { style: { color: "#8a99a8", weight: 0.8, fillColor: "#eef2f6", fillOpacity: 0.8 }, interactive: false }).addTo(map);
  const info = infoFor(cap, lang);
  const colour = SEVERITY_COLOUR[info?.severity] || COLOURS[3];
  const style = { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.35, className: "composer-area" };
  const shapes = capAreas(info || {}).map((a) => (a.kind === "polygon" ? L.polygon(a.points, style) : L.circle([a.lat, a.lon], { ...style, radius: a.radiusM })));
  const group = L.featureGroup(shapes).addTo(map);
  if (shapes.length) map.fitBounds(group.getBounds(), { padding: [12, 12], maxZoom: 15 });
  else map.setView([37.55, 126.98], 10);
}

export function areaSection(lang) {
  const box = el("div", { class: "area-map" });
  return { box, section: el("section", { class: "area-view" }, el("h3", {}, V[lang].area), box) };
}

// delivery counts per channel and status, as a table
export async function deliveriesSection(ctx, identifier) {
  const v = V[ctx.lang];
  const got = await ctx.api(`/alerts/${encodeURIComponent(identifier)}/deliveries`);
  const channels = Object.keys(got.channels).sort();
  const statuses = ORDER.filter((s) => channels.some((c) => got.channels[c][s]));
  const head = el("tr", {}, el("th", {}, v.channel), ...statuses.map((s) => el("th", {}, v.status[s] ?? s)), el("th", {}, v.total));
  const row = (name, counts) => el("tr", { "data-channel": name }, el("td", {}, v.channels[name] ?? name),
    ...statuses.map((s) => el("td", { class: `n ${s}` }, String(counts[s] ?? 0))),
    el("td", { class: "n" }, String(Object.values(counts).reduce((a, b) => a + b, 0))));
  const body = channels.length ? [row(v.total, got.total), ...channels.map((c) => row(c, got.channels[c]))].reverse() : [];
  return el("section", { class: "deliveries" }, el("h3", {}, v.deliveries),
    channels.length ? el("table", { class: "counts-table" }, el("thead", {}, head), el("tbody", {}, ...body)) : el("p", { class: "muted" }, v.none));
}

// problems (block automatic issue) and ko/en disagreements (warnings), as the API reports them
export function renderChecks(box, lang, check) {
  const v = V[lang];
  const problems = check?.problems ?? [];
  const disagreements = check?.disagreements ?? [];
  if (!check || (!("problems" in check) && !("disagreements" in check))) { box.replaceChildren(); return; }
  fill(box,
    problems.length ? el("div", { class: "check problems", role: "alert" }, el("strong", {}, v.problems), el("ul", {}, ...problems.map((p) => el("li", {}, p)))) : null,
    disagreements.length ? el("div", { class: "check disagree", role: "alert" }, el("strong", {}, v.disagree), el("ul", {}, ...disagreements.map((p) => el("li", {}, p)))) : null,
    !problems.length && !disagreements.length ? el("div", { class: "check ok" }, v.ok) : null);
}
