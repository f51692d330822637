// Every data request carries the operator's key; the key lives in sessionStorage only (gone with the tab).

const KEY_STORAGE = "impetus.apiKey";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const savedKey = () => sessionStorage.getItem(KEY_STORAGE);
export const saveKey = (key) => sessionStorage.setItem(KEY_STORAGE, key);
export const forgetKey = () => sessionStorage.removeItem(KEY_STORAGE);

function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return JSON.stringify(detail);
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${savedKey() || ""}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const answer = await response.json();
      if (answer.detail !== undefined) message = describe(answer.detail);
    } catch {
      // not JSON: keep the status line
    }
    // A key refused mid-session (revoked, or the user removed): the page goes back to sign-in.
    if (response.status === 401) window.dispatchEvent(new CustomEvent("impetus:unauthorised", { detail: message }));
    throw new ApiError(response.status, message);
  }
  return response.status === 204 ? null : response.json();
}

export function liveUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", savedKey() || "");
  return url.href;
}
