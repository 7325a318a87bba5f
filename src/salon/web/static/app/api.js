// The HTTP API from the browser: a cookie session plus the session's CSRF token on every unsafe request. Every
// failure becomes an ApiError with the server's {code, message, data}, so screens show the server's words.

import { t } from "./i18n.js";

const BASE = "/api/v1";
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || (status === 0 ? "network" : "internal");
    this.data = body?.data || {};
  }
}

/** The words to show for a failed call: the server's message, or ours for network trouble. (Our words are the
 * shell's `app.*` strings, registered by main.js before any screen runs.) */
export function errorMessage(error) {
  if (error instanceof ApiError) {
    if (error.code === "network" || error.code === "timeout") return t("app.network_error");
    return error.message;
  }
  return t("app.unexpected_error");
}

export function setCsrfToken(token) {
  csrfToken = token;
}

export async function api(method, path, body, { raw = false } = {}) {
  const headers = {};
  const init = { method, headers, credentials: "same-origin" };
  if (body instanceof Blob || body instanceof FormData) {
    init.body = body;
    if (body instanceof Blob && body.type) headers["content-type"] = body.type;
  } else if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, { code: "network", message: "" });
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
