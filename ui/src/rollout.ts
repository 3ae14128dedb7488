import { ApiError } from './api.js';
import { confirmChange } from './confirm.js';
import { h } from './dom.js';
import { weightsText } from './format.js';
import type { RolloutStepView, RolloutView, ServiceView } from './types.js';

/** What the rollout buttons do (SPEC §10); each resolves once the API answered. */
export interface RolloutHandlers {
  rollout(service: string, action: 'promote' | 'pause' | 'resume' | 'abort', body: Record<string, unknown>): Promise<void>;
}

/** `1 min 12 s`, `45 s`: what is left of a pause. */
function left(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function stepText(step: RolloutStepView | undefined): string {
  if (step === undefined) return '—';
  if ('weight' in step) return `weight ${step.weight}`;
  if ('analysis' in step) return 'analysis';
  return typeof step.pause === 'object' ? 'pause until promoted' : `pause ${step.pause}`;
}

/** The time left in the current pause, from its stored end (so the page counts down between updates). */
function pauseLeft(rollout: RolloutView, now: number): number | undefined {
  if (rollout.pause === null) return undefined;
  return rollout.pause.until === null ? rollout.pause.remaining_ms : Date.parse(rollout.pause.until) - now;
}

/**
 * The rollout of one service: from → to, state, the step and a progress bar, the time left
 * in a pause, the last analysis figures and the reason; Promote, Promote fully,
 * Pause/Resume and Abort, each behind a confirmation. Hidden while the service never had a
 * rollout. Built once and updated in place, so live updates never take the focus away.
 */
export class RolloutPanel {
  readonly root: HTMLElement;
  private readonly name: string;
  private readonly handlers: RolloutHandlers;
  private rollout: RolloutView | null = null;
  private busy = false;
  private readonly summary: HTMLElement;
  private readonly progress: HTMLProgressElement;
  private readonly figures: HTMLElement;
  private readonly reason: HTMLElement;
  private readonly buttons: HTMLElement;
  private readonly promote: HTMLButtonElement;
  private readonly full: HTMLButtonElement;
  private readonly hold: HTMLButtonElement;
  private readonly abort: HTMLButtonElement;
  private readonly ok: HTMLElement;
  private readonly error: HTMLElement;

  constructor(name: string, handlers: RolloutHandlers) {
    this.name = name;
    this.handlers = handlers;
    this.summary = h('p', { class: 'rollout-summary' });
    this.progress = h('progress', { max: 1, value: 0, 'aria-label': `Rollout steps of ${name}` });
    this.figures = h('p', { class: 'rollout-figures muted' });
    this.reason = h('p', { class: 'rollout-reason' });
    this.promote = h('button', { type: 'button', class: 'switch', onclick: () => void this.act('promote') }, 'Promote');
    this.full = h('button', { type: 'button', class: 'quiet', onclick: () => void this.act('full') }, 'Promote fully');
    this.hold = h('button', { type: 'button', class: 'quiet', onclick: () => void this.act(this.rollout?.state === 'paused' ? 'resume' : 'pause') }, 'Pause');
    this.abort = h('button', { type: 'button', class: 'rollback', onclick: () => void this.act('abort') }, 'Abort');
    this.buttons = h('div', { class: 'switch-row' }, this.promote, this.full, this.hold, this.abort);
    // Not `.result`: the actions panel's outcome lines are found by that class.
    this.ok = h('p', { class: 'rollout-result good', role: 'status' });
    this.error = h('p', { class: 'rollout-result bad', role: 'alert' });
    this.root = h(
      'section',
      { class: 'rollout actions', 'aria-label': `Rollout of ${name}`, hidden: true },
      h('h3', null, 'Rollout'),
      this.summary,
      this.progress,
      this.figures,
      this.reason,
      this.buttons,
      this.ok,
      this.error,
    );
  }

  /** Shows the service's rollout (hidden when it never had one). */
  update(service: ServiceView, now: number): void {
    const rollout = service.rollout ?? null;
    this.rollout = rollout;
    this.root.hidden = rollout === null;
    if (rollout === null) return;
    const total = rollout.steps.length;
    const done = rollout.state === 'completed' ? total : rollout.step;
    const pause = pauseLeft(rollout, now);
    this.root.dataset.state = rollout.state;
    this.summary.textContent = `${rollout.from} → ${rollout.to} · ${rollout.state} · step ${rollout.step + 1}/${total}: ${stepText(rollout.steps[rollout.step])}${
      pause === undefined ? '' : ` · ${left(pause)} left${rollout.state === 'paused' ? ' (held)' : ''}`
    } · ${weightsText(service.weights)}`;
    this.progress.max = total;
    this.progress.value = done;
    const summary = rollout.analysis?.summary;
    this.figures.textContent = typeof summary === 'string' ? `Last measurement: ${summary}` : '';
    this.reason.textContent = rollout.reason !== null && rollout.reason !== 'completed' ? rollout.reason : '';
    this.reason.className = `rollout-reason${rollout.state === 'aborted' ? ' bad' : ''}`;
    const live = rollout.state === 'running' || rollout.state === 'paused';
    this.buttons.hidden = !live;
    for (const button of [this.promote, this.full, this.hold, this.abort]) button.disabled = this.busy || !live;
    this.hold.textContent = rollout.state === 'paused' ? 'Resume' : 'Pause';
  }

  private async act(action: 'promote' | 'full' | 'pause' | 'resume' | 'abort'): Promise<void> {
    const rollout = this.rollout;
    if (!rollout || this.busy) return;
    const target = `${this.name} → ${rollout.to}`;
    const asks = {
      promote: {
        title: `Promote the rollout of ${target}?`,
        lines: ['Skips what the rollout waits for now (a pause, an analysis or a gate).'],
        confirm: 'Promote',
      },
      full: { title: `Promote ${target} fully?`, lines: [`${rollout.to} gets 100 % at once and the rollout completes.`], confirm: 'Promote fully' },
      pause: { title: `Pause the rollout of ${target}?`, lines: ['It holds where it is; a running pause keeps what is left of it.'], confirm: 'Pause' },
      resume: { title: `Resume the rollout of ${target}?`, lines: ['It goes on from where it was held.'], confirm: 'Resume' },
      abort: { title: `Abort the rollout of ${target}?`, lines: [`All traffic goes back to ${rollout.from} at once.`], confirm: 'Abort' },
    } as const;
    const answer = await confirmChange(asks[action]);
    if (!answer) return;
    const body = action === 'full' ? { full: true } : action === 'abort' && answer.reason !== '' ? { reason: answer.reason } : {};
    this.busy = true;
    this.ok.textContent = '';
    this.error.textContent = '';
    try {
      await this.handlers.rollout(this.name, action === 'full' ? 'promote' : action, body);
      this.ok.textContent = `${asks[action].confirm}: done.`;
    } catch (err) {
      this.error.textContent = err instanceof ApiError ? err.text : String(err);
    } finally {
      this.busy = false;
    }
  }
}
