// SPDX-License-Identifier: Apache-2.0
// The dashboard's dialogs. An incident: its timeline, the sensors involved (each opens its chart) and the
// lifecycle steps (acknowledge, respond, recover, close, dismiss with a reason). The alert composer: the
// drafted CAP (XML), a preview of each language's <info>, the cell-broadcast text with its length against
// the limit, editing headline / description / instruction / short text, approve, reject; and cancelling an
// alert in force (a CAP Cancel referencing it).
import { $, el, fill, when } from "/static/common.js";
import { areaSection, drawAreaMap, deliveriesSection, renderChecks } from "/static/ops-alert-view.js";

const W = {
  ko: {
    status: "상태", areas: "지역", opened: "감지", rule: "규칙", timeline: "경과", sensors: "관련 센서", actions: "조치",
    acknowledged: "확인", responding: "대응", recovering: "복구", closed: "종료", dismissed: "오경보 처리",
    dismissReason: "오경보 사유", needReason: "사유를 적어 주세요", alerts: "이 사건의 경보 초안", chart: "차트",
    headline: "제목", description: "내용", instruction: "행동요령", short: "재난문자(휴대전화 방송) 문구",
    chars: "자", limit: "한도", edited: "직접 작성", rendered: "자동 작성", preview: "미리 보기", xml: "CAP 1.2 XML",
    save: "수정 저장", approve: "승인·발령", reject: "반려", rejectReason: "반려 사유", saved: "저장했습니다",
    issued: "발령했습니다", rejected: "반려했습니다", event: "재난 종류", severity: "심각도", urgency: "긴급도",
    certainty: "확실도", area: "대상 지역", web: "자세히", references: "참조", shortNote: "제목·행동요령을 저장하면 자동 문구가 다시 만들어집니다. 직접 쓰면 그 문구가 그대로 발송됩니다.",
    cancelTitle: "발령 경보 취소", cancelReason: "취소 사유 (시민에게 전달됩니다)", cancelButton: "취소 경보 발령", cancelled: "취소 경보를 발령했습니다",
    language: { ko: "한국어", en: "English" }, tooLong: "길이 초과", readOnly: "발령된 경보 (읽기 전용)",
  },
  en: {
    status: "Status", areas: "Areas", opened: "Detected", rule: "Rule", timeline: "Timeline", sensors: "Sensors involved", actions: "Actions",
    acknowledged: "Acknowledge", responding: "Respond", recovering: "Recovering", closed: "Close", dismissed: "Dismiss",
    dismissReason: "Why it is a false alarm", needReason: "Please give a reason", alerts: "Alert drafts of this incident", chart: "Chart",
    headline: "Headline", description: "Description", instruction: "Instruction", short: "Cell-broadcast text",
    chars: "chars", limit: "limit", edited: "written by hand", rendered: "rendered", preview: "Preview", xml: "CAP 1.2 XML",
    save: "Save edits", approve: "Approve & issue", reject: "Reject", rejectReason: "Reason for rejecting", saved: "Saved",
    issued: "Issued", rejected: "Rejected", event: "Event", severity: "Severity", urgency: "Urgency",
    certainty: "Certainty", area: "Area", web: "More", references: "References", shortNote: "Saving a new headline or instruction renders the text again. Text written here is sent as written.",
    cancelTitle: "Cancel an alert in force", cancelReason: "Reason for cancelling (sent to citizens)", cancelButton: "Issue the Cancel", cancelled: "A Cancel was issued",
    language: { ko: "한국어", en: "English" }, tooLong: "too long", readOnly: "Issued alert (read-only)",
  },
};
const STEPS = ["acknowledged", "responding", "recovering", "closed"];

function words(ctx) {
  return (k) => W[ctx.lang][k] ?? ctx.t(k);
}

function show(dialog) {
  if (!dialog.open) dialog.showModal();
}

function message(box, text, error = false) {
  box.textContent = text;
  box.className = error ? "msg error" : "msg ok";
}

export async function openIncident(ctx, id) {
  const w = words(ctx);
  const dialog = $("incident-dialog");
  const inc = await ctx.api(`/incidents/${id}`);
  const title = ctx.lang === "ko" ? inc.titleKo : inc.titleEn;
  $("incident-title").replaceChildren(el("span", { class: `level level-${inc.level}` }, ctx.levelName(inc.level)), ` #${inc.id} ${title}`);
  const msg = el("p", { class: "msg", role: "status" });
  const terminal = inc.status === "closed" || inc.status === "dismissed";
  const reason = el("input", { type: "text", class: "reason", placeholder: w("dismissReason"), "aria-label": w("dismissReason"), maxlength: "2000" });
  const step = async (status) => {
    const body = { status };
    if (status === "dismissed") {
      if (!reason.value.trim()) { message(msg, w("needReason"), true); reason.focus(); return; }
      body.reason = reason.value.trim();
    }
    try {
      await ctx.post(`/incidents/${id}/status`, body);
      await ctx.refresh();
      await openIncident(ctx, id);
    } catch (error) {
      message(msg, error.message, true);
    }
  };
  const order = ["detected", ...STEPS];
  const here = order.indexOf(inc.status);
  const actions = terminal ? [] : [
    ...STEPS.map((s) => el("button", { type: "button", class: `step step-${s}`, disabled: order.indexOf(s) <= here && !(inc.status === "recovering" && s === "responding"), onclick: () => step(s) }, w(s))),
    reason,
    el("button", { type: "button", class: "step step-dismissed danger", onclick: () => step("dismissed") }, w("dismissed")),
  ];
  const names = new Map();
  for (const c of inc.conditions || []) names.set(c.subject, c);
  const sensors = (inc.datastreams || []).map((ds) => {
    const cond = names.get(`ds:${ds}`);
    const label = cond ? `${ctx.streamName(ds)} · ${ctx.levelName(cond.level)} ${(ctx.lang === "ko" ? cond.stageKo : cond.stageEn) ?? ""}` : ctx.streamName(ds);
    return el("li", {}, el("button", { type: "button", class: "link sensor-link", "data-datastream": ds, onclick: () => { dialog.close(); ctx.openChart(ds); } }, label));
  });
  const drafts = (ctx.board?.alertDrafts || []).filter((a) => a.incidentId === inc.id);
  const areas = inc.areas.map((a) => `${(ctx.lang === "ko" ? a.nameKo : a.nameEn) || a.code} (${ctx.levelName(a.level)})`).join(", ");
  fill($("incident-body"),
    el("dl", { class: "facts" },
      el("dt", {}, w("status")), el("dd", {}, ctx.lang === "ko" ? inc.statusKo : inc.statusEn),
      el("dt", {}, w("areas")), el("dd", {}, areas),
      el("dt", {}, w("opened")), el("dd", {}, [when(inc.openedAt, ctx.lang, true), inc.openedBy].filter(Boolean).join(" · ")),
      inc.rule ? el("dt", {}, w("rule")) : null, inc.rule ? el("dd", {}, inc.rule) : null,
      inc.dismissedReason ? el("dt", {}, w("dismissReason")) : null, inc.dismissedReason ? el("dd", {}, inc.dismissedReason) : null),
    terminal ? null : el("section", { class: "actions" }, el("h3", {}, w("actions")), el("div", { class: "row" }, ...actions), msg),
    drafts.length ? el("section", {}, el("h3", {}, w("alerts")), ...drafts.map((a) => el("button", { type: "button", class: "primary", onclick: () => { dialog.close(); ctx.openComposer(a.identifier); } }, `${ctx.t("compose")}: ${a.headlines[ctx.lang] || a.headlines.ko}`))) : null,
    sensors.length ? el("section", {}, el("h3", {}, w("sensors")), el("ul", { class: "sensors" }, ...sensors)) : null,
    el("section", {}, el("h3", {}, w("timeline")), el("ol", { class: "timeline" },
      ...[...inc.timeline].reverse().map((e) => el("li", { class: `kind-${e.kind}` }, el("time", {}, when(e.at, ctx.lang, true)), " ", (ctx.lang === "ko" ? e.detailKo : e.detailEn) ?? e.kind, e.actor && e.actor !== "system" ? ` — ${e.actor}` : "")))),
  );
  show(dialog);
}

function infoPreview(info, w) {
  const rows = [["event", info.event], ["severity", info.severity], ["urgency", info.urgency], ["certainty", info.certainty], ["area", (info.area || []).map((a) => a.areaDesc).join(", ")]];
  return el("div", { class: "info-preview", lang: (info.language || "ko").slice(0, 2) },
    el("div", { class: "sender" }, info.senderName || ""),
    el("h4", {}, info.headline || info.event),
    el("dl", { class: "facts small" }, ...rows.flatMap(([k, v]) => [el("dt", {}, w(k)), el("dd", {}, v || "—")])),
    el("p", { class: "desc" }, info.description || ""),
    el("p", { class: "instr" }, info.instruction || ""),
    info.web ? el("p", { class: "muted" }, `${w("web")}: ${info.web}`) : null);
}

export async function openComposer(ctx, identifier) {
  const w = words(ctx);
  const dialog = $("composer");
  const enc = encodeURIComponent(identifier);
  const [alert, xml] = await Promise.all([ctx.api(`/alerts/${enc}`), ctx.api(`/alerts/${enc}.xml`)]);
  const cap = alert.cap;
  const infos = Array.isArray(cap.info) ? cap.info : [cap.info];
  const msg = el("p", { class: "msg", role: "status" });
  const editable = alert.state === "draft";
  const fields = {};
  const columns = infos.map((info) => {
    const lang = (info.language || "ko").slice(0, 2);
    const short = alert.shortTexts?.[lang] || { text: "", chars: 0, max: alert.cbMaxChars, problems: [], edited: false };
    const preview = el("div", { class: "preview-slot" }, infoPreview(info, w));
    const counter = el("span", { class: "counter" });
    const problems = el("span", { class: "problems" });
    const phone = el("div", { class: "phone", "data-lang": lang }, short.text);
    const input = (name, multi, value) => {
      const node = multi ? el("textarea", { name, rows: name === "instruction" ? "5" : "3", "data-lang": lang, disabled: !editable }) : el("input", { name, type: "text", "data-lang": lang, disabled: !editable });
      node.value = value || "";
      node.dataset.initial = node.value;
      return node;
    };
    const f = {
      headline: input("headline", false, info.headline),
      description: input("description", true, info.description),
      instruction: input("instruction", true, info.instruction),
      short: input("short", true, short.text),
    };
    f.short.rows = 3;
    fields[lang] = f;
    const recount = () => {
      const n = [...f.short.value].length;
      counter.textContent = `${n} / ${alert.cbMaxChars} ${w("chars")}`;
      counter.classList.toggle("over", n > alert.cbMaxChars);
      problems.textContent = n > alert.cbMaxChars ? w("tooLong") : short.problems.join("; ");
      phone.textContent = f.short.value;
      const edited = { ...info, headline: f.headline.value, description: f.description.value, instruction: f.instruction.value };
      preview.replaceChildren(infoPreview(edited, w));
    };
    for (const node of Object.values(f)) node.addEventListener("input", () => { recount(); recheck(); });
    recount();
    return el("section", { class: "lang-col", "data-lang": lang },
      el("h3", {}, W[ctx.lang].language[lang] || info.language),
      el("label", {}, w("headline"), f.headline),
      el("label", {}, w("description"), f.description),
      el("label", {}, w("instruction"), f.instruction),
      el("div", { class: "cb" },
        el("label", {}, `${w("short")} · ${short.edited ? w("edited") : w("rendered")}`, f.short),
        el("div", { class: "cb-meta" }, counter, problems),
        el("div", { class: "phone-frame" }, phone)),
      el("h3", {}, w("preview")), preview);
  });

  // the API's text check (problems, ko/en disagreements), again as the operator edits (nothing saved)
  const checks = el("div", { class: "checks", "aria-live": "polite" });
  renderChecks(checks, ctx.lang, alert);
  let checkTimer = null;
  function recheck() {
    if (!editable) return;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(async () => {
      try {
        renderChecks(checks, ctx.lang, await ctx.post(`/alerts/${enc}/check`, changes()));
      } catch { /* a server without the check, or an edit it refuses: the save will say why */ }
    }, 400);
  }
  const changes = () => {
    const out = {};
    for (const [lang, f] of Object.entries(fields)) {
      for (const [k, node] of Object.entries(f)) {
        if (node.value.trim() && node.value !== node.dataset.initial) (out[lang] ??= {})[k] = node.value.trim();
      }
    }
    return out;
  };
  const save = async () => {
    const body = changes();
    if (Object.keys(body).length) await ctx.post(`/alerts/${enc}`, body, "PATCH");
    return body;
  };
  const reason = el("input", { type: "text", class: "reason", placeholder: w("rejectReason"), "aria-label": w("rejectReason"), maxlength: "2000" });
  const act = async (fn, done) => {
    try {
      await fn();
      message(msg, done);
      await ctx.refresh();
      return true;
    } catch (error) {
      message(msg, error.message, true);
      return false;
    }
  };
  const actions = editable ? el("div", { class: "row actions" },
    el("button", { type: "button", class: "save", onclick: async () => { if (await act(save, w("saved"))) openComposer(ctx, identifier); } }, w("save")),
    el("button", { type: "button", class: "primary approve", onclick: async () => { if (await act(async () => { await save(); await ctx.post(`/alerts/${enc}/approve`, {}); }, w("issued"))) dialog.close(); } }, w("approve")),
    reason,
    el("button", { type: "button", class: "danger reject", onclick: async () => {
      if (!reason.value.trim()) { message(msg, w("needReason"), true); reason.focus(); return; }
      if (await act(() => ctx.post(`/alerts/${enc}/reject`, { reason: reason.value.trim() }), w("rejected"))) dialog.close();
    } }, w("reject"))) : null;
  const first = infos[0];
  const area = areaSection(ctx.lang);
  // an issued alert opens read-only: its texts, CAP, area and how its deliveries stand per channel
  const delivered = editable ? null : await deliveriesSection(ctx, identifier).catch(() => null);
  $("composer-title").textContent = `${editable ? ctx.t("compose") : w("readOnly")} · ${alert.msgType} · ${first.severity} · ${first.urgency}`;
  fill($("composer-body"),
    el("p", { class: "meta" }, `${identifier} · ${alert.state} · ${alert.districts.join(", ")}${cap.references ? ` · ${w("references")}: ${cap.references}` : ""}`),
    actions, msg, checks,
    el("div", { class: "view-top" }, area.section, delivered),
    editable ? el("p", { class: "muted small" }, w("shortNote")) : null,
    el("div", { class: "langs" }, ...columns),
    el("details", { class: "xml" }, el("summary", {}, w("xml")), el("pre", {}, xml)));
  dialog.dataset.state = alert.state;
  show(dialog);
  await drawAreaMap(area.box, cap, ctx.lang);
}

export function cancelAlert(ctx, identifier) {
  const w = words(ctx);
  const dialog = $("composer");
  const a = ctx.issued.find((x) => x.identifier === identifier);
  const reason = el("textarea", { rows: "2", class: "reason", "aria-label": w("cancelReason"), placeholder: w("cancelReason"), maxlength: "2000" });
  const msg = el("p", { class: "msg", role: "status" });
  $("composer-title").textContent = w("cancelTitle");
  fill($("composer-body"),
    el("p", {}, el("strong", {}, a ? a.headlines[ctx.lang] || a.headlines.ko : identifier)),
    el("p", { class: "meta" }, identifier),
    el("label", {}, w("cancelReason"), reason),
    el("div", { class: "row actions" }, el("button", { type: "button", class: "danger confirm-cancel", onclick: async () => {
      if (!reason.value.trim()) { message(msg, w("needReason"), true); return; }
      try {
        await ctx.post(`/alerts/${encodeURIComponent(identifier)}/cancel`, { reason: reason.value.trim() });
        message(msg, w("cancelled"));
        await ctx.refresh();
        dialog.close();
      } catch (error) {
        message(msg, error.message, true);
      }
    } }, w("cancelButton"))),
    msg);
  show(dialog);
}
