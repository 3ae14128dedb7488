import { byId, h } from './dom.js';

/** What a confirmation says. */
export interface Confirmation {
  /** E.g. "Switch demo to green?". */
  readonly title: string;
  /** What will happen, one paragraph each. */
  readonly lines: readonly string[];
  /** Lines shown as warnings (e.g. the receiving stack has no healthy target). */
  readonly warnings?: readonly string[];
  /** The confirming button's label, naming the action ("Switch to green"). */
  readonly confirm: string;
}

/**
 * Asks before a change with the page's one modal dialog; resolves with the optional
 * reason typed (recorded in the history), or null when cancelled (button or Escape).
 * Cancel has the focus first, so a stray Enter changes nothing.
 */
export function confirmChange(confirmation: Confirmation): Promise<{ reason: string } | null> {
  const dialog = byId<HTMLDialogElement>('confirm');
  const reason = byId<HTMLInputElement>('confirm-reason');
  const ok = byId<HTMLButtonElement>('confirm-ok');
  const cancel = byId<HTMLButtonElement>('confirm-cancel');
  byId('confirm-title').textContent = confirmation.title;
  byId('confirm-text').replaceChildren(
    ...confirmation.lines.map((line) => h('p', null, line)),
    ...(confirmation.warnings ?? []).map((line) => h('p', { class: 'warning' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), line)),
  );
  ok.textContent = confirmation.confirm;
  reason.value = '';
  return new Promise((resolve) => {
    const done = (answer: { reason: string } | null) => {
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      reason.removeEventListener('keydown', onKey);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onOk = () => done({ reason: reason.value.trim() });
    const onCancel = () => done(null);
    const onClose = () => done(null);
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Enter') onOk();
    };
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    reason.addEventListener('keydown', onKey);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    cancel.focus();
  });
}
