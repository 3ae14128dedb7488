/** Local wall-clock time of an ISO instant, HH:MM:SS. */
export function clock(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString(undefined, { hour12: false });
}

/** Local date and time of an ISO instant. */
export function dateTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { hour12: false });
}

/** "4 s ago", "3 min ago", "2 h ago". */
export function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** Each stack's share of the total weight, in percent (rounded), by stack name. */
export function shares(weights: Readonly<Record<string, number>>): Record<string, number> {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(weights).map(([name, w]) => [name, total > 0 ? Math.round((w / total) * 1000) / 10 : 0]));
}

/** "blue 90 · green 10". */
export function weightsText(weights: Readonly<Record<string, number>>): string {
  return Object.entries(weights)
    .map(([name, w]) => `${name} ${w}`)
    .join(' · ');
}

/** A ratio 0..1 as a percentage with one decimal, or an em dash. */
export function percent(ratio: number | null): string {
  return ratio === null ? '—' : `${(ratio * 100).toFixed(1)} %`;
}

/** Requests per second, short. */
export function rate(rps: number): string {
  return rps >= 100 ? rps.toFixed(0) : rps.toFixed(1);
}

/** Milliseconds, short; an em dash for none. */
export function millis(ms: number | null): string {
  if (ms === null) return '—';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/** Whole days from now until an ISO instant (negative once past). */
export function daysUntil(iso: string, now: number): number {
  return Math.floor((Date.parse(iso) - now) / 86_400_000);
}
