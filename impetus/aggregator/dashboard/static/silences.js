// Silences (maintenance windows): the list with who set each one and until when, a form to add
// one, and "Expire now". Matching events are still stored; they only raise and join no alert.

import { h, timeElement, words } from "./dom.js";

export const DURATIONS = [
  ["30 min", 30], ["1 h", 60], ["2 h", 120], ["4 h", 240], ["8 h", 480], ["24 h", 1440],
];

// "active", "scheduled" (starts later) or "expired" (its end has passed; ended early ones leave the list).
export function silenceState(silence, now = new Date()) {
  if (new Date(silence.ends_at) <= now) return "expired";
  return new Date(silence.starts_at) > now ? "scheduled" : "active";
}

function matches(silence) {
  const parts = ["site", "zone", "device", "type"]
    .filter((key) => silence[key])
    .map((key) => `${key} ${words(silence[key])}`);
  return parts.join(" · ");
}

// A label beside (not around) its control, so the control's name is the label alone.
function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

function select(id, label, values) {
  return field(id, label, h("select", { id, name: id },
    h("option", { value: "" }, "any"),
    ...values.map((value) => h("option", { value }, words(value)))));
}

// choices: {site, zones, devices, types}; canSilence: the role may add and expire silences.
export function renderSilences(container, silences, choices, canSilence, actions) {
  const order = { active: 0, scheduled: 1, expired: 2 };
  const rows = [...silences].sort((a, b) => order[silenceState(a)] - order[silenceState(b)] || b.id - a.id);
  const table = rows.length
    ? h("table", { class: "silences" },
        h("thead", {}, h("tr", {},
          ...["Matches", "State", "From", "Until", "Author", "Comment", ""].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", {}, ...rows.map((silence) => {
          const shown = silenceState(silence);
          return h("tr", { class: `silence-row silence-${shown}`, "data-silence": String(silence.id) },
            h("th", { scope: "row" }, matches(silence)),
            h("td", {}, shown),
            h("td", {}, timeElement(silence.starts_at)),
            h("td", {}, timeElement(silence.ends_at)),
            h("td", {}, silence.author),
            h("td", {}, silence.comment),
            h("td", {}, canSilence && shown !== "expired"
              ? h("button", { type: "button", class: "danger", onclick: () => actions.expire(silence.id) }, "Expire now")
              : null));
        })))
    : h("p", { class: "empty" }, "No silences.");
  const form = canSilence ? silenceForm(choices, actions) : h("p", { class: "hint" }, "Your role can view silences but not set them.");
  if (canSilence) keepEntries(container.querySelector("form.silence-form"), form);
  container.replaceChildren(table, form);
}

// The list is drawn again whenever silences are fetched (the view opening, a change made here):
// what the operator has already chosen or typed in the form survives that.
function keepEntries(previous, form) {
  if (!previous) return;
  for (const control of previous.querySelectorAll("select, input")) {
    const fresh = form.querySelector(`#${control.id}`);
    const offered = fresh?.tagName !== "SELECT" || [...fresh.options].some((o) => o.value === control.value);
    if (fresh && offered) fresh.value = control.value;
  }
}

function silenceForm(choices, actions) {
  const form = h("form", { class: "silence-form", "aria-labelledby": "silence-form-heading" },
    h("h3", { id: "silence-form-heading" }, "New silence"),
    choices.site ? h("p", { class: "hint" }, `At ${choices.site}. At least one of zone, device or type narrows it; none silences the whole site.`) : null,
    select("silence-zone", "Zone", choices.zones),
    select("silence-device", "Device", choices.devices),
    select("silence-type", "Type", choices.types),
    field("silence-duration", "For", h("select", { id: "silence-duration", name: "silence-duration" },
      ...DURATIONS.map(([label, minutes]) => h("option", { value: String(minutes), selected: minutes === 60 }, label)))),
    field("silence-comment", "Why", h("input", { id: "silence-comment", name: "silence-comment", type: "text",
      required: true, maxlength: "500", placeholder: "e.g. camera cleaning, concert sound check" })),
    h("button", { type: "submit", class: "primary" }, "Silence"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => form.querySelector(`#${id}`).value || null;
    const minutes = Number(value("silence-duration"));
    const created = await actions.create({
      site: choices.site || null,
      zone: value("silence-zone"),
      device: value("silence-device"),
      type: value("silence-type"),
      ends_at: new Date(Date.now() + minutes * 60000).toISOString(),
      comment: value("silence-comment"),
    });
    if (created) form.reset();  // before the list is drawn again, so a set silence leaves no entries
  });
  return form;
}
