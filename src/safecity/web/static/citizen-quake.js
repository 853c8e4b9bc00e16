// SPDX-License-Identifier: Apache-2.0
// The citizen page after an earthquake: while an earthquake incident the platform assessed is open, what to
// do once the shaking has stopped (행정안전부's action guide, reworded; its source shown) and the nearest open
// outdoor earthquake sites (지진옥외대피장소: school grounds, parks) from the chosen place, nearest first.
import { $, el } from "/static/common.js";

const T = {
  ko: { sites: "가까운 지진옥외대피장소", none: "가까운 지진옥외대피장소 정보가 없습니다.", source: "출처", quake: (m) => `규모 ${m.toFixed(1)} 지진 이후` },
  en: { sites: "Nearest outdoor earthquake sites", none: "No outdoor earthquake site nearby.", source: "Source", quake: (m) => `After the M${m.toFixed(1)} earthquake` },
};

const distance = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);

// place: {lon, lat} or null; draws into #quake-after and hides it when no earthquake is in progress
export async function afterShaking(place, lang) {
  const box = $("quake-after");
  if (!box) return;
  const q = place ? `?${new URLSearchParams({ near: `${place.lon},${place.lat}` })}` : "";
  let body = null;
  try {
    const r = await fetch(`/quake/after-shaking${q}`);
    body = r.ok ? await r.json() : null;
  } catch { body = null; }
  if (!body?.earthquake?.active) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const t = T[lang] || T.ko;
  const guide = body.guide[lang] || body.guide.ko;
  box.hidden = false;
  box.replaceChildren(
    el("p", { class: "tag" }, t.quake(body.earthquake.magnitude)),
    el("h2", {}, guide.title),
    el("ol", { class: "steps" }, ...guide.steps.map((s) => el("li", {}, s))),
    el("h3", {}, t.sites),
    body.sites.length
      ? el("ol", { class: "shelters", id: "quake-sites" }, ...body.sites.map((s) => el("li", {},
        el("strong", {}, lang === "ko" ? s.nameKo : s.nameEn), " ", el("span", { class: "dist" }, s.distanceM != null ? distance(s.distanceM) : ""),
        s.address ? el("div", { class: "muted small" }, s.address) : null)))
      : el("p", { class: "muted" }, t.none),
    el("p", { class: "muted small" }, `${t.source}: ${body.source[lang] || body.source.ko}`));
}
