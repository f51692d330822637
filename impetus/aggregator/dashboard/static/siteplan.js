// The site plan as SVG, drawn from the site description: no map tiles, so it works offline.
// Site frame: metres, x east, y north, origin south-west; SVG y grows downwards, hence depth - y.

import { deviceState } from "./devices.js";
import { s, words } from "./dom.js";

const MARGIN_M = 4;

export function drawSitePlan(container, site, devices, alerts, { selectedId, onSelect }) {
  container.replaceChildren();
  if (!site) {
    const note = document.createElement("p");
    note.className = "empty";
    note.textContent = "No site plan: the aggregator was started without one (serve --site-plan FILE).";
    container.append(note);
    return;
  }
  const width = site.width_m;
  const depth = site.depth_m;
  const fontSize = Math.max(width, depth) / 48;
  const at = (p) => [p.x_m, depth - p.y_m];
  const svg = s("svg", {
    viewBox: `${-MARGIN_M} ${-MARGIN_M} ${width + 2 * MARGIN_M} ${depth + 2 * MARGIN_M}`,
    role: "img",
    "aria-label": `Site plan of ${site.name || site.site}, ${width} by ${depth} metres`,
    class: "plan",
  });
  svg.append(s("rect", { x: 0, y: 0, width, height: depth, class: "ground" }));

  for (const zone of site.zones || []) {
    const points = zone.polygon.map((p) => at(p).join(",")).join(" ");
    // The label in the zone's north-west corner, out of the way of devices and located events.
    const west = Math.min(...zone.polygon.map((p) => p.x_m));
    const north = Math.max(...zone.polygon.map((p) => p.y_m));
    const [lx, ly] = at({ x_m: west + fontSize * 0.5, y_m: north - fontSize * 1.1 });
    svg.append(
      s("g", { class: `zone zone-${zone.kind}` },
        s("title", {}, `zone ${zone.name} (${zone.kind})`),
        s("polygon", { points }),
        s("text", { x: lx, y: ly, "font-size": fontSize, class: "zone-label" }, zone.name)),
    );
  }

  const stateOf = new Map(devices.map((d) => [d.device_id, deviceState(d)]));
  const reach = Math.min(width, depth) * 0.22;
  for (const placement of site.devices || []) {
    const [x, y] = at(placement.position);
    const state = stateOf.get(placement.device_id) || "unknown";
    const group = s("g", { class: `device device-${state.replaceAll(" ", "-")}`, "data-device": placement.device_id });
    group.append(s("title", {}, `${placement.device_id}: ${state}; ${placement.sensors.join(", ")}`));
    if (placement.sensors.includes("camera")) group.append(fieldOfView(x, y, placement, reach));
    group.append(s("circle", { cx: x, cy: y, r: fontSize * 0.7, class: "device-dot" }));
    if (state !== "online") {
      const d = fontSize * 0.45;
      group.append(s("path", { d: `M${x - d},${y - d}L${x + d},${y + d}M${x - d},${y + d}L${x + d},${y - d}`, class: "device-cross" }));
    }
    const labelY = y + (y < depth / 2 ? fontSize * 2 : -fontSize * 1.3);
    const anchor = x > width * 0.85 ? "end" : x < width * 0.15 ? "start" : "middle";
    group.append(
      s("text", { x, y: labelY, "font-size": fontSize * 0.9, class: "device-label", "text-anchor": anchor },
        state === "online" ? placement.device_id : `${placement.device_id} (${state})`),
    );
    svg.append(group);
  }

  for (const alert of alerts) {
    if (!alert.location || alert.location.x_m == null || alert.location.y_m == null) continue;
    const [x, y] = at(alert.location);
    const radius = Math.max(alert.location.radius_95_m || 0, fontSize * 0.5);
    const selected = String(alert.id) === selectedId;
    const marker = s("g", {
      class: `located severity-${alert.severity}${selected ? " selected" : ""}`,
      tabindex: 0,
      role: "button",
      "aria-label": `${alert.title || words(alert.type)} at ${x.toFixed(0)}, ${alert.location.y_m.toFixed(0)} m, ±${(alert.location.radius_95_m || 0).toFixed(1)} m; open alert`,
      "data-alert": alert.id,
      onclick: () => onSelect(alert.id),
      onkeydown: (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onSelect(alert.id);
        }
      },
    });
    const d = fontSize * 0.8;
    marker.append(
      s("title", {}, `${alert.title || words(alert.type)} – ${alert.severity}; 95 % within ${(alert.location.radius_95_m || 0).toFixed(1)} m`),
      s("circle", { cx: x, cy: y, r: radius, class: "uncertainty" }),
      s("path", { d: `M${x - d},${y}L${x + d},${y}M${x},${y - d}L${x},${y + d}`, class: "crosshair" }),
      s("text", { x: x + d * 1.2, y: y - d * 1.2, "font-size": fontSize * 0.9, class: "located-label" }, words(alert.type)),
    );
    svg.append(marker);
  }
  container.append(svg);
}

function fieldOfView(x, y, placement, reach) {
  // Compass heading: 0 = north (up on the plan), 90 = east (right).
  const half = (placement.fov_deg || 70) / 2;
  const point = (bearing) => {
    const radians = (bearing * Math.PI) / 180;
    return [x + reach * Math.sin(radians), y - reach * Math.cos(radians)];
  };
  const [ax, ay] = point(placement.heading_deg - half);
  const [bx, by] = point(placement.heading_deg + half);
  const large = placement.fov_deg > 180 ? 1 : 0;
  return s("path", { d: `M${x},${y}L${ax},${ay}A${reach},${reach} 0 ${large} 1 ${bx},${by}Z`, class: "fov" });
}
