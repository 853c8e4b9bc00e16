// SPDX-License-Identifier: Apache-2.0
// The citizen page's service worker: the browser's push service wakes it when the platform issues an alert
// to this subscription (Web Push, even with the page closed); it shows the alert as a notification, one
// per alert thread (an update replaces it), and opens the citizen page when it is tapped.
self.addEventListener("push", (event) => {
  let alert = {};
  try {
    alert = event.data ? event.data.json() : {};
  } catch {
    alert = { title: event.data ? event.data.text() : "" };
  }
  const title = alert.title || "safecity";
  event.waitUntil(self.registration.showNotification(title, {
    body: alert.body || "",
    tag: alert.tag || "safecity",
    renotify: true,
    requireInteraction: alert.msgType !== "Cancel",
    icon: "/static/favicon.svg",
    data: { url: alert.url || "/citizen" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/citizen", self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const page = open.find((c) => c.url.startsWith(`${self.location.origin}/citizen`));
    if (page) return page.focus();
    return self.clients.openWindow(url);
  })());
});
