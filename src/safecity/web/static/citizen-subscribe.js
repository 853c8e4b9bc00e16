// SPDX-License-Identifier: Apache-2.0
// Subscribing on the citizen page, without an account. The channel is one that reaches the person when the
// page is closed: Web Push (the browser's push service wakes /sw.js, which shows the notification) when the
// server has VAPID keys and the browser can; otherwise the live stream, which works only while a page is
// open (and says so). The subscription's id and self-service token stay in this browser's localStorage:
// "my subscriptions" reads each one with its token and can delete it.
import { $, el } from "/static/common.js";

const PREFIX = "safecity.subscription.";

function saved() {
  const out = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key?.startsWith(PREFIX)) out.push({ id: key.slice(PREFIX.length), token: localStorage.getItem(key) });
  }
  return out.sort((a, b) => Number(a.id) - Number(b.id));
}

function base64url(text) {
  const padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// The browser's push subscription (JSON: endpoint and keys) for this server's VAPID key, or null when the
// server has none or the browser cannot (no service worker, no PushManager, permission refused).
async function pushSubscription() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return null;
  const r = await fetch("/subscriptions/push-key");
  if (!r.ok) return null;
  const { publicKey } = await r.json();
  try {
    const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
    const sub = (await registration.pushManager.getSubscription())
      ?? await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64url(publicKey) });
    return sub.toJSON();
  } catch {
    return null; // permission refused or no push service reachable: fall back to the live stream
  }
}

export async function subscribe({ place, lang, audience, t }) {
  const status = $("subscribed");
  if (!place) { status.textContent = t("noplace"); return; }
  status.textContent = t("subscribing");
  // an anonymous subscription holds one point: the place, or the middle of the chosen district
  const area = { kind: "point", lon: place.lon, lat: place.lat };
  const push = await pushSubscription();
  const channels = push ? [{ channel: "webpush", address: JSON.stringify(push) }] : [{ channel: "sse" }];
  const body = { kind: "anonymous", language: lang, audience, channels, areas: [area] };
  const r = await fetch("/subscriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await r.json();
  if (!r.ok) { status.textContent = (lang === "ko" && answer.message_ko) || answer.message || String(r.status); return; }
  localStorage.setItem(`${PREFIX}${answer.id}`, answer.token || "");
  status.textContent = `${t("subscribed")} ${answer.id}. ${t(push ? "viaPush" : "viaPage")}`;
}

function describe(sub, { lang, t, placeName }) {
  const where = sub.areas.map((a) => (a.kind === "point" ? `${t("here")} (${a.lat.toFixed(4)}, ${a.lon.toFixed(4)})` : placeName(a.code))).join(", ");
  const how = sub.channels.map((c) => t(`channel_${c.channel}`)).join(", ");
  return `#${sub.id} · ${where} · ${how} · ${lang === "ko" ? "언어" : "language"} ${sub.language}`;
}

// the subscriptions this browser made, each read with its token, each with a delete button
export async function mySubscriptions(ctx) {
  const list = $("my-subscriptions");
  if (!list) return;
  const mine = saved();
  if (!mine.length) { list.replaceChildren(); $("my-subs").hidden = true; return; }
  const rows = await Promise.all(mine.map(async ({ id, token }) => {
    const r = await fetch(`/subscriptions/${encodeURIComponent(id)}`, { headers: { "X-Subscription-Token": token } });
    if (r.status === 404 || r.status === 403) { localStorage.removeItem(PREFIX + id); return null; } // deleted elsewhere
    if (!r.ok) return el("li", { class: "muted" }, `#${id}: ${r.status}`);
    const sub = await r.json();
    return el("li", { "data-id": id }, el("span", {}, describe(sub, ctx)), " ",
      el("button", { type: "button", class: "delete-sub", onclick: () => remove(id, token, ctx) }, ctx.t("unsubscribe")));
  }));
  list.replaceChildren(...rows.filter(Boolean));
  $("my-subs").hidden = !list.children.length;
}

async function remove(id, token, ctx) {
  const r = await fetch(`/subscriptions/${encodeURIComponent(id)}`, { method: "DELETE", headers: { "X-Subscription-Token": token } });
  if (r.ok || r.status === 404) {
    localStorage.removeItem(PREFIX + id);
    $("subscribed").textContent = `${ctx.t("unsubscribed")} ${id}`;
  }
  await mySubscriptions(ctx);
}
