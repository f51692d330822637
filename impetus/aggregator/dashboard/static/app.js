// The dashboard's state and wiring: sign-in, views per role, the live feed, and the operator's actions.

import { OPEN_STATES, renderAlertDetail, renderAlertList, sortAlerts } from "./alerts.js";
import { api, ApiError, forgetKey, liveUrl, saveKey, savedKey } from "./api.js";
import { deviceKey, deviceState, renderDevices } from "./devices.js";
import { h, words } from "./dom.js";
import { renderSilences, silenceState } from "./silences.js";
import { drawSitePlan } from "./siteplan.js";
import { alarm, setSoundEnabled, soundEnabled, unlockAudio } from "./sound.js";

// Which views each role gets, first one shown on sign-in; only operators and admins act on alerts.
const ROLE_VIEWS = {
  operator: ["alerts", "devices", "silences"],
  admin: ["alerts", "devices", "silences"],
  technician: ["devices", "alerts", "silences"],
  privacy_officer: ["alerts", "devices", "silences"],
};
const ACTING_ROLES = new Set(["operator", "admin"]);
const SILENCING_ROLES = new Set(["operator", "technician", "admin"]);
const VIEWS = ["alerts", "devices", "silences"];
const VIEW_TITLES = { alerts: "Alerts", devices: "Devices", silences: "Silences" };
const PAGE = 200;
const DONE = { ack: "Acknowledged", assign: "Assigned", resolve: "Resolved", "false-alarm": "Marked as false alarm" };

const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  views: [],
  view: null,
  site: null,
  devices: new Map(),
  alerts: new Map(),
  filter: "open",
  selectedId: null,
  detail: null,
  socket: null,
  retryMs: 1000,
  workloadTimer: null,
  alarmed: new Set(),
  silences: [],
  alertTypes: [],
};

function toast(text, kind = "info") {
  const item = h("p", { class: `toast toast-${kind}` }, text);
  $("toasts").append(item);
  setTimeout(() => item.remove(), kind === "error" ? 10000 : 6000);
}

function showLogin(message = "") {
  closeSocket();
  state.me = null;
  for (const id of ["views", "connection", "session", ...VIEWS.map((v) => `view-${v}`)]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("api-key").value = "";
  $("api-key").focus();
}

async function signIn() {
  try {
    state.me = await api("/api/v1/whoami");
  } catch (error) {
    forgetKey();
    const refused = error instanceof ApiError && (error.status === 401 || error.status === 403);
    showLogin(refused ? "That key was not accepted." : `Could not reach the aggregator: ${error.message}`);
    return;
  }
  $("login").hidden = true;
  $("session").hidden = false;
  $("who").textContent = `${state.me.name} (${words(state.me.role)})`;
  state.views = ROLE_VIEWS[state.me.role] || ["alerts", "devices"];
  $("views").replaceChildren(
    ...state.views.map((view) =>
      h("button", { type: "button", "data-view": view, onclick: () => go(view) }, VIEW_TITLES[view])),
  );
  $("views").hidden = false;
  await Promise.all([loadSite(), loadDevices(), loadAlerts(), loadWorkload(), loadSilences()]);
  connect();
  route();
}

async function loadSite() {
  try {
    state.site = await api("/api/v1/site");
    $("site-name").textContent = state.site.name || state.site.site;
  } catch (error) {
    state.site = null;
    if (!(error instanceof ApiError && error.status === 404)) toast(`Site plan: ${error.message}`, "error");
  }
  drawPlan();
}

async function loadDevices() {
  try {
    const answer = await api("/api/v1/devices");
    // The REST rows carry no `silent` (the watchdog's verdict comes over the feed): keep the last one.
    state.devices = new Map(
      answer.items.map((d) => [deviceKey(d), { silent: state.devices.get(deviceKey(d))?.silent, ...d }]),
    );
  } catch (error) {
    toast(`Devices: ${error.message}`, "error");
  }
  showDevices();
  drawPlan();
}

// Silences: not on the live feed (they change by hand, here or through the API), so the list is
// fetched when the view opens and after each change made from it.
async function loadSilences() {
  try {
    const [answer, rules] = await Promise.all([
      api("/api/v1/silences"),
      state.alertTypes.length ? null : api("/api/v1/rules"),
    ]);
    state.silences = answer.items;
    if (rules) state.alertTypes = Object.entries(rules.types).filter(([, rule]) => rule.alert).map(([name]) => name);
  } catch (error) {
    toast(`Silences: ${error.message}`, "error");
  }
  showSilences();
}

function showSilences() {
  const active = state.silences.filter((s) => silenceState(s) === "active").length;
  $("silence-count").textContent = `${active} in force`;
  const onPlan = (state.site?.devices || []).map((d) => d.device_id);
  const heard = [...state.devices.values()].map((d) => d.device_id);
  const choices = {
    site: state.site?.site || null,
    zones: (state.site?.zones || []).map((z) => z.name),
    devices: [...new Set([...onPlan, ...heard])].sort(),
    types: state.alertTypes,
  };
  const canSilence = state.me && SILENCING_ROLES.has(state.me.role);
  renderSilences($("silences"), state.silences, choices, canSilence, {
    create: async (body) => {
      let created = false;
      try {
        await api("/api/v1/silences", { method: "POST", body });
        toast("Silence set.", "ok");
        created = true;
      } catch (error) {
        toast(`Refused (silence): ${error.message}`, "error");
      }
      loadSilences();
      return created;
    },
    expire: async (id) => {
      try {
        await api(`/api/v1/silences/${id}`, { method: "DELETE" });
        toast("Silence expired.", "ok");
      } catch (error) {
        toast(`Refused (expire): ${error.message}`, "error");
      }
      loadSilences();
    },
  });
}

function alertQueries() {
  if (state.filter === "all") return [`/api/v1/alerts?limit=${PAGE}`];
  const statuses = state.filter === "open" ? [...OPEN_STATES] : [state.filter];
  return statuses.map((status) => `/api/v1/alerts?status=${status}&limit=${PAGE}`);
}

// Operators' workload (IMPETUS's operational-efficiency goal): open alerts held and time-to-acknowledge.
async function loadWorkload() {
  try {
    const stats = await api("/api/v1/operators/stats");
    $("workload-rows").replaceChildren(
      ...stats.operators.map((o) =>
        h("tr", { "data-operator": o.name },
          h("th", { scope: "row" }, o.name),
          h("td", {}, String(o.open)),
          h("td", {}, String(o.acknowledged)),
          h("td", {}, o.tta_median_s == null ? "—" : duration(o.tta_median_s)))),
    );
    $("workload-waiting").textContent = `${stats.unacknowledged} alert${stats.unacknowledged === 1 ? "" : "s"} waiting for acknowledgement.`;
  } catch (error) {
    $("workload-waiting").textContent = `Workload unavailable: ${error.message}`;
  }
}

function duration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function scheduleWorkload() {
  // Alert changes come in bursts: one refresh per burst is enough.
  if (state.workloadTimer !== null) return;
  state.workloadTimer = setTimeout(() => {
    state.workloadTimer = null;
    loadWorkload();
  }, 500);
}

async function loadAlerts() {
  try {
    const pages = await Promise.all(alertQueries().map((path) => api(path)));
    for (const page of pages) for (const alert of page.items) upsertAlert(alert);
  } catch (error) {
    toast(`Alerts: ${error.message}`, "error");
  }
  showAlerts();
}

function upsertAlert(alert) {
  state.alerts.set(String(alert.id), alert);
  // The alarm sounds once per alert, when it is first seen extreme while open (raised or escalated).
  if (alert.severity === "extreme" && OPEN_STATES.has(alert.status) && !state.alarmed.has(String(alert.id))) {
    state.alarmed.add(String(alert.id));
    const sounded = alarm();
    const what = `EXTREME: ${alert.title || `${words(alert.type)} in ${alert.zone || alert.site}`}`;
    toast(sounded ? `${what} (alarm sounded)` : what, "extreme");
  }
}

function visibleAlerts() {
  const all = [...state.alerts.values()];
  const shown = all.filter((a) =>
    state.filter === "all" ? true : state.filter === "open" ? OPEN_STATES.has(a.status) : a.status === state.filter);
  return sortAlerts(shown);
}

function showAlerts() {
  const shown = visibleAlerts();
  renderAlertList($("alert-list"), shown, state.selectedId, select);
  $("alert-empty").hidden = shown.length > 0;
  const fresh = [...state.alerts.values()].filter((a) => a.status === "new").length;
  $("alert-count").textContent = `${shown.length} shown, ${fresh} new`;
  document.title = fresh ? `(${fresh}) impetus · SOC` : "impetus · SOC";
  drawPlan();
}

function showDevices() {
  const count = renderDevices($("device-rows"), [...state.devices.values()], state.site);
  const online = [...state.devices.values()].filter((d) => deviceState(d) === "online").length;
  $("device-count").textContent = `${online} of ${count} online`;
}

function drawPlan() {
  const site = state.site;
  const devices = [...state.devices.values()].filter((d) => !site || d.site === site.site);
  const located = visibleAlerts().filter((a) => !site || a.site === site.site);
  drawSitePlan($("site-plan"), site, devices, located, { selectedId: state.selectedId, onSelect: select });
}

// Live feed: alert and device changes; on every (re)connect the lists are fetched again, so nothing
// that changed while the socket was down is missed.
function connect() {
  closeSocket();
  const socket = new WebSocket(liveUrl("/api/v1/alerts/live"));
  state.socket = socket;
  setConnection("connecting…", "pending");
  socket.addEventListener("open", () => {
    state.retryMs = 1000;
    setConnection("live", "ok");
    loadAlerts();
    loadDevices();
  });
  socket.addEventListener("message", (message) => {
    const item = JSON.parse(message.data);
    if (item.kind === "alert") {
      upsertAlert(item.alert);
      showAlerts();
      scheduleWorkload();
      if (String(item.alert.id) === state.selectedId) loadDetail(state.selectedId);
    } else if (item.kind === "device") {
      const key = deviceKey(item.device);
      state.devices.set(key, { ...state.devices.get(key), ...item.device });
      showDevices();
      drawPlan();
    }
  });
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === 1008 || event.code === 4401 || event.code === 4403) {
      forgetKey();
      showLogin("The aggregator closed the live feed: the key is no longer accepted.");
      return;
    }
    // A refused handshake looks like any lost connection: ask whether the key is still good (a 401
    // sends the page back to sign-in) before trying again.
    api("/api/v1/whoami").catch(() => {});
    setConnection(`feed lost — retrying in ${Math.round(state.retryMs / 1000)} s`, "bad");
    setTimeout(() => state.me && !state.socket && connect(), state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 15000);
  });
}

function closeSocket() {
  const socket = state.socket;
  state.socket = null;
  if (socket) socket.close();
}

function setConnection(text, kind) {
  const element = $("connection");
  element.hidden = false;
  element.className = `connection connection-${kind}`;
  element.textContent = `Live feed: ${text}`;
}

// Routes: #alerts, #alerts/ID, #devices, #silences.
function go(view, id) {
  location.hash = id ? `${view}/${encodeURIComponent(id)}` : view;
}

function select(id) {
  go("alerts", id);
}

function route() {
  if (!state.me) return;
  const [view, id] = location.hash.replace(/^#/, "").split("/");
  const chosen = state.views.includes(view) ? view : state.views[0];
  state.view = chosen;
  for (const view of VIEWS) $(`view-${view}`).hidden = chosen !== view;
  if (chosen === "silences") loadSilences();
  for (const button of $("views").children) {
    button.setAttribute("aria-current", button.dataset.view === chosen ? "page" : "false");
  }
  // One site plan, shown in the alerts or the devices view (the silences view has none).
  const plan = document.querySelector(".plan-panel");
  const host = chosen === "devices" ? $("view-devices") : $("view-alerts");
  if (plan.parentElement !== host) host.insertBefore(plan, chosen === "devices" ? null : $("alert-detail"));
  const wanted = chosen === "alerts" && id ? decodeURIComponent(id) : null;
  if (wanted !== state.selectedId) {
    state.selectedId = wanted;
    state.detail = null;
    showAlerts();
    if (wanted) loadDetail(wanted);
    else renderDetail();
  }
}

async function loadDetail(id) {
  try {
    const detail = await api(`/api/v1/alerts/${encodeURIComponent(id)}`);
    if (id !== state.selectedId) return;
    state.detail = detail;
    const { events, history, ...summary } = detail;
    state.alerts.set(id, { ...state.alerts.get(id), ...summary });
    showAlerts();
  } catch (error) {
    toast(`Alert ${id}: ${error.message}`, "error");
    state.detail = null;
  }
  renderDetail();
}

function renderDetail() {
  const acting = state.me && ACTING_ROLES.has(state.me.role);
  const id = state.selectedId;
  const actions = acting
    ? {
        transition: async (name, body = {}) => act(`/api/v1/alerts/${encodeURIComponent(id)}/${name}`, body, DONE[name]),
        tick: async (step, done) => act(`/api/v1/alerts/${encodeURIComponent(id)}/sop/${step}`, { done }, done ? `Step ${step} done` : `Step ${step} reopened`),
        note: async (text) => act(`/api/v1/alerts/${encodeURIComponent(id)}/notes`, { text }, "Note added"),
      }
    : null;
  renderAlertDetail($("alert-detail"), state.detail, state.me, actions);
}

async function act(path, body, what) {
  try {
    await api(path, { method: "POST", body });
    toast(`${what}.`, "ok");
  } catch (error) {
    toast(`Refused (${what.toLowerCase()}): ${error.message}`, "error");
  }
  if (state.selectedId) await loadDetail(state.selectedId);
}

function start() {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    unlockAudio(); // the click is the user gesture browsers require before any sound
    saveKey($("api-key").value.trim());
    signIn();
  });
  $("sign-out").addEventListener("click", () => {
    forgetKey();
    showLogin();
  });
  $("sound-toggle").addEventListener("click", () => {
    setSoundEnabled(!soundEnabled());
    $("sound-toggle").setAttribute("aria-pressed", String(soundEnabled()));
    $("sound-toggle").textContent = soundEnabled() ? "Sound on" : "Sound off";
  });
  $("alert-filter").addEventListener("change", (event) => {
    state.filter = event.target.value;
    loadAlerts();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.selectedId && !event.target.closest("input, textarea")) go("alerts");
  });
  // After a reload the key is still there but no click has unlocked sound yet: the first one does.
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });
  window.addEventListener("hashchange", route);
  window.addEventListener("impetus:unauthorised", () => {
    forgetKey();
    showLogin("The aggregator no longer accepts this key: sign in again.");
  });
  if (savedKey()) signIn();
  else showLogin();
}

start();
