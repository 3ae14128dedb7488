/**
 * The q-quantile of a histogram given by cumulative bucket counts, interpolated linearly
 * inside its bucket as Prometheus' `histogram_quantile` does; a rank beyond the last finite
 * bucket answers that bucket's bound. Seconds, or null when `count` is 0.
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: readonly number[], count: number): number | null {
  if (count <= 0) return null;
  const rank = q * count;
  for (let i = 0; i < bounds.length; i++) {
    const upTo = cumulative[i] ?? 0;
    if (upTo < rank) continue;
    const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
    const below = i === 0 ? 0 : (cumulative[i - 1] ?? 0);
    const inside = upTo - below;
    return inside > 0 ? lower + ((bounds[i] ?? 0) - lower) * ((rank - below) / inside) : lower;
  }
  return bounds.at(-1) ?? null;
}
