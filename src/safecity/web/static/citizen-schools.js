// SPDX-License-Identifier: Apache-2.0
// The citizen page's school zones (어린이보호구역) around the chosen place: the zones of the public OGC API
// layer "school-zones" within about 1 km, drawn on the map and listed nearest first, with the rules a
// driver keeps inside one (도로교통법 §12: 30 km/h; parking and stopping banned) and each zone's source
// (zones derived from OpenStreetMap say so, with the ODbL attribution they carry).
import { $, el } from "/static/common.js";

const T = {
  ko: {
    title: "가까운 어린이보호구역", none: "1 km 안에 어린이보호구역 정보가 없습니다.", inside: "지금 고른 곳은 어린이보호구역 안입니다.",
    rules: "어린이보호구역에서는 시속 30 km 이하로 다니고, 주정차가 금지됩니다. 아이들이 갑자기 뛰어나올 수 있습니다.",
    source: "출처", derived: "OpenStreetMap에서 추정한 구역 (공식 지정 구역이 아님)", generated: "생성된 시험 자료",
  },
  en: {
    title: "School zones nearby", none: "No school zone within 1 km.", inside: "The chosen place is inside a school zone.",
    rules: "In a school zone drive at 30 km/h or less; stopping and parking are banned. Children may run out suddenly.",
    source: "Source", derived: "estimated from OpenStreetMap (not the officially designated zone)", generated: "generated test data",
  },
};

const distance = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);

/** Metres from a point to the nearest vertex of a zone's outline (a zone is a few hundred metres wide). */
function metres(place, feature) {
  const rings = feature.geometry.type === "Polygon" ? [feature.geometry.coordinates] : feature.geometry.coordinates;
  const k = Math.cos((place.lat * Math.PI) / 180);
  let best = Infinity;
  for (const poly of rings) for (const [x, y] of poly[0]) best = Math.min(best, Math.hypot((x - place.lon) * k, y - place.lat) * 111195);
  return best;
}

function inside(place, feature) {
  const rings = feature.geometry.type === "Polygon" ? [feature.geometry.coordinates] : feature.geometry.coordinates;
  return rings.some((poly) => {
    let hit = false;
    const ring = poly[0];
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > place.lat) !== (yj > place.lat) && place.lon < ((xj - xi) * (place.lat - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  });
}

// place: {lon, lat} or null; L, layer: Leaflet and the layer group to draw into (null without a map)
export async function schoolZones(place, lang, L, layer) {
  const box = $("school-zones");
  if (!box) return;
  layer?.clearLayers();
  const t = T[lang] || T.ko;
  if (!place) { box.hidden = true; return; }
  const d = 0.012;
  const bbox = [place.lon - d, place.lat - d, place.lon + d, place.lat + d].join(",");
  let features = [];
  try {
    const r = await fetch(`/ogcapi/collections/school-zones/items?bbox=${bbox}&limit=100`, { headers: { Accept: "application/geo+json" } });
    features = r.ok ? (await r.json()).features ?? [] : [];
  } catch { features = []; }
  const near = features.map((f) => ({ f, m: inside(place, f) ? 0 : metres(place, f) })).filter((z) => z.m <= 1000).sort((a, b) => a.m - b.m);
  box.hidden = false;
  const here = near.some((z) => z.m === 0);
  const label = (p) => (p.generated ? t.generated : String(p.source || "").startsWith("derived from OpenStreetMap") ? t.derived : p.source);
  // replaceChildren would write a null as the text "null": leave the absent parts out
  box.replaceChildren(...[
    el("h2", {}, t.title),
    here ? el("p", { class: "school-inside", id: "school-inside" }, t.inside) : null,
    near.length ? el("p", { class: "small" }, t.rules) : el("p", { class: "muted" }, t.none),
    el("ul", { class: "school-zones" }, near.slice(0, 5).map(({ f, m }) => el("li", { "data-zone": f.id },
      `${f.properties.name} · ${m === 0 ? "0 m" : distance(m)}`,
      el("span", { class: "small muted" }, ` — ${t.source}: ${label(f.properties)}`)))),
    near.some(({ f }) => String(f.properties.source || "").includes("OpenStreetMap"))
      ? el("p", { class: "small muted attribution" }, "© OpenStreetMap contributors (ODbL 1.0)") : null,
  ].filter(Boolean));
  if (L && layer) {
    for (const { f } of near) {
      L.geoJSON(f, { style: { color: "#f2c200", weight: 2, fillColor: "#f2c200", fillOpacity: 0.15, className: "school-zone" }, interactive: false }).addTo(layer);
    }
  }
}
