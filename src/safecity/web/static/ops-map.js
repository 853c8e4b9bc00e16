// SPDX-License-Identifier: Apache-2.0
// The dashboard's map: the city's own vector layers as the base (no tiles, no other host), each layer
// switchable in the layer control: districts coloured by crisis level, the rivers, sensors (latest value, state,
// stale; click for the chart), facilities, shelters, 119 safety centres, hospitals, schools (each only
// when the platform has the collection), open incidents, and the areas of the alerts in force.
import { el, when, leaflet, missingMessage, addTiles, waterLayer, COLOURS, SEVERITY_COLOUR, capAreas, infoFor } from "/static/common.js";

// geo layers the demo city (or a city's import) may hold: collection id -> marker look
const POINT_LAYERS = {
  facilities: { colour: "#6b4fa0", radius: 4, shape: "square" },
  fire_stations: { colour: "#c62828", radius: 5, shape: "square" },
  hospitals: { colour: "#00897b", radius: 5, shape: "square" },
  schools: { colour: "#8d6e63", radius: 4, shape: "square" },
};
// shelters, facilities and the like number in the hundreds: off until asked for, so sensors and incidents stay readable
const ON_BY_DEFAULT = new Set(["districts", "sensors", "incidents", "alerts", "floodForecast"]);
// the flood forecast's depth classes (m, lower bound) and their colours: light to dark blue
const FLOOD_COLOURS = { 0.05: "#90caf9", 0.15: "#42a5f5", 0.3: "#1565c0", 0.6: "#0d2c6b" };

async function json(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

// every page of a SensorThings collection (the server pages at $top)
async function staAll(ctx, path) {
  const out = [];
  let next = path;
  while (next) {
    const page = await ctx.api(next);
    out.push(...page.value);
    const link = page["@iot.nextLink"];
    next = link ? (() => { const u = new URL(link, location.href); return u.pathname + u.search; })() : null;
  }
  return out;
}

export class MapView {
  constructor(ctx, box) {
    this.ctx = ctx;
    this.box = box;
    this.L = null;
    this.map = null;
    this.layers = {};
    this.control = null;
    this.collections = new Set();
    this.things = [];
    this.health = new Map();
    this.alertCache = new Map();
  }

  async init() {
    if (this.map) return;
    try {
      this.L = await leaflet();
    } catch {
      missingMessage(this.box, this.ctx.lang);
      return;
    }
    const L = this.L;
    this.map = L.map(this.box, { preferCanvas: false, zoomSnap: 0.25, attributionControl: false }).setView([37.55, 126.98], 11);
    addTiles(L, this.map);
    this.map.createPane("alertsPane").style.zIndex = 420;
    this.map.createPane("pointsPane").style.zIndex = 620;
    // sensors above the incident pins that sit on them: a click on a gauge must reach the gauge
    this.map.createPane("sensorsPane").style.zIndex = 640;
    const { collections } = await json("/ogcapi/collections");
    // a point layer is offered only when it holds something (an empty collection has no extent)
    this.collections = new Set(collections.filter((c) => c.extent).map((c) => c.id));
    for (const key of ["districts", "floodForecast", "alerts", "shelters", ...Object.keys(POINT_LAYERS), "sensors", "incidents"]) {
      if (key in POINT_LAYERS && !this.collections.has(key)) continue;
      this.layers[key] = L.layerGroup();
      if (ON_BY_DEFAULT.has(key)) this.layers[key].addTo(this.map);
    }
    await this.drawDistricts();
    const water = await waterLayer(L, this.map, (p) => this.districtName(p));
    if (water) {
      const { districts, ...others } = this.layers;  // listed right after the districts in the control
      this.layers = { districts, rivers: water.addTo(this.map), ...others };
    }
    await Promise.all([this.drawPoints(), this.drawShelters(), this.refreshData()]);
    this.relabel();
    this.map.on("click", () => this.map.closePopup());
  }

  relabel() {
    if (!this.map) return;
    if (this.control) this.control.remove();
    const overlays = {};
    for (const [key, layer] of Object.entries(this.layers)) overlays[this.ctx.layerName(key)] = layer;
    this.control = this.L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(this.map);
    this.control.getContainer().classList.add("layers");
    this.districtLayer?.eachLayer((layer) => layer.setTooltipContent(this.districtName(layer.feature.properties)));
    this.update();
    this.drawSensors();
    this.drawAlerts();
  }

  // "Thing name: property" of a datastream on the map, for lists that only carry its id
  streamName(id) {
    for (const thing of this.things) {
      const d = (thing.Datastreams || []).find((x) => x["@iot.id"] === id);
      if (d) return `${(this.ctx.lang === "ko" && thing.properties?.name_ko) || thing.name}: ${this.ctx.propName(d.ObservedProperty) || d.name}`;
    }
    return null;
  }

  districtName(p) {
    return this.ctx.lang === "ko" ? p.name_ko : p.name_en || p.name_ko;
  }

  levelOf(code) {
    return this.ctx.board?.districts.find((d) => d.code === code)?.level ?? 0;
  }

  async drawDistricts() {
    const L = this.L;
    const districts = await json("/ogcapi/collections/districts/items?limit=1000");
    this.districtLayer = L.geoJSON(districts, {
      style: (f) => this.districtStyle(f),
      onEachFeature: (f, layer) => layer.bindTooltip(this.districtName(f.properties), { sticky: true, className: "dtip" }),
    });
    this.layers.districts.clearLayers();
    this.layers.districts.addLayer(this.districtLayer);
    if (districts.features.length) this.map.fitBounds(this.districtLayer.getBounds(), { padding: [6, 6] });
  }

  districtStyle(f) {
    const level = this.levelOf(f.properties.code);
    return { color: "#41536a", weight: 1, fillOpacity: level ? 0.62 : 0.35, fillColor: COLOURS[level], className: `district level-${level}` };
  }

  // called after every board refresh: district colours and incidents follow the board at once
  update() {
    if (!this.map) return;
    this.districtLayer?.eachLayer((layer) => {
      const style = this.districtStyle(layer.feature);
      layer.setStyle(style);
      // setStyle leaves className alone: the level class (for styling and tests) is moved by hand
      const path = layer.getElement?.();
      if (path) {
        for (const c of [...path.classList]) if (c.startsWith("level-")) path.classList.remove(c);
        path.classList.add(`level-${this.levelOf(layer.feature.properties.code)}`);
      }
    });
    this.drawIncidents();
    this.drawSensors();
  }

  // sensor values, health and alert areas: fetched again on a slower beat than the board
  async refreshData() {
    if (!this.map) return;
    const things = await staAll(this.ctx, "/sta/v1.1/Things?$top=1000&$select=id,name,properties"
      + "&$expand=Locations($select=location),Datastreams($select=id,name,unitOfMeasurement;$expand=ObservedProperty($select=name,definition),"
      + "Observations($top=1;$orderby=phenomenonTime%20desc;$select=result,phenomenonTime))");
    this.things = things;
    const health = await this.ctx.api("/sensing/health");
    this.ctx.health = health;
    this.health = new Map(health.problems.map((p) => [p.datastream, p.state]));
    this.drawSensors();
    await Promise.all([this.drawAlerts(), this.drawFloodForecast()]);
  }

  // the latest flood forecast's predicted depth areas (OGC API collection flood-forecast)
  async drawFloodForecast() {
    const layer = this.layers.floodForecast;
    if (!layer) return;
    const fc = await json("/ogcapi/collections/flood-forecast/items?limit=100");
    layer.clearLayers();
    for (const f of fc.features) {
      const p = f.properties;
      const colour = FLOOD_COLOURS[p.depth_min_m] || "#1565c0";
      const cm = (m) => Math.round(m * 100);
      const range = p.depth_max_m ? `${cm(p.depth_min_m)}–${cm(p.depth_max_m)} cm` : `≥ ${cm(p.depth_min_m)} cm`;
      const until = when(p.valid_until, this.ctx.lang, true);
      this.L.geoJSON(f, { style: { color: colour, weight: 0.5, fillColor: colour, fillOpacity: 0.45 } })
        .bindTooltip(`${this.ctx.layerName("floodForecast")}: ${range} (${this.ctx.lang === "ko" ? "예측 기한" : "until"} ${until})`, { sticky: true })
        .addTo(layer);
    }
  }

  sensorLevel(streamIds) {
    let level = 0;
    for (const c of this.ctx.board?.conditions || []) {
      if (c.datastreams.some((d) => streamIds.includes(d))) level = Math.max(level, c.level);
    }
    return level;
  }

  drawSensors() {
    const layer = this.layers.sensors;
    if (!layer) return;
    const L = this.L;
    const t = (k) => this.ctx.t(k);
    layer.clearLayers();
    for (const thing of this.things) {
      const loc = thing.Locations?.[0]?.location;
      if (!loc || loc.type !== "Point") continue;
      const [lon, lat] = loc.coordinates;
      const streams = thing.Datastreams || [];
      const ids = streams.map((d) => d["@iot.id"]);
      const states = streams.map((d) => this.health.get(d["@iot.id"]) || "ok");
      const state = states.includes("stale") ? "stale" : states.includes("suspect") ? "suspect" : "ok";
      const level = this.sensorLevel(ids);
      const name = (this.ctx.lang === "ko" && thing.properties?.name_ko) || thing.name;
      const lines = streams.map((d) => {
        const o = d.Observations?.[0];
        const unit = this.ctx.unit(d.unitOfMeasurement?.symbol);
        const value = o ? `${o.result}${unit ? ` ${unit}` : ""} (${when(o.phenomenonTime, this.ctx.lang)})` : t("noData");
        return `${this.ctx.propName(d.ObservedProperty) || d.name}: ${value}`;
      });
      const marker = L.circleMarker([lat, lon], {
        pane: "sensorsPane", radius: level ? 7 : 5, weight: state === "ok" ? 1.5 : 2.5,
        color: state === "stale" ? "#7a8794" : state === "suspect" ? "#8e24aa" : "#14202e",
        dashArray: state === "stale" ? "2 3" : null,
        fillColor: state === "stale" ? "#e3e7ec" : level ? COLOURS[level] : "#ffffff", fillOpacity: 1,
        className: `sensor sensor-${state} level-${level}`,
      });
      marker.bindTooltip([name, ...lines, `${t("state")}: ${t(state)}`].join("\n"), { className: "stip" });
      marker.on("click", (e) => {
        L.DomEvent.stopPropagation(e);
        if (streams.length === 1) this.ctx.openChart(streams[0]["@iot.id"]);
        else {
          const box = el("div", { class: "pick" }, el("strong", {}, name),
            ...streams.map((d) => el("button", { type: "button", class: "link", onclick: () => { this.map.closePopup(); this.ctx.openChart(d["@iot.id"]); } }, this.ctx.propName(d.ObservedProperty) || d.name)));
          L.popup().setLatLng([lat, lon]).setContent(box).openOn(this.map);
        }
      });
      marker.feature = { datastreams: ids };
      layer.addLayer(marker);
    }
  }

  drawIncidents() {
    const layer = this.layers.incidents;
    if (!layer) return;
    const L = this.L;
    layer.clearLayers();
    for (const inc of this.ctx.board?.incidents || []) {
      if (!inc.location) continue;
      const icon = L.divIcon({ className: `incident-pin level-${inc.level}`, html: "", iconSize: [22, 22], iconAnchor: [11, 11] });
      const title = this.ctx.lang === "ko" ? inc.titleKo : inc.titleEn;
      const m = L.marker([inc.location.lat, inc.location.lon], { icon, pane: "pointsPane", title: `#${inc.id} ${title}`, keyboard: true });
      m.bindTooltip(`#${inc.id} ${title} · ${this.ctx.levelName(inc.level)}`);
      m.on("click", () => this.ctx.openIncident(inc.id));
      layer.addLayer(m);
    }
  }

  async drawAlerts() {
    const layer = this.layers.alerts;
    if (!layer) return;
    const L = this.L;
    const wanted = this.ctx.issued || [];
    for (const a of wanted) {
      if (!this.alertCache.has(a.identifier)) this.alertCache.set(a.identifier, await json(`/alerts/${encodeURIComponent(a.identifier)}.json`));
    }
    layer.clearLayers();
    for (const a of wanted) {
      const cap = this.alertCache.get(a.identifier);
      const info = infoFor(cap, this.ctx.lang);
      const colour = SEVERITY_COLOUR[info.severity] || SEVERITY_COLOUR.Unknown;
      const popup = el("div", { class: "alert-pop" }, el("strong", {}, info.headline || info.event), el("div", {}, `${info.event} · ${info.severity} · ${info.urgency}`),
        el("div", { class: "muted" }, when(cap.sent, this.ctx.lang, true)), el("a", { href: `/alerts/${encodeURIComponent(a.identifier)}.xml`, target: "_blank" }, "CAP XML"));
      const style = { pane: "alertsPane", color: colour, weight: 3, dashArray: "8 5", fillColor: colour, fillOpacity: 0.12, className: `alert-area severity-${info.severity}` };
      for (const area of capAreas(info)) {
        const shape = area.kind === "polygon" ? L.polygon(area.points, style) : L.circle([area.lat, area.lon], { ...style, radius: area.radiusM });
        shape.bindPopup(popup);
        shape.bindTooltip(info.headline || info.event, { sticky: true });
        layer.addLayer(shape);
      }
    }
  }

  async drawShelters() {
    const layer = this.layers.shelters;
    if (!layer) return;
    const L = this.L;
    const fc = await json("/shelters?limit=1000");
    layer.clearLayers();
    for (const f of fc.features) {
      const p = f.properties;
      const [lon, lat] = f.geometry.coordinates;
      const name = this.ctx.lang === "ko" ? p.name_ko : p.name_en || p.name_ko;
      const icon = L.divIcon({ className: `shelter-pin ${p.is_open ? "open" : "closed"}`, html: "", iconSize: [12, 12], iconAnchor: [6, 6] });
      L.marker([lat, lon], { icon, pane: "pointsPane" })
        .bindTooltip(`${name} · ${this.ctx.lang === "ko" ? p.kind_ko : p.kind_en}\n${this.ctx.t(p.is_open ? "openShelter" : "closedShelter")} · ${this.ctx.t("occupancy")} ${p.occupancy}/${p.capacity ?? "?"}${p.capacity == null ? ` (${this.ctx.t("capacityUnknown")})` : ""}`, { className: "stip" })
        .addTo(layer);
    }
  }

  async drawPoints() {
    const L = this.L;
    await Promise.all(Object.entries(POINT_LAYERS).map(async ([key, look]) => {
      const layer = this.layers[key];
      if (!layer) return;
      const fc = await json(`/ogcapi/collections/${key}/items?limit=5000`);
      for (const f of fc.features) {
        if (!f.geometry) continue;
        const p = f.properties || {};
        const name = () => (this.ctx.lang === "ko" ? p.name_ko : p.name_en || p.name_ko) || p.name || p.code || "";
        const shape = L.geoJSON(f, {
          pointToLayer: (_, latlng) => L.marker(latlng, { pane: "pointsPane", icon: L.divIcon({ className: `poi poi-${key}`, html: "", iconSize: [look.radius * 2, look.radius * 2] }) }),
          style: { color: look.colour, weight: 1, fillOpacity: 0.2 },
        });
        shape.bindTooltip(() => `${name()}${p.kind ? ` · ${p.kind}` : ""}`);
        layer.addLayer(shape);
      }
    }));
  }
}
