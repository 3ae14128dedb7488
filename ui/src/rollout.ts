import type { ServiceView } from './types.js';

/**
 * RESERVED for progressive rollouts (issue 15, SPEC §10): rollout progress with the
 * analysis figures, and the Promote / Pause / Abort actions, each behind a confirmation.
 * The admin API has no rollouts yet, so this region stays empty and hidden; nothing here
 * pretends otherwise. When rollouts land: read the rollout state from the service (or its
 * own endpoint), fill `region`, un-hide it, and refresh it on the rollout events.
 */
export function renderRollout(region: HTMLElement, _service: ServiceView): void {
  region.hidden = true;
  region.replaceChildren();
}
