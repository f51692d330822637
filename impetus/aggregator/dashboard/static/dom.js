// DOM building without innerHTML: names and notes come from the wire and are never parsed as HTML.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function clockTime(ts) {
  if (!ts) return "–";
  const when = new Date(ts);
  if (Number.isNaN(when.getTime())) return String(ts);
  const time = when.toLocaleTimeString([], { hour12: false });
  const today = new Date().toDateString() === when.toDateString();
  return today ? time : `${when.toLocaleDateString()} ${time}`;
}

export function timeElement(ts) {
  return h("time", { datetime: ts || undefined, title: ts || undefined }, clockTime(ts));
}

export const words = (value) => String(value ?? "").replaceAll("_", " ");
