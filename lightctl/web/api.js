// Every call the console makes to the lightctl HTTP API goes through this module, so the
// headers of every request are set in one place.
//
// Authentication (issue 7): after a sign-in (login.js), setToken(token) keeps the session token
// for this browser tab; every request, including the live progress stream, then carries
// "Authorization: Bearer <token>". The stream is read with fetch() rather than EventSource
// because EventSource cannot send headers. A 401 answer calls the handler given to
// onUnauthorized(), so the page can ask for a new sign-in while keeping everything the user has
// entered.

import { foldProgress, readEvents } from './sse.js';

const BASE = '/api/v1';
const TOKEN_KEY = 'lightctl.token'; // sessionStorage: gone when the tab closes, kept on reload
const LOGIN_PATH = '/auth/login';

let token = storedToken();
let unauthorizedHandler = () => {};

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Use this bearer token on every request from now on (null: none). */
export function setToken(value) {
  token = value || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lives until the page reloads
  }
}

export function hasToken() {
  return Boolean(token);
}

/** Called with the failed request's path whenever the API answers 401. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

function headers(extra = {}) {
  const out = { Accept: 'application/json', ...extra };
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

/** An API refusal (problem+json) or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || (status === 0 ? 'network' : `http_${status}`);
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

async function request(method, path, body, { signal, extraHeaders = {} } = {}) {
  const init = { method, headers: headers(extraHeaders), signal };
  if (body !== undefined) {
    init.headers = headers({ 'Content-Type': 'application/json', ...extraHeaders });
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { detail: String(error.message || error) });
  }
  if (response.status === 401 && path !== LOGIN_PATH) unauthorizedHandler(path);
  if (!response.ok) {
    let problem;
    try {
      problem = await response.json();
    } catch {
      problem = { detail: response.statusText };
    }
    throw new ApiError(response.status, problem || {});
  }
  return response.status === 204 ? null : response.json();
}

export const api = {
  login: (username, password) => request('POST', LOGIN_PATH, { username, password }),
  logout: () => request('POST', '/auth/logout'),
  me: () => request('GET', '/auth/me'),
  health: () => request('GET', '/healthz'),
  templates: () => request('GET', '/templates'),
  consoleSettings: () => request('GET', '/console/settings'),
  streets: () => request('GET', '/streets'),
  streetGeometry: () => request('GET', '/streets/geometry'),
  groups: () => request('GET', '/groups'),
  lanternsLive: (since, opts) =>
    request('GET', `/lanterns/live${since ? `?since=${encodeURIComponent(since)}` : ''}`, undefined, opts),
  lantern: (id) => request('GET', `/lanterns/${encodeURIComponent(id)}`),
  preview: (target, opts) => request('POST', '/targets/preview?geojson=false', target, opts),
  guidancePreview: (body, opts) => request('POST', '/guidance/preview', body, opts),
  /** key: the Idempotency-Key naming this one confirmed request (a retry sends the same). */
  createAlert: (body, key) =>
    request('POST', '/alerts', body, { extraHeaders: key ? { 'Idempotency-Key': key } : {} }),
  renderTemplate: (id, body) => request('POST', `/templates/${encodeURIComponent(id)}/render`, body),
  alerts: (limit = 20) => request('GET', `/alerts?limit=${limit}`),
  runningAlerts: () => request('GET', '/alerts?running=true'),
  alert: (id, withLanterns = false, opts) =>
    request('GET', `/alerts/${encodeURIComponent(id)}?lanterns=${withLanterns}`, undefined, opts),
  alertLanternStates: (id, opts) =>
    request('GET', `/alerts/${encodeURIComponent(id)}/lantern-states`, undefined, opts),
  updateAlert: (id, body) => request('POST', `/alerts/${encodeURIComponent(id)}/update`, body),
  cancelAlert: (id) => request('POST', `/alerts/${encodeURIComponent(id)}/cancel`),
  allClear: (id, body = {}) => request('POST', `/alerts/${encodeURIComponent(id)}/all-clear`, body),
  approveAlert: (id) => request('POST', `/alerts/${encodeURIComponent(id)}/approve`),
  audit: (limit = 25) => request('GET', `/audit?limit=${limit}`),
  steering: (active = true) => request('GET', `/steering?active=${active}&limit=50`),
  startSteering: (body) => request('POST', '/steering', body),
  releaseSteering: (id) => request('DELETE', `/steering/${encodeURIComponent(id)}`),
  simulator: () => request('GET', '/simulator'),
  // CAP / MoWaS suggestions (issue 16)
  capMessages: (decision, opts) =>
    request('GET', `/cap/messages?decision=${encodeURIComponent(decision)}&limit=50`, undefined, opts),
  sendCapSuggestion: (id, body = {}) => request('POST', `/cap/messages/${encodeURIComponent(id)}/send`, body),
  dismissCapSuggestion: (id) => request('POST', `/cap/messages/${encodeURIComponent(id)}/dismiss`),
  // Acoustic coverage (issue 19): query is a URLSearchParams string (suggestions, geojson, level_db)
  coverage: (query = '') => request('GET', `/coverage${query ? `?${query}` : ''}`),
  alertCoverage: (id) => request('GET', `/alerts/${encodeURIComponent(id)}/coverage`),
};

/**
 * Follow an alert's server-sent events: onProgress(alert, changes) for every "progress" event
 * until the server ends the stream (the alert finished) or signal aborts; resolves then.
 * alert comes without its delivery rows; changes is {ids, states, reasons} (parallel arrays of
 * the lanterns whose delivery changed, all of them in the first event) or null when the server
 * sent counts only. The stream is read and parsed by a worker (events_worker.js) where the
 * browser has them, so a city-wide warning's events cost the page's main thread little.
 */
export function followAlertEvents(alertId, onProgress, signal) {
  const path = `/alerts/${encodeURIComponent(alertId)}/events`;
  const streamHeaders = headers({ Accept: 'text/event-stream' });
  let target; // the last event's target: the worker leaves it out while it stays the same
  const deliver = ({ alert, changes, sameTarget }) => {
    if (sameTarget) alert.target = target;
    else target = alert.target;
    onProgress(alert, changes);
  };
  const failed = (status, detail) => {
    if (status === 401) unauthorizedHandler(path);
    return new ApiError(status, { detail });
  };
  if (!window.Worker) return followHere(path, streamHeaders, deliver, failed, signal);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const worker = new Worker(new URL('./events_worker.js', import.meta.url), { type: 'module' });
    const finish = (error) => {
      worker.terminate();
      signal?.removeEventListener('abort', stop);
      if (error) reject(error);
      else resolve();
    };
    const stop = () => finish(null);
    signal?.addEventListener('abort', stop);
    worker.onmessage = (e) => {
      const message = e.data;
      if (message.type === 'progress') deliver(message);
      else if (message.type === 'end') finish(null);
      else finish(failed(message.status, message.detail));
    };
    worker.onerror = () => finish(failed(0, 'the progress reader stopped'));
    worker.postMessage({ url: BASE + path, headers: streamHeaders });
  });
}

/** The same on the page's own thread (a browser without workers). */
async function followHere(path, streamHeaders, deliver, failed, signal) {
  let response;
  try {
    response = await fetch(BASE + path, { headers: streamHeaders, signal });
  } catch (error) {
    if (error.name === 'AbortError') return;
    throw failed(0, String(error.message || error));
  }
  if (!response.ok || !response.body) throw failed(response.status, response.statusText);
  let targetKey = null;
  try {
    await readEvents(response, ({ type, data }) => {
      if (type !== 'progress' || !data) return;
      const folded = foldProgress(data, targetKey);
      targetKey = folded.targetKey;
      deliver(folded);
    });
  } catch (error) {
    if (error.name !== 'AbortError') throw error;
  }
}

/**
 * Inject a fault into simulated lanterns (rehearsals): fault is one of "offline", "speaker_broken",
 * "lamp_broken", "projector_broken", "drop_acks", "reboot", "clear"; seconds bounds "offline".
 * lightctl forwards it to firmware-sim's control API (the browser may only talk to lightctl).
 */
export function injectFault(lanternIds, fault, seconds) {
  const body = { lanterns: lanternIds, fault };
  if (fault === 'offline') body.seconds = seconds;
  return request('POST', '/simulator/faults', body);
}
