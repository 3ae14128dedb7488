import { s } from './dom.js';

const WIDTH = 120;
const HEIGHT = 28;

/**
 * A small line of the last values (oldest first), scaled to its own maximum; marked
 * points where `alarm` holds (e.g. 5xx seen). Decorative: the figures beside it carry the
 * numbers, so it is hidden from assistive technology.
 */
export function sparkline(values: readonly number[], alarm: readonly boolean[]): SVGSVGElement {
  const svg = s('svg', { class: 'spark', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, 'aria-hidden': 'true', focusable: 'false' });
  // One point draws no line: take no room until there are two.
  if (values.length < 2) {
    svg.classList.add('empty');
    return svg;
  }
  const max = Math.max(...values, 0.0001);
  const step = WIDTH / (values.length - 1);
  const y = (v: number) => (HEIGHT - 2 - (v / max) * (HEIGHT - 4)).toFixed(1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(' ');
  svg.append(s('polyline', { class: 'spark-line', points }));
  values.forEach((v, i) => {
    if (alarm[i]) svg.append(s('circle', { class: 'spark-alarm', cx: (i * step).toFixed(1), cy: y(v), r: 2 }));
  });
  return svg;
}
