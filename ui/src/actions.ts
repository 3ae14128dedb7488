import { ApiError } from './api.js';
import { confirmChange } from './confirm.js';
import { h } from './dom.js';
import { clock, shares, weightsText } from './format.js';
import type { HistoryEntry, ServiceView } from './types.js';

/** The changes the actions make; each resolves with the service's new generation, or rejects with an ApiError when the API refuses. */
export interface ActionHandlers {
  switchTo(service: string, stack: string, reason: string, generation: number): Promise<number>;
  setWeights(service: string, weights: Record<string, number>, reason: string, generation: number): Promise<number>;
  rollback(service: string, reason: string, generation: number): Promise<number>;
}

/** Largest weight the API accepts. */
const MAX_WEIGHT = 1_000_000;
const WHOLE = /^\d+$/;

function splitText(weights: Readonly<Record<string, number>>): string {
  const share = shares(weights);
  return Object.keys(weights)
    .map((name) => `${name} ${share[name] ?? 0} %`)
    .join(' · ');
}

/**
 * Switch, weights and rollback for one service. Built once per set of stacks and then
 * updated in place, so live updates never take the focus or a half-typed weight away.
 */
export class ActionsPanel {
  readonly root: HTMLElement;
  private readonly handlers: ActionHandlers;
  private readonly name: string;
  private stacksKey = '';
  private service: ServiceView | undefined;
  private history: readonly HistoryEntry[] = [];
  private busy = false;
  /** The weights were edited and not applied yet: live updates leave the inputs alone. */
  private dirty = false;
  /** Generation the shown outcome is about: a later change (by anyone) makes it stale, and it is cleared. */
  private outcomeGeneration = Number.POSITIVE_INFINITY;
  private switches = new Map<string, HTMLButtonElement>();
  private inputs = new Map<string, HTMLInputElement>();
  private outputs = new Map<string, HTMLOutputElement>();
  private split: HTMLInputElement | undefined;
  private readonly rollbackButton: HTMLButtonElement;
  private readonly applyButton: HTMLButtonElement;
  private readonly resetButton: HTMLButtonElement;
  private readonly hint: HTMLElement;
  private readonly switchRow: HTMLElement;
  private readonly weightRows: HTMLElement;
  private readonly ok: HTMLElement;
  private readonly error: HTMLElement;

  constructor(name: string, handlers: ActionHandlers) {
    this.name = name;
    this.handlers = handlers;
    this.rollbackButton = h('button', { type: 'button', class: 'rollback', onclick: () => void this.rollback() }, '↶ Roll back');
    this.applyButton = h('button', { type: 'button', onclick: () => void this.applyWeights() }, 'Apply weights');
    this.resetButton = h('button', { type: 'button', class: 'quiet', onclick: () => this.resetWeights() }, 'Reset');
    this.hint = h('p', { class: 'hint', id: `weights-hint-${name}` });
    this.switchRow = h('div', { class: 'switch-row' });
    this.weightRows = h('div', { class: 'weight-rows' });
    this.ok = h('p', { class: 'result ok', role: 'status' });
    this.error = h('p', { class: 'result error', role: 'alert' });
    this.root = h(
      'section',
      { class: 'actions', 'aria-label': `Actions for ${name}` },
      h('h3', null, 'Actions'),
      this.switchRow,
      h(
        'fieldset',
        { class: 'weights' },
        h('legend', null, 'Weights'),
        this.weightRows,
        this.hint,
        h('div', { class: 'weight-buttons' }, this.applyButton, this.resetButton),
      ),
      this.ok,
      this.error,
    );
  }

  /** Shows the current state: rebuilds only when the stacks changed. */
  update(service: ServiceView, history: readonly HistoryEntry[]): void {
    this.service = service;
    this.history = history;
    if (service.generation > this.outcomeGeneration) this.showOutcome('', '', Number.POSITIVE_INFINITY);
    const names = Object.keys(service.stacks);
    if (names.join('\u0000') !== this.stacksKey) this.build(names);
    for (const [stack, button] of this.switches) {
      const only = Object.entries(service.weights).every(([name, w]) => (name === stack ? w > 0 : w === 0));
      button.disabled = this.busy || only;
      button.title = only ? `${stack} already has all the traffic` : `Send all traffic of ${service.name} to ${stack}`;
    }
    const last = history.at(-1);
    this.rollbackButton.disabled = this.busy || last === undefined;
    this.rollbackButton.title = last ? `Back to ${weightsText(last.from)}` : 'No change to roll back';
    if (!this.dirty) for (const [stack, input] of this.inputs) input.value = String(service.weights[stack] ?? 0);
    this.refreshWeights();
  }

  private build(names: readonly string[]): void {
    this.stacksKey = names.join('\u0000');
    this.dirty = false;
    this.switches = new Map(
      names.map((stack) => [stack, h('button', { type: 'button', class: 'switch', onclick: () => void this.switchTo(stack) }, `Switch to ${stack}`)]),
    );
    this.switchRow.replaceChildren(...this.switches.values(), this.rollbackButton);
    this.inputs = new Map();
    this.outputs = new Map();
    const rows: HTMLElement[] = [];
    this.split = undefined;
    const [first, second] = names;
    if (names.length === 2 && first !== undefined && second !== undefined) {
      // Two stacks: one slider for the canary share (keyboard: arrows by 1, Page Up/Down by 10).
      this.split = h('input', {
        type: 'range',
        min: 0,
        max: 100,
        step: 1,
        'aria-label': `Share of ${second} in percent`,
        oninput: () => this.slide(first, second),
      });
      rows.push(h('label', { class: 'split' }, h('span', null, `${first} ⇄ ${second}`), this.split));
    }
    for (const stack of names) {
      const input = h('input', {
        type: 'number',
        min: 0,
        max: MAX_WEIGHT,
        step: 1,
        inputmode: 'numeric',
        'aria-describedby': this.hint.id,
        oninput: () => {
          this.dirty = true;
          this.refreshWeights();
        },
        onkeydown: (event: Event) => {
          if ((event as KeyboardEvent).key === 'Enter') void this.applyWeights();
        },
      });
      const output = h('output', { class: 'share' });
      this.inputs.set(stack, input);
      this.outputs.set(stack, output);
      rows.push(h('label', { class: 'weight-row' }, h('span', { class: 'stack-name' }, h('span', { class: 'sr-only' }, 'Weight of '), stack), input, output));
    }
    this.weightRows.replaceChildren(...rows);
  }

  private slide(first: string, second: string): void {
    const share = Number(this.split?.value ?? 0);
    const a = this.inputs.get(first);
    const b = this.inputs.get(second);
    if (!a || !b) return;
    a.value = String(100 - share);
    b.value = String(share);
    this.dirty = true;
    this.refreshWeights();
  }

  /** The typed weights, or the reason they are not valid. */
  private typed(): { weights: Record<string, number> } | { problem: string } {
    const weights: Record<string, number> = {};
    for (const [stack, input] of this.inputs) {
      const text = input.value.trim();
      if (!WHOLE.test(text) || Number(text) > MAX_WEIGHT) return { problem: `The weight of ${stack} must be a whole number from 0 to ${MAX_WEIGHT}.` };
      weights[stack] = Number(text);
    }
    if (Object.values(weights).every((w) => w === 0)) return { problem: 'The weights must not all be zero.' };
    return { weights };
  }

  private refreshWeights(): void {
    const typed = this.typed();
    const share = 'weights' in typed ? shares(typed.weights) : {};
    for (const [stack, output] of this.outputs) output.textContent = stack in share ? `${share[stack]} %` : '—';
    const current = this.service?.weights ?? {};
    const same = 'weights' in typed && Object.entries(typed.weights).every(([stack, w]) => (current[stack] ?? 0) === w);
    this.applyButton.disabled = this.busy || !('weights' in typed) || same;
    this.resetButton.disabled = this.busy || !this.dirty;
    this.hint.textContent = 'problem' in typed ? typed.problem : same ? 'These are the current weights.' : `New split: ${splitText(typed.weights)}.`;
    this.hint.classList.toggle('invalid', 'problem' in typed);
    if (this.split && 'weights' in typed && document.activeElement !== this.split) {
      const names = [...this.inputs.keys()];
      this.split.value = String(Math.round(share[names[1] ?? ''] ?? 0));
    }
    if (this.split) this.split.setAttribute('aria-valuetext', 'weights' in typed ? splitText(typed.weights) : 'invalid weights');
  }

  private resetWeights(): void {
    this.dirty = false;
    if (this.service) this.update(this.service, this.history);
  }

  private async switchTo(stack: string): Promise<void> {
    const service = this.service;
    if (!service) return;
    const view = service.stacks[stack];
    const up = view?.healthy_targets ?? 0;
    const after = Object.fromEntries(Object.keys(service.stacks).map((name) => [name, name === stack ? 100 : 0]));
    const answer = await confirmChange({
      title: `Switch ${service.name} to ${stack}?`,
      lines: [
        `All traffic of ${service.name} goes to ${stack}: ${weightsText(after)}.`,
        `Now: ${splitText(service.weights)}, active ${service.active}.`,
        `${stack} has ${up} of ${view?.targets.length ?? 0} targets up.`,
      ],
      warnings: up === 0 ? [`${stack} has no healthy target: switchyard will refuse the switch (409).`] : [],
      confirm: `Switch to ${stack}`,
    });
    if (answer) await this.run(`Switched ${service.name} to ${stack}.`, () => this.handlers.switchTo(service.name, stack, answer.reason, service.generation));
  }

  private async applyWeights(): Promise<void> {
    const service = this.service;
    const typed = this.typed();
    if (!service || !('weights' in typed) || this.applyButton.disabled) return;
    const weights = typed.weights;
    const starving = Object.entries(weights).filter(([stack, w]) => w > 0 && (service.stacks[stack]?.healthy_targets ?? 0) === 0);
    const answer = await confirmChange({
      title: `Change the weights of ${service.name}?`,
      lines: [`New split: ${splitText(weights)} (weights ${weightsText(weights)}).`, `Now: ${splitText(service.weights)}.`],
      warnings: starving.map(([stack]) => `${stack} would get traffic but has no healthy target: switchyard will refuse (409).`),
      confirm: 'Apply weights',
    });
    if (!answer) return;
    await this.run(`Weights of ${service.name} set: ${splitText(weights)}.`, async () => {
      const generation = await this.handlers.setWeights(service.name, weights, answer.reason, service.generation);
      this.dirty = false;
      return generation;
    });
  }

  private async rollback(): Promise<void> {
    const service = this.service;
    const last = this.history.at(-1);
    if (!service || !last) return;
    const answer = await confirmChange({
      title: `Roll ${service.name} back?`,
      lines: [
        `Back to the weights before the last change (${clock(last.time)}, “${last.reason}”): ${splitText(last.from)}.`,
        `Now: ${splitText(service.weights)}.`,
      ],
      confirm: 'Roll back',
    });
    if (answer) await this.run(`Rolled ${service.name} back.`, () => this.handlers.rollback(service.name, answer.reason, service.generation));
  }

  /** Runs one change with the buttons disabled; shows its outcome as the API words it. */
  private async run(success: string, change: () => Promise<number>): Promise<void> {
    this.busy = true;
    this.root.setAttribute('aria-busy', 'true');
    this.showOutcome('', '', Number.POSITIVE_INFINITY);
    if (this.service) this.update(this.service, this.history);
    try {
      this.showOutcome(success, '', await change());
    } catch (err) {
      this.showOutcome('', err instanceof ApiError ? err.text : String(err), this.service?.generation ?? Number.POSITIVE_INFINITY);
    } finally {
      this.busy = false;
      this.root.removeAttribute('aria-busy');
      if (this.service) this.update(this.service, this.history);
    }
  }

  private showOutcome(ok: string, error: string, generation: number): void {
    this.ok.textContent = ok;
    this.error.textContent = error;
    this.outcomeGeneration = generation;
  }
}
