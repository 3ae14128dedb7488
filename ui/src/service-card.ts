import { ActionsPanel, type ActionHandlers } from './actions.js';
import { h } from './dom.js';
import { ago, clock, millis, percent, rate, shares, weightsText } from './format.js';
import { type RolloutHandlers, RolloutPanel } from './rollout.js';
import { sparkline } from './sparkline.js';
import type { FiguresPoint, HistoryEntry, ServiceView, StackView, TargetView } from './types.js';

/** What the figures part of a card is drawn from. */
export interface FiguresView {
  readonly enabled: boolean;
  readonly window_ms: number;
  readonly points: readonly FiguresPoint[];
}

/** Entries of the history shown per service, newest first. */
const HISTORY_SHOWN = 8;

type Health = 'up' | 'down' | 'ejected' | 'pending';

/** A target's health in words and a symbol, never by colour alone. */
function healthOf(target: TargetView, now: number): { health: Health; label: string } {
  // An ejection ends without an event: judged from its end time, not from `available` as last fetched.
  if (target.ejected_until !== null && Date.parse(target.ejected_until) > now) return { health: 'ejected', label: '⏸ ejected' };
  if (target.healthy) return { health: 'up', label: '✔ up' };
  if (target.last_check === null && target.last_error === null) return { health: 'pending', label: '… not checked yet' };
  return { health: 'down', label: '✖ down' };
}

function targetItem(target: TargetView, now: number): HTMLElement {
  const { health, label } = healthOf(target, now);
  return h(
    'li',
    { class: `target ${health}`, 'data-health': health, 'data-target': target.address },
    h('span', { class: 'state' }, label),
    h('code', { class: 'address' }, target.address),
    h(
      'span',
      { class: 'check' },
      target.last_check ? h('time', { datetime: target.last_check, title: target.last_check }, `checked ${ago(target.last_check, now)}`) : 'no check yet',
    ),
    health === 'ejected' && target.ejected_until ? h('span', { class: 'ejection' }, `ejected until ${clock(target.ejected_until)}`) : null,
    target.last_error ? h('span', { class: 'last-error' }, `last error: ${target.last_error}`) : null,
  );
}

function figuresLine(service: string, stack: string, figures: FiguresView): HTMLElement {
  if (!figures.enabled) return h('p', { class: 'figures muted' }, 'Live figures need metrics (metrics.enabled).');
  const series = figures.points.map((p) => p.services[service]?.[stack]);
  const latest = series.at(-1);
  const window = `${Math.round(figures.window_ms / 1000)} s`;
  return h(
    'div',
    { class: 'figures' },
    h(
      'dl',
      { title: `over the last ${window}` },
      h('div', null, h('dt', null, 'req/s'), h('dd', { 'data-figure': 'rps' }, latest ? rate(latest.rps) : '—')),
      h(
        'div',
        null,
        h('dt', null, '5xx'),
        h('dd', { 'data-figure': 'errors', class: latest?.error_ratio ? 'bad' : undefined }, percent(latest?.error_ratio ?? null)),
      ),
      h('div', null, h('dt', null, 'p99'), h('dd', { 'data-figure': 'p99' }, millis(latest?.p99_ms ?? null))),
    ),
    sparkline(
      series.map((f) => f?.rps ?? 0),
      series.map((f) => (f?.error_ratio ?? 0) > 0),
    ),
  );
}

function stackSection(service: ServiceView, name: string, stack: StackView, share: number, figures: FiguresView, now: number): HTMLElement {
  const active = name === service.active;
  const up = stack.targets.filter((t) => healthOf(t, now).health === 'up').length;
  return h(
    'section',
    { class: `stack${active ? ' is-active' : ''}`, 'aria-label': `Stack ${name}`, 'data-stack': name },
    h(
      'div',
      { class: 'stack-head' },
      h('h3', null, name),
      h('span', { class: `badge ${active ? 'active' : 'standby'}` }, active ? '● active' : '○ standby'),
      h('span', { class: 'weight' }, `weight ${stack.weight} · ${share} %`),
      h('span', { class: `count ${up === 0 ? 'bad' : up < stack.targets.length ? 'warn' : 'good'}` }, `${up}/${stack.targets.length} up`),
      stack.websockets > 0 ? h('span', { class: 'muted' }, `${stack.websockets} WebSockets`) : null,
    ),
    figuresLine(service.name, name, figures),
    stack.targets.length === 0
      ? h('p', { class: 'muted' }, 'No targets.')
      : h('ul', { class: 'targets', 'aria-label': `Targets of ${name}` }, ...stack.targets.map((t) => targetItem(t, now))),
  );
}

function historyItem(entry: HistoryEntry): HTMLElement {
  return h(
    'li',
    null,
    h('time', { datetime: entry.time, title: entry.time }, clock(entry.time)),
    ' ',
    h('span', { class: 'reason' }, entry.reason),
    ' ',
    h('span', null, `${weightsText(entry.from)} → ${weightsText(entry.to)}`),
    ' ',
    h('span', { class: 'muted' }, `by ${entry.actor}, generation ${entry.generation}`),
  );
}

/**
 * One service: its stacks with weights, health and figures, the actions, its rollout
 * (progress and actions) and its recent history. The actions keep their elements across updates;
 * the read-only parts are redrawn.
 */
export class ServiceCard {
  readonly root: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly stacks: HTMLElement;
  private readonly actions: ActionsPanel;
  private readonly rollout: RolloutPanel;
  private readonly history: HTMLElement;

  constructor(name: string, handlers: ActionHandlers & RolloutHandlers) {
    this.actions = new ActionsPanel(name, handlers);
    this.rollout = new RolloutPanel(name, handlers);
    this.meta = h('p', { class: 'meta' });
    this.stacks = h('div', { class: 'stacks' });
    this.history = h('ol', { class: 'history' });
    this.root = h(
      'article',
      { class: 'service', 'aria-labelledby': `service-${name}`, 'data-service': name },
      h('header', { class: 'service-head' }, h('h2', { id: `service-${name}` }, name), this.meta),
      this.stacks,
      this.actions.root,
      this.rollout.root,
      h('section', { class: 'history-part', 'aria-label': `History of ${name}` }, h('h3', null, 'Recent changes'), this.history),
    );
  }

  /** Draws the current state. */
  update(service: ServiceView, history: readonly HistoryEntry[], figures: FiguresView, now: number): void {
    const where = [service.hosts.length > 0 ? service.hosts.join(', ') : 'any host', service.paths.join(', ')].join(' · ');
    this.meta.textContent = `${where} · active ${service.active} · generation ${service.generation}`;
    const share = shares(service.weights);
    this.stacks.replaceChildren(...Object.entries(service.stacks).map(([name, stack]) => stackSection(service, name, stack, share[name] ?? 0, figures, now)));
    this.actions.update(service, history);
    this.rollout.update(service, now);
    const recent = history.slice(-HISTORY_SHOWN).reverse();
    this.history.replaceChildren(...(recent.length > 0 ? recent.map(historyItem) : [h('li', { class: 'muted' }, 'No change yet.')]));
  }
}
