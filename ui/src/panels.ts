import { h } from './dom.js';
import { clock, dateTime, daysUntil, weightsText } from './format.js';
import type { Certificate, StreamEvent } from './types.js';

/** Certificates closer to expiry than this are flagged (as the API's `expires_soon`). */
const WARN_DAYS = 14;

/** One line of text for an event of the stream. */
export function describeEvent(event: StreamEvent): string {
  switch (event.type) {
    case 'switch':
    case 'weights':
    case 'rollback': {
      const why = event.reason !== event.type ? ` — “${event.reason}”` : '';
      return `${event.type} ${event.service}: ${weightsText(event.from)} → ${weightsText(event.to)}, active ${event.active}${why}`;
    }
    case 'targets':
      return `targets of ${event.service}/${event.stack}: ${event.targets.join(', ') || 'none'}`;
    case 'health': {
      const state = event.healthy ? '✔ up' : event.source === 'passive' ? '⏸ ejected' : '✖ down';
      return `${state}: ${event.service}/${event.stack} ${event.target}${event.error ? ` — ${event.error}` : ''}`;
    }
    case 'failover':
      return `failover ${event.service}: ${event.from} has no healthy target, ${event.to} serves`;
    case 'certificate':
      return `certificate ${event.name} ${event.action}`;
    case 'reload':
      return `configuration reloaded (generation ${event.generation})`;
    case 'figures':
      return 'figures';
    default: {
      // A newer switchyard may send types this page does not know yet.
      const other = event as { type?: unknown; service?: unknown };
      return `${String(other.type)}${typeof other.service === 'string' ? ` ${other.service}` : ''}`;
    }
  }
}

/** Redraws the list of recent events, newest first. */
export function renderEvents(list: HTMLElement, events: readonly StreamEvent[]): void {
  if (events.length === 0) {
    list.replaceChildren(h('li', { class: 'muted' }, 'No event since this page opened.'));
    return;
  }
  list.replaceChildren(
    ...events.map((event) =>
      h(
        'li',
        { class: `event event-${event.type}`, 'data-type': event.type },
        h('time', { datetime: event.time, title: event.time }, clock(event.time)),
        ' ',
        describeEvent(event),
      ),
    ),
  );
}

/** Redraws the certificate table: expiry in days, a warning under 14 days. */
export function renderCertificates(container: HTMLElement, certificates: readonly Certificate[], now: number): void {
  if (certificates.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, 'No certificate installed.'));
    return;
  }
  const items = certificates.map((cert) => {
    const days = daysUntil(cert.not_after, now);
    const state = days < 0 ? 'expired' : days < WARN_DAYS ? 'soon' : 'fine';
    const label = days < 0 ? `✖ expired ${-days} d ago` : days < WARN_DAYS ? `⚠ ${days} d left` : `${days} d left`;
    return h(
      'li',
      { class: `cert ${state}`, 'data-cert': cert.name },
      h('div', { class: 'cert-head' }, h('strong', null, cert.name), h('span', { class: `days ${state}` }, label)),
      h('div', { class: 'hosts' }, cert.hosts.join(', ')),
      h('div', { class: 'muted' }, 'expires ', h('time', { datetime: cert.not_after, title: cert.not_after }, dateTime(cert.not_after))),
    );
  });
  container.replaceChildren(h('ul', { class: 'cert-list' }, ...items));
}
