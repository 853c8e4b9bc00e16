// SPDX-License-Identifier: Apache-2.0
// The earthquake panel of the situation room: for the latest open earthquake incident, its expected damage
// (GET /quake/incidents/{id}): the totals, the buildings to inspect first (click: the map goes there),
// shelter demand against capacity per dong; and on the map, in its own switchable layer, the damage map
// (the public quake-damage collection: share of buildings at extensive or complete damage per cell), the
// buildings to inspect, the collapse cordons and the walk out of each. Everything says when the building
// inventory is generated (synthetic).
import { $, el, fill } from "/static/common.js";

const T = {
  ko: {
    quake: "지진 피해 추정", computing: "피해를 계산하는 중입니다…", generated: "생성된 가상 건물 자료로 계산한 추정치입니다(실제 건물 아님).",
    modelNote: "모델 추정(Hazus 취약도): 실제 피해가 아니라 먼저 살펴볼 곳의 순위입니다.",
    quakeLine: (q, n) => `규모 ${q.magnitude.toFixed(1)} · 진앙 ${q.lat.toFixed(2)}N ${q.lon.toFixed(2)}E · 깊이 ${q.depthKm}km · ${q.fittedToReadings ? `가속도계 ${q.stations}곳으로 추정` : "통보문 기준"} · 건물 ${n.toLocaleString("ko-KR")}동`,
    complete: "완전 피해", collapses: "붕괴", killed: "사망", injured: "부상", displaced: "거주 불능", shelter: "대피소 수요",
    inspect: "우선 점검 건물 (붕괴 확률 × 재실 인원)", rank: "순위", where: "위치", type: "구조", pc: "붕괴 확률", people: "재실", floors: "층",
    cordons: (n) => `붕괴 우려 통제구역 ${n}곳 (예측)`, walk: (s, m) => `${s}까지 도보 ${Math.round(m / 60)}분`,
    shelterHead: "행정동별 대피소 수요 / 수용 가능 인원", short: "부족", dongsShort: (n) => `수용 부족 행정동 ${n}곳`,
    cell: (p) => `건물 ${p.buildings}동 · 심한 피해 이상 ${(100 * (p.p_extensive + p.p_complete)).toFixed(1)}% · 예상 붕괴 ${p.collapses.toFixed(1)}동 · 최대 ${(p.pga_max_g * 980.665).toFixed(0)}gal (진도 ${p.kma_intensity})`,
  },
  en: {
    quake: "Earthquake damage", computing: "Computing the damage…", generated: "Computed on a generated (synthetic) building inventory, not real buildings.",
    modelNote: "A model's expectation (Hazus fragilities): a ranking of where to look first, not observed damage.",
    quakeLine: (q, n) => `M${q.magnitude.toFixed(1)} · epicentre ${q.lat.toFixed(2)}N ${q.lon.toFixed(2)}E · depth ${q.depthKm} km · ${q.fittedToReadings ? `placed from ${q.stations} accelerometers` : "from the agency's message"} · ${n.toLocaleString("en-GB")} buildings`,
    complete: "complete damage", collapses: "collapsed", killed: "killed", injured: "injured", displaced: "displaced", shelter: "shelter demand",
    inspect: "Buildings to inspect first (collapse probability × occupants)", rank: "#", where: "Where", type: "Type", pc: "P(collapse)", people: "People", floors: "floors",
    cordons: (n) => `${n} cordons around likely collapses (predicted)`, walk: (s, m) => `${Math.round(m / 60)} min walk to ${s}`,
    shelterHead: "Shelter demand / places per dong", short: "short", dongsShort: (n) => `${n} dongs short of places`,
    cell: (p) => `${p.buildings} buildings · ${(100 * (p.p_extensive + p.p_complete)).toFixed(1)}% extensive or worse · ${p.collapses.toFixed(1)} expected collapses · max ${(p.pga_max_g * 980.665).toFixed(0)} gal (intensity ${p.kma_intensity})`,
  },
};
// share of buildings at extensive or complete damage -> colour (5 classes, light to dark red)
const SHARE_CLASSES = [[0.2, "#67000d"], [0.1, "#cb181d"], [0.05, "#fb6a4a"], [0.02, "#fcae91"], [0, "#fee5d9"]];
const shareColour = (s) => SHARE_CLASSES.find(([min]) => s >= min)[1];
const fmt = (n, lang) => Math.round(n).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB");

export class QuakePanel {
  constructor(ctx, map) {
    this.ctx = ctx;
    this.map = map;
    this.report = null;
    this.shown = null; // assessmentId drawn on the map
  }

  t(key) { return T[this.ctx.lang][key]; }

  // called after every board refresh: the latest open earthquake incident, if any
  async update() {
    const card = $("quake-card");
    const incident = (this.ctx.board?.incidents || []).filter((i) => i.hazard === "earthquake").sort((a, b) => b.id - a.id)[0];
    if (!incident) {
      card.hidden = true;
      this.report = null;
      this.clearMap();
      return;
    }
    card.hidden = false;
    try {
      this.report = await this.ctx.api(`/quake/incidents/${incident.id}`);
    } catch {
      this.report = null; // not assessed yet (404): the incident's note and the stream will bring it
    }
    this.render();
    if (this.report && this.report.assessmentId !== this.shown) await this.draw();
  }

  render() {
    const box = $("quake");
    const lang = this.ctx.lang;
    $("quake-title").textContent = this.t("quake");
    const r = this.report;
    if (!r) {
      fill(box, el("p", { class: "muted" }, this.t("computing")));
      return;
    }
    const total = r.total;
    const cas = total.casualties;
    const injured = cas.minor_injury + cas.hospitalised + cas.life_threatening;
    const fig = (n, key) => el("div", { class: "count" }, el("strong", {}, fmt(n, lang)), el("span", {}, this.t(key)));
    const rows = r.inspections.slice(0, 10).map((b) => el("tr", { "data-building": b.id, tabindex: "0", onclick: () => this.focus(b), onkeydown: (e) => { if (e.key === "Enter") this.focus(b); } },
      el("td", {}, String(b.rank)),
      el("td", {}, (lang === "ko" ? b.dongKo : b.dongEn) || b.dong || b.district),
      el("td", {}, `${b.hazusType} · ${b.floors}${lang === "ko" ? "층" : ` ${this.t("floors")}`}`),
      el("td", { class: "num" }, `${(100 * b.collapseProbability).toFixed(1)}%`),
      el("td", { class: "num" }, fmt(b.occupants, lang))));
    const short = r.shelterDemand.filter((s) => s.shortfall > 0).slice(0, 5);
    const shelters = (short.length ? short : r.shelterDemand.slice(0, 5)).map((s) => el("li", {},
      `${lang === "ko" ? s.nameKo : s.nameEn}: ${fmt(s.demand, lang)} / ${fmt(s.capacity, lang)}`,
      s.shortfall > 0 ? el("span", { class: "tag stale" }, ` ${this.t("short")} ${fmt(s.shortfall, lang)}`) : null));
    const walks = (r.routes || []).filter((w) => w.shelter).length;
    fill(box,
      el("p", { class: "small" }, this.t("quakeLine")(r.earthquake, r.buildings)),
      r.generated ? el("p", { class: "note demo small" }, this.t("generated")) : null,
      el("div", { class: "counts" }, fig(total.by_state.complete, "complete"), fig(total.collapses, "collapses"), fig(cas.killed, "killed"),
        fig(injured, "injured"), fig(total.displaced, "displaced"), fig(r.shelterTotals.demand, "shelter")),
      el("h3", {}, this.t("inspect")),
      el("table", { class: "grid inspect", id: "quake-inspect" },
        el("thead", {}, el("tr", {}, ...["rank", "where", "type", "pc", "people"].map((k) => el("th", {}, this.t(k))))),
        el("tbody", {}, ...rows)),
      el("p", { class: "small" }, this.t("cordons")(r.cordons.length), walks ? ` · ${walks} ${lang === "ko" ? "곳 대피 경로" : "walks out"}` : ""),
      el("h3", {}, this.t("shelterHead")),
      r.shelterTotals.dongsShort ? el("p", { class: "small" }, this.t("dongsShort")(r.shelterTotals.dongsShort)) : null,
      el("ul", { class: "health", id: "quake-shelters" }, ...shelters),
      el("p", { class: "muted small" }, this.t("modelNote")));
  }

  layer() {
    const m = this.map;
    if (!m?.map) return null;
    if (!m.layers.quake) {
      m.map.createPane("quakePane").style.zIndex = 410;
      m.layers.quake = m.L.layerGroup().addTo(m.map);
      m.relabel();
    }
    return m.layers.quake;
  }

  clearMap() {
    this.map?.layers.quake?.clearLayers();
    this.shown = null;
  }

  async draw() {
    const layer = this.layer();
    if (!layer) return;
    const L = this.map.L;
    const r = this.report;
    const cells = await fetch(`/ogcapi/collections/quake-damage/items?incident_id=${r.incidentId}&limit=1000`).then((x) => x.json());
    layer.clearLayers();
    L.geoJSON(cells, {
      pane: "quakePane",
      style: (f) => {
        const p = f.properties;
        return { weight: 0, fillOpacity: 0.55, fillColor: shareColour(p.p_extensive + p.p_complete), className: "quake-cell" };
      },
      onEachFeature: (f, shape) => shape.bindTooltip(() => this.t("cell")(f.properties), { sticky: true }),
    }).addTo(layer);
    for (const c of r.cordons) {
      L.circle([c.lat, c.lon], { radius: c.radiusM, color: "#d7261e", weight: 2, dashArray: "4 3", fillOpacity: 0.15, className: "quake-cordon" }).addTo(layer);
    }
    for (const w of r.routes || []) {
      if (!w.geometry) continue;
      const name = this.ctx.lang === "ko" ? w.shelter.nameKo : w.shelter.nameEn;
      L.polyline(w.geometry.coordinates.map(([x, y]) => [y, x]), { color: "#1b5e20", weight: 3, className: "quake-route" })
        .bindTooltip(this.t("walk")(name, w.durationS)).addTo(layer);
    }
    for (const b of r.inspections) {
      L.circleMarker([b.lat, b.lon], { pane: "pointsPane", radius: 5, color: "#14202e", weight: 1.5, fillColor: "#d7261e", fillOpacity: 1, className: "quake-inspect" })
        .bindTooltip(`${b.rank}. ${b.hazusType} · ${(100 * b.collapseProbability).toFixed(1)}% · ${fmt(b.occupants, this.ctx.lang)}`)
        .addTo(layer);
    }
    this.shown = r.assessmentId;
  }

  focus(b) {
    this.map?.map?.setView([b.lat, b.lon], 16);
  }
}
