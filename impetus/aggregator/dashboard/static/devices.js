// The device list: state as text and symbol (not colour alone), last seen, and the last health report.

import { h, timeElement } from "./dom.js";

function healthSummary(health) {
  if (!health) return "—";
  const p = health.payload || health;
  const bits = [];
  if (p.cpu_temp_c != null) bits.push(`${p.cpu_temp_c.toFixed(0)} °C`);
  if (p.cpu_percent != null) bits.push(`CPU ${p.cpu_percent.toFixed(0)} %`);
  if (p.throttled) bits.push("throttled");
  if (p.outbox_backlog != null) bits.push(`backlog ${p.outbox_backlog}`);
  if (p.outbox_dropped) bits.push(`dropped ${p.outbox_dropped}`);
  if (p.clock_offset_ms != null) bits.push(`clock ${p.clock_offset_ms.toFixed(1)} ms`);
  if (p.uptime_s != null) bits.push(`up ${Math.round(p.uptime_s / 60)} min`);
  return bits.join(" · ") || "—";
}

// "silent": the device says it is online but the watchdog has not heard from it within its timeout.
// "stopped": its last word was its own goodbye (a planned stop, which raises no alert); a device
// that vanished stays "offline" (its Last Will spoke for it).
export function deviceState(device) {
  if (device.state === "online" && device.silent) return "silent";
  const stopped = device.stopped ?? device.last_status?.payload?.reason === "shutdown";
  return device.state === "offline" && stopped ? "stopped" : device.state;
}

export function deviceKey(device) {
  return `${device.site}/${device.device_id}`;
}

export function renderDevices(tbody, devices, site) {
  const placements = new Map((site?.devices || []).map((p) => [p.device_id, p]));
  const rows = [...devices];
  for (const placement of placements.values()) {
    if (!rows.some((d) => d.device_id === placement.device_id)) {
      rows.push({ site: site.site, device_id: placement.device_id, state: "never seen" });
    }
  }
  rows.sort((a, b) => deviceKey(a).localeCompare(deviceKey(b)));
  tbody.replaceChildren(
    ...rows.map((device) => {
      const placement = placements.get(device.device_id);
      const shown = deviceState(device);
      const online = shown === "online";
      return h("tr", { class: `device-row state-${shown.replaceAll(" ", "-")}`, "data-device": device.device_id },
        h("th", { scope: "row" }, device.device_id, h("span", { class: "sub" }, ` ${device.site}`)),
        h("td", {}, h("span", { class: "state" }, online ? "● " : "○ ", shown),
          device.state_since ? [" since ", timeElement(device.state_since)] : null),
        h("td", {}, placement?.zone || "—"),
        h("td", {}, placement ? placement.sensors.join(", ") : "not on the plan"),
        h("td", {}, device.last_seen ? timeElement(device.last_seen) : "—"),
        h("td", {}, healthSummary(device.last_health)));
    }),
  );
  return rows.length;
}
