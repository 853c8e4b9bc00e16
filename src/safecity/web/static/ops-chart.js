// SPDX-License-Identifier: Apache-2.0
// A sensor's time series (uPlot) with the thresholds the loaded rules apply to it, one dashed line per
// threshold coloured by its crisis level, from GET /situation/thresholds. When a rule reads a window sum
// (e.g. KMA's 3-h rainfall), that sum is charted too, on its own axis, computed from the readings shown
// with the rule engine's (t - window, t] windows, so each line is compared with the curve it applies to.
import { $, el, when, uplot, missingMessage, COLOURS } from "/static/common.js";

let plot = null;
const DRAWN_ON_READINGS = new Set(["last", "max", "min", "mean", "daily_max", "daily_min"]);

function windowLabel(seconds, lang) {
  const h = seconds / 3600;
  if (Number.isInteger(h)) return lang === "ko" ? `${h}시간 누적` : `${h}-h sum`;
  const m = Math.round(seconds / 60);
  return lang === "ko" ? `${m}분 누적` : `${m}-min sum`;
}

function duration(seconds, lang) {
  const m = Math.round(seconds / 60);
  if (m % 60 === 0) return lang === "ko" ? `${m / 60}시간` : `${m / 60} h`;
  return lang === "ko" ? `${m}분` : `${m} min`;
}

const clock = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", hour12: false });
const day = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Seoul", month: "2-digit", day: "2-digit" });

// sum over (t - w, t] at every sample time
function windowSums(xs, ys, w) {
  const out = new Array(xs.length);
  let start = 0;
  let total = 0;
  for (let i = 0; i < xs.length; i++) {
    total += ys[i] ?? 0;
    while (xs[start] <= xs[i] - w) total -= ys[start++] ?? 0;
    out[i] = Math.round(total * 1000) / 1000;
  }
  return out;
}

export async function openChart(ctx, id) {
  const panel = $("chart-panel");
  const t = (k) => ctx.t(k);
  panel.hidden = false;
  panel.dataset.datastream = String(id);
  $("chart-title").textContent = `${t("chart")} #${id}`;
  $("chart-state").textContent = "";
  $("chart-thresholds").replaceChildren();
  $("chart-note").textContent = "";
  const box = $("chart");
  box.replaceChildren();
  let uPlot;
  try {
    uPlot = await uplot();
  } catch {
    missingMessage(box, ctx.lang);
    return;
  }
  const [ds, obs, limits] = await Promise.all([
    ctx.api(`/sta/v1.1/Datastreams(${id})?$select=id,name,unitOfMeasurement&$expand=Thing($select=name,properties),ObservedProperty($select=name,definition)`),
    ctx.api(`/sta/v1.1/Datastreams(${id})/Observations?$orderby=phenomenonTime%20desc&$top=1000&$select=phenomenonTime,result`),
    ctx.api(`/situation/thresholds?datastream=${id}`).catch(() => ({ thresholds: [] })),
  ]);
  const unit = ctx.unit(ds.unitOfMeasurement?.symbol);
  const thing = (ctx.lang === "ko" && ds.Thing?.properties?.name_ko) || ds.Thing?.name || "";
  $("chart-title").textContent = `${thing} · ${ctx.propName(ds.ObservedProperty) || ds.name}${unit ? ` (${unit})` : ""}`;
  const rows = obs.value.filter((o) => typeof o.result === "number").reverse();
  const last = rows.at(-1);
  $("chart-state").textContent = last ? `${t("latest")} ${last.result} ${unit} · ${when(last.phenomenonTime, ctx.lang, true)}` : t("noData");
  const xs = rows.map((o) => Date.parse(o.phenomenonTime) / 1000);
  const ys = rows.map((o) => o.result);

  const thresholds = limits.thresholds.filter((x) => x.chartable);
  const sumWindows = [...new Set(thresholds.filter((x) => x.fn === "sum" && x.window).map((x) => x.window))].sort((a, b) => a - b);
  const data = [xs, ys];
  const series = [{}, { label: `${t("readings")}${unit ? ` (${unit})` : ""}`, stroke: "#14202e", width: 1.5, scale: "y", points: { show: rows.length < 80, size: 4 } }];
  const sumColours = ["#2f6fdb", "#00897b", "#8e24aa", "#6d4c41"];
  sumWindows.forEach((w, i) => {
    data.push(windowSums(xs, ys, w));
    series.push({ label: `${windowLabel(w, ctx.lang)}${unit ? ` (${unit})` : ""}`, stroke: sumColours[i % sumColours.length], width: 2, scale: "sum", points: { show: false } });
  });
  const notDrawn = [];
  const drawn = new Set();
  for (const x of limits.thresholds) {
    const name = ctx.lang === "ko" ? x.nameKo : x.nameEn;
    const signal = (ctx.lang === "ko" ? x.signalKo : x.signalEn).trim();
    const op = x.direction === "above" ? "≥" : "≤";
    const key = `${x.fn}|${x.window}|${x.value}`;
    if (x.chartable && (x.fn === "sum" || DRAWN_ON_READINGS.has(x.fn))) {
      if (drawn.has(key)) continue;
      drawn.add(key);
      data.push(xs.map(() => x.value));
      series.push({
        label: `${ctx.levelName(x.crisisLevel)} ${name}: ${signal} ${op} ${x.value}${unit ? ` ${unit}` : ""}`,
        stroke: COLOURS[x.crisisLevel], width: 2, dash: [8, 5], scale: x.fn === "sum" ? "sum" : "y", points: { show: false },
        value: () => "",
      });
    } else {
      // a time since the last report, a rate, a count of days: a line on this chart would mislead
      const value = x.fn === "age" ? duration(x.value, ctx.lang) : `${x.value}${unit ? ` ${unit}` : ""}`;
      notDrawn.push(el("li", { class: `level-line level-${x.crisisLevel}` }, el("i"), `${ctx.levelName(x.crisisLevel)} · ${name}: ${signal} ${op} ${value}`));
    }
  }
  const items = [];
  if (!limits.thresholds.length) items.push(el("li", { class: "muted" }, t("noThreshold")));
  if (notDrawn.length) items.push(el("li", { class: "caption" }, t("notDrawn")), ...notDrawn);
  $("chart-thresholds").replaceChildren(...items);
  $("chart-note").textContent = sumWindows.length ? t("sumNote") : "";

  const axes = [
    { values: (u, splits) => splits.map((v, i) => (i === 0 ? `${day.format(v * 1000)} ` : "") + clock.format(v * 1000)), space: 60 },
    { scale: "y", label: unit, size: 50 },
  ];
  const scales = { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), Math.max(max * 1.1, 1)] } };
  if (sumWindows.length) {
    axes.push({ scale: "sum", side: 1, label: `Σ ${unit}`, size: 50, grid: { show: false } });
    scales.sum = { range: (u, min, max) => [0, Math.max(max * 1.08, 1)] };
  }
  if (plot) plot.destroy();
  const width = Math.max(320, box.clientWidth || panel.clientWidth - 24);
  plot = new uPlot({
    width, height: 230, series, axes, scales,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Seoul"),
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  }, data, box);
}
