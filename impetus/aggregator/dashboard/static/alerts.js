// The alert list and the alert detail: severity shown as colour AND as text, every control a labelled button.

import { h, timeElement, words } from "./dom.js";

export const SEVERITY_RANK = { extreme: 4, severe: 3, moderate: 2, minor: 1 };
export const OPEN_STATES = new Set(["new", "acknowledged", "assigned"]);

export function severityBadge(severity) {
  return h("span", { class: `badge severity-${severity}` }, (severity || "unknown").toUpperCase());
}

function statusBadge(status) {
  return h("span", { class: `status status-${status}` }, words(status));
}

export function sortAlerts(alerts) {
  // Newest activity first; among equals the more severe first.
  return [...alerts].sort(
    (a, b) =>
      String(b.last_seen).localeCompare(String(a.last_seen)) ||
      (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0) ||
      (typeof a.id === "number" && typeof b.id === "number" ? b.id - a.id : String(b.id).localeCompare(String(a.id))),
  );
}

export function renderAlertList(list, alerts, selectedId, onSelect) {
  list.replaceChildren(
    ...alerts.map((alert) => {
      const label = `${alert.severity} ${alert.title || words(alert.type)} in ${alert.zone || alert.site}, ${words(alert.status)}`;
      return h("li", { class: `alert-item severity-${alert.severity}`, "data-alert": alert.id },
        h("button", {
          type: "button",
          class: "alert-row",
          "aria-label": label,
          "aria-current": String(alert.id) === selectedId ? "true" : undefined,
          onclick: () => onSelect(alert.id),
        },
          h("span", { class: "row-top" }, severityBadge(alert.severity), statusBadge(alert.status),
            alert.test ? h("span", { class: "tag" }, "TEST") : null,
            alert.untrusted ? h("span", { class: "tag tag-warn" }, "UNTRUSTED") : null),
          h("span", { class: "row-title" }, alert.title || words(alert.type)),
          h("span", { class: "row-meta" },
            `${alert.zone || "—"} · ${alert.event_count} event${alert.event_count === 1 ? "" : "s"} · ${(alert.devices || []).length} device${(alert.devices || []).length === 1 ? "" : "s"} · `,
            timeElement(alert.last_seen))));
    }),
  );
}

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function location(loc) {
  if (!loc) return "not located";
  const parts = [];
  if (loc.x_m != null) parts.push(`x ${loc.x_m.toFixed(1)} m, y ${loc.y_m.toFixed(1)} m`);
  if (loc.radius_95_m != null) parts.push(`±${loc.radius_95_m.toFixed(1)} m (95 %)`);
  if (loc.lat != null) parts.push(`${loc.lat.toFixed(6)}, ${loc.lon.toFixed(6)}`);
  return parts.join(" · ");
}

function historyLine(entry) {
  const what = entry.action || entry.kind || entry.event || entry.transition || "";
  const change = entry.from && entry.to && entry.from !== entry.to ? `${words(entry.from)} → ${words(entry.to)}` : "";
  const extra = entry.note || entry.text || entry.assignee || "";
  return [words(what), change, extra].filter(Boolean).join(" · ");
}

function eventSummary(event) {
  const payload = event.payload || {};
  const bits = [];
  for (const key of ["score", "level_of_service", "count", "density", "kind", "peak_dbfs", "label", "class_name"]) {
    if (payload[key] !== undefined) bits.push(`${key.replaceAll("_", " ")} ${payload[key]}`);
  }
  return bits.join(", ");
}

// `actions` is null for a role that may only look; otherwise it holds the callbacks.
export function renderAlertDetail(panel, alert, me, actions) {
  if (!alert) {
    panel.replaceChildren(h("h2", { id: "detail-heading" }, "Alert detail"), h("p", { class: "empty" }, "Select an alert."));
    return;
  }
  const open = OPEN_STATES.has(alert.status);
  const busy = (button, work) => async () => {
    button.disabled = true;
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  };

  const controls = [];
  if (actions && open) {
    const ack = h("button", { type: "button", class: "primary", disabled: alert.status !== "new" }, "Acknowledge");
    ack.addEventListener("click", busy(ack, () => actions.transition("ack")));
    const assignee = h("input", { id: "assignee", type: "text", value: alert.assignee || me.name, "aria-label": "Assignee" });
    const assign = h("button", { type: "button" }, "Assign");
    assign.addEventListener("click", busy(assign, () => actions.transition("assign", { assignee: assignee.value.trim() })));
    const note = h("input", { id: "closing-note", type: "text", placeholder: "why (optional)", "aria-label": "Closing note" });
    const resolve = h("button", { type: "button" }, "Resolve");
    resolve.addEventListener("click", busy(resolve, () => actions.transition("resolve", { note: note.value.trim() })));
    const falseAlarm = h("button", { type: "button", class: "danger" }, "False alarm");
    falseAlarm.addEventListener("click", busy(falseAlarm, () => actions.transition("false-alarm", { note: note.value.trim() })));
    controls.push(
      h("div", { class: "actions", role: "group", "aria-label": "Alert actions" },
        ack,
        h("span", { class: "inline" }, assignee, assign),
        h("span", { class: "inline" }, note, resolve, falseAlarm)),
    );
  } else if (!actions) {
    controls.push(h("p", { class: "hint" }, `Your role (${words(me.role)}) can view alerts but not act on them.`));
  }

  const sop = (alert.sop || []).map((item) => {
    const id = `sop-${item.step}`;
    const box = h("input", { type: "checkbox", id, checked: item.done, disabled: !actions || !open });
    box.addEventListener("change", busy(box, () => actions.tick(item.step, box.checked)));
    return h("li", { class: item.done ? "done" : undefined },
      box, h("label", { for: id }, `${item.step}. ${item.text}`),
      item.done && item.by ? h("span", { class: "by" }, ` — ${item.by}, `, timeElement(item.at)) : null);
  });

  const noteBox = h("textarea", { id: "note-text", rows: 2, "aria-label": "New note" });
  const addNote = h("button", { type: "button" }, "Add note");
  addNote.addEventListener("click", busy(addNote, async () => {
    const text = noteBox.value.trim();
    if (!text) return;
    await actions.note(text);
  }));

  panel.replaceChildren(
    h("h2", { id: "detail-heading" }, alert.title || words(alert.type)),
    h("p", { class: "detail-badges" }, severityBadge(alert.severity), statusBadge(alert.status),
      alert.test ? h("span", { class: "tag" }, "TEST") : null,
      alert.untrusted ? h("span", { class: "tag tag-warn" }, "UNTRUSTED: a device reported tampering") : null),
    ...controls,
    h("dl", { class: "facts" },
      fact("Type", words(alert.type)),
      fact("Where", `${alert.site} / ${alert.zone || "—"}`),
      fact("Location", location(alert.location)),
      fact("First seen", timeElement(alert.first_seen)),
      fact("Last seen", timeElement(alert.last_seen)),
      fact("Events", String(alert.event_count)),
      fact("Devices", (alert.devices || []).join(", ") || "—"),
      fact("Corroborated by", String(alert.corroborating_devices ?? "—")),
      fact("Confidence", alert.confidence != null ? `${Math.round(alert.confidence * 100)} %` : "—"),
      fact("Urgency / certainty", `${words(alert.urgency)} / ${words(alert.certainty)}`),
      fact("Acknowledged", alert.acknowledged_by ? [`${alert.acknowledged_by}, `, timeElement(alert.acknowledged_at)] : "—"),
      fact("Assignee", alert.assignee || "—")),
    h("h3", {}, "Procedure"),
    sop.length ? h("ol", { class: "sop" }, sop) : h("p", { class: "empty" }, "No procedure for this alert type."),
    h("h3", {}, "Notes"),
    h("ul", { class: "notes" },
      (alert.notes || []).map((n) => h("li", {}, h("span", { class: "by" }, n.by, ", ", timeElement(n.at), ": "), n.text))),
    actions ? h("div", { class: "note-form" }, noteBox, addNote) : null,
    h("h3", {}, "History"),
    h("ol", { class: "history" },
      (alert.history || []).map((entry) =>
        h("li", {}, timeElement(entry.at), " ", h("strong", {}, entry.by || entry.actor || "system"), " ", historyLine(entry)))),
    h("h3", {}, "Events"),
    h("table", { class: "events" },
      h("thead", {}, h("tr", {}, ["Time", "Device", "Type", "Confidence", "Details"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {},
        (alert.events || []).map((event) =>
          h("tr", {},
            h("td", {}, timeElement(event.ts)),
            h("td", {}, event.device_id),
            h("td", {}, words(event.type)),
            h("td", {}, event.confidence != null ? `${Math.round(event.confidence * 100)} %` : "—"),
            h("td", {}, eventSummary(event)))))),
  );
}
