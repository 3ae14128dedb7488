import { Api, ApiError } from './api.js';
import { byId, h } from './dom.js';
import { clock } from './format.js';
import { renderCertificates, renderEvents } from './panels.js';
import { ServiceCard } from './service-card.js';
import { EventStream, type StreamStatus } from './stream.js';
import type { Certificate, FiguresHistory, FiguresPoint, HistoryEntry, ServicesList, ServiceView, StreamEvent } from './types.js';

/** The token lives in this tab's sessionStorage only: gone when the tab closes, never in a cookie or localStorage. */
const TOKEN_KEY = 'switchyard.token';
/** Events kept in the list. */
const EVENTS_KEPT = 50;
/** Figure samples kept for the sparklines (the server keeps five minutes). */
const POINTS_KEPT = 150;

let token = sessionStorage.getItem(TOKEN_KEY);
const api = new Api(() => token);

/** What the page knows; redrawn from on every change. */
const state = {
  services: new Map<string, ServiceView>(),
  history: new Map<string, readonly HistoryEntry[]>(),
  certificates: [] as readonly Certificate[],
  figures: { enabled: false, window_ms: 0, points: [] as FiguresPoint[] },
  events: [] as StreamEvent[],
};
const cards = new Map<string, ServiceCard>();

const view = {
  dashboard: byId('dashboard'),
  services: byId('services'),
  events: byId('events'),
  certificates: byId('certificates'),
  connection: byId('connection'),
  alert: byId('alert'),
  login: byId('login'),
  loginForm: byId<HTMLFormElement>('login-form'),
  loginInput: byId<HTMLInputElement>('token'),
  loginError: byId('login-error'),
  logout: byId<HTMLButtonElement>('logout'),
};

// ---- drawing -------------------------------------------------------------------------

let frame = 0;
/** Redraws on the next frame; many updates in one frame draw once. */
function redraw(): void {
  if (frame === 0) frame = requestAnimationFrame(draw);
}

function draw(): void {
  frame = 0;
  const now = Date.now();
  for (const [name, card] of cards) {
    if (!state.services.has(name)) {
      card.root.remove();
      cards.delete(name);
    }
  }
  if (state.services.size === 0) view.services.replaceChildren(h('p', { class: 'muted' }, 'No service is configured.'));
  let index = 0;
  for (const service of state.services.values()) {
    let card = cards.get(service.name);
    if (!card) {
      card = new ServiceCard(service.name, actions);
      cards.set(service.name, card);
    }
    card.update(service, state.history.get(service.name) ?? [], state.figures, now);
    // Cards already in place are never moved: moving an element takes the focus out of it.
    const here = view.services.children[index] ?? null;
    if (here !== card.root) view.services.insertBefore(card.root, here);
    index++;
  }
  if (index > 0) while (view.services.children.length > index) view.services.lastElementChild?.remove();
  renderEvents(view.events, state.events);
  renderCertificates(view.certificates, state.certificates, now);
}

function showAlert(message: string | null): void {
  view.alert.hidden = message === null;
  view.alert.textContent = message ?? '';
}

function showStatus(status: StreamStatus): void {
  const text =
    status.state === 'live'
      ? '● Live'
      : status.state === 'connecting'
        ? '… Connecting'
        : `○ Disconnected since ${clock(new Date(status.since).toISOString())} — reconnecting`;
  view.connection.textContent = text;
  view.connection.dataset.state = status.state;
}

// ---- loading -------------------------------------------------------------------------

async function loadHistory(name: string): Promise<void> {
  const answer = await api.call<{ history: readonly HistoryEntry[] }>('GET', `/v1/services/${encodeURIComponent(name)}/history`);
  state.history.set(name, answer.history);
}

/** Everything, after connecting or reconnecting (events may have been missed meanwhile). */
async function loadAll(): Promise<void> {
  const [list, certificates, figures] = await Promise.all([
    api.call<ServicesList>('GET', '/v1/services'),
    api.call<{ certificates: readonly Certificate[] }>('GET', '/v1/certificates'),
    api.call<FiguresHistory>('GET', '/v1/figures'),
  ]);
  state.services = new Map(list.services.map((s) => [s.name, s]));
  state.certificates = certificates.certificates;
  state.figures = { enabled: figures.enabled, window_ms: figures.window_ms, points: [...figures.points] };
  // Figures ticks arrive every interval_ms: a longer silence means a dead connection.
  stream.silence = Math.max(4 * figures.interval_ms, 10_000);
  await Promise.all(list.services.map((s) => loadHistory(s.name)));
  redraw();
}

/** One service again, after an event about it; calls for the same service do not pile up. */
const reloading = new Map<string, boolean>();
async function loadService(name: string): Promise<void> {
  if (reloading.has(name)) {
    reloading.set(name, true);
    return;
  }
  reloading.set(name, false);
  try {
    do {
      reloading.set(name, false);
      const [service] = await Promise.all([api.call<ServiceView>('GET', `/v1/services/${encodeURIComponent(name)}`), loadHistory(name)]);
      state.services.set(name, service);
      redraw();
    } while (reloading.get(name) === true);
  } catch (err) {
    handleFailure(err);
  } finally {
    reloading.delete(name);
  }
}

async function loadCertificates(): Promise<void> {
  try {
    state.certificates = (await api.call<{ certificates: readonly Certificate[] }>('GET', '/v1/certificates')).certificates;
    redraw();
  } catch (err) {
    handleFailure(err);
  }
}

/** A refused token sends the page back to the token form; anything else is shown as the API words it. */
function handleFailure(err: unknown): void {
  if (err instanceof ApiError && err.status === 401) {
    askForToken(token ? 'The token was refused (401 UNAUTHORIZED). Enter it again.' : null);
    return;
  }
  // Unreachable while disconnected is already said by the connection indicator.
  if (err instanceof ApiError && err.status === 0) return;
  showAlert(err instanceof ApiError ? err.text : String(err));
}

// ---- live updates ----------------------------------------------------------------------

function patchHealth(event: Extract<StreamEvent, { type: 'health' }>): void {
  const service = state.services.get(event.service);
  const stack = service?.stacks[event.stack];
  if (!service || !stack) return;
  // Shown at once; the service is reloaded right after for the full picture.
  const targets = stack.targets.map((t) =>
    t.address !== event.target
      ? t
      : event.source === 'passive'
        ? { ...t, available: false }
        : { ...t, healthy: event.healthy, available: event.healthy, last_check: event.time, last_error: event.error },
  );
  const healthy_targets = targets.filter((t) => t.available).length;
  state.services.set(event.service, { ...service, stacks: { ...service.stacks, [event.stack]: { ...stack, targets, healthy_targets } } });
}

/** The targets' last checks from a figures tick: checks are not events, this keeps "checked 2 s ago" true. */
function applyChecks(checks: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, string | null>>>>>>): void {
  for (const [name, service] of state.services) {
    const stacks = Object.fromEntries(
      Object.entries(service.stacks).map(([stackName, stack]) => {
        const times = checks[name]?.[stackName];
        return [stackName, times ? { ...stack, targets: stack.targets.map((t) => ({ ...t, last_check: times[t.address] ?? t.last_check })) } : stack];
      }),
    );
    state.services.set(name, { ...service, stacks });
  }
}

function onEvent(event: StreamEvent): void {
  if (event.type === 'figures') {
    if (state.figures.enabled) state.figures.points.push(event);
    if (state.figures.points.length > POINTS_KEPT) state.figures.points.splice(0, state.figures.points.length - POINTS_KEPT);
    if (event.checks) applyChecks(event.checks);
    redraw();
    return;
  }
  state.events.unshift(event);
  if (state.events.length > EVENTS_KEPT) state.events.length = EVENTS_KEPT;
  switch (event.type) {
    case 'health':
      patchHealth(event);
      void loadService(event.service);
      break;
    case 'switch':
    case 'weights':
    case 'rollback':
    case 'targets':
    case 'rollout':
    case 'overrides':
      void loadService(event.service);
      break;
    case 'certificate':
      void loadCertificates();
      break;
    case 'reload':
      void loadAll().catch(handleFailure);
      break;
    default:
      break;
  }
  redraw();
}

/** base64url without padding, of the UTF-8 bytes (the subprotocol grammar allows no `=`, `+` or `/`). */
function base64url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

const stream = new EventStream({
  protocols: () => (token ? ['switchyard.v1', `bearer.${base64url(token)}`] : ['switchyard.v1']),
  onEvent,
  onOpen: () => {
    showAlert(null);
    loadAll().catch(handleFailure);
  },
  onStatus: showStatus,
  // Down, or the token refused: one plain call tells which.
  onRefused: () => void api.call('GET', '/v1/services').catch(handleFailure),
});

// ---- actions ---------------------------------------------------------------------------

/** A change answered with the service's new state: shown at once, its history reloaded. */
async function applied(service: ServiceView): Promise<number> {
  state.services.set(service.name, service);
  await loadHistory(service.name).catch(() => undefined);
  redraw();
  return service.generation;
}

const withReason = (reason: string) => (reason === '' ? {} : { reason });
const path = (service: string, action: string) => `/v1/services/${encodeURIComponent(service)}/${action}`;

const actions = {
  async switchTo(service: string, stack: string, reason: string, generation: number) {
    return applied(await api.call<ServiceView>('POST', path(service, 'switch'), { body: { to: stack, ...withReason(reason) }, ifMatch: generation }));
  },
  async setWeights(service: string, weights: Record<string, number>, reason: string, generation: number) {
    return applied(await api.call<ServiceView>('PUT', path(service, 'weights'), { body: { weights, ...withReason(reason) }, ifMatch: generation }));
  },
  async rollback(service: string, reason: string, generation: number) {
    return applied(await api.call<ServiceView>('POST', path(service, 'rollback'), { body: withReason(reason), ifMatch: generation }));
  },
  async rollout(service: string, action: 'promote' | 'pause' | 'resume' | 'abort', body: Record<string, unknown>) {
    await api.call('POST', path(service, `rollout/${action}`), { body });
    await loadService(service);
    redraw();
  },
};

// ---- token -----------------------------------------------------------------------------

function askForToken(problem: string | null): void {
  stream.stop();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  view.dashboard.hidden = true;
  view.logout.hidden = true;
  view.login.hidden = false;
  view.loginError.textContent = problem ?? '';
  view.connection.textContent = '○ Not signed in';
  view.connection.dataset.state = 'disconnected';
  view.loginInput.focus();
}

async function start(): Promise<void> {
  view.login.hidden = true;
  view.dashboard.hidden = false;
  view.logout.hidden = token === null;
  try {
    await loadAll();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return askForToken(token ? 'The token was refused (401 UNAUTHORIZED).' : null);
    handleFailure(err);
  }
  stream.start();
}

view.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const typed = view.loginInput.value.trim();
  if (typed === '') return;
  const candidate = new Api(() => typed);
  candidate.call('GET', '/v1/services').then(
    () => {
      token = typed;
      sessionStorage.setItem(TOKEN_KEY, typed);
      view.loginInput.value = '';
      view.loginError.textContent = '';
      void start();
    },
    (err: unknown) => {
      view.loginError.textContent = err instanceof ApiError ? err.text : String(err);
      view.loginInput.select();
    },
  );
});

view.logout.addEventListener('click', () => askForToken(null));

// "checked 5 s ago" stays true between events: a local clock, no request.
window.setInterval(redraw, 5000);

void start();
