import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { TargetRegistry } from '../../src/pool/registry.js';
import { buildSnapshot } from '../../src/routing/snapshot.js';
import { chooseStack, type ServiceRoute } from '../../src/routing/service-route.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** The route of service `web` with `weights` over stacks in that order, built as the proxy builds it. */
function route(weights: Record<string, number>, service: Record<string, unknown> = {}): ServiceRoute {
  const stacks = Object.fromEntries(Object.keys(weights).map((name, i) => [name, { targets: [`127.0.0.1:${1000 + i}`] }]));
  const config = validateConfig({ listeners: [{ name: 'http', port: 0 }], services: [{ name: 'web', stacks, ...service }] });
  const states = new Map([['web', { generation: 1, weights, targets: {}, history: [] }]]);
  const built = buildSnapshot(config, states, new TargetRegistry(), 1).services.get('web');
  if (built === undefined) throw new Error('no route');
  return built;
}

/** Makes the weighted draw land at `fraction` of the total weight. */
function drawAt(fraction: number): void {
  vi.spyOn(Math, 'random').mockReturnValue(fraction);
}

const chosen = (r: ServiceRoute, cookie?: string): string => chooseStack(r, cookie).name;

describe('chooseStack', () => {
  describe('one stack with all the weight', () => {
    it('returns it without drawing, whatever the cookie says', () => {
      const r = route({ blue: 0, green: 100 }, { sticky: 'cookie' });
      const random = vi.spyOn(Math, 'random');
      expect(chosen(r)).toBe('green');
      expect(chosen(r, 'switchyard.web=blue')).toBe('green');
      expect(chosen(r, 'switchyard.web=green')).toBe('green');
      expect(random).not.toHaveBeenCalled();
    });

    it('serves `active` from config alone (no stored weights) on every request', () => {
      const config = validateConfig({
        listeners: [{ name: 'http', port: 0 }],
        services: [{ name: 'web', active: 'green', stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } }],
      });
      const r = buildSnapshot(config, new Map(), new TargetRegistry(), 1).services.get('web')!;
      for (let i = 0; i < 20; i++) expect(chosen(r)).toBe('green');
    });
  });

  describe('split weights', () => {
    it('draws by cumulative weight: [0, 80) blue, [80, 100) green', () => {
      const r = route({ blue: 80, green: 20 });
      for (const [fraction, stack] of [
        [0, 'blue'],
        [0.5, 'blue'],
        [0.7999, 'blue'],
        [0.8, 'green'],
        [0.9999, 'green'],
      ] as const) {
        drawAt(fraction);
        expect(chosen(r), `draw at ${fraction}`).toBe(stack);
      }
    });

    it('never draws a stack at weight 0 between two weighted ones, even on the boundary', () => {
      const r = route({ blue: 50, green: 0, red: 50 });
      drawAt(0.4999);
      expect(chosen(r)).toBe('blue');
      drawAt(0.5);
      expect(chosen(r)).toBe('red');
    });

    it('works with weights that do not add up to 100', () => {
      const r = route({ blue: 1, green: 3 });
      drawAt(0.2499);
      expect(chosen(r)).toBe('blue');
      drawAt(0.25);
      expect(chosen(r)).toBe('green');
    });

    it('splits real draws close to the weights (10,000 draws at 80/20)', () => {
      const r = route({ blue: 80, green: 20 });
      let green = 0;
      for (let i = 0; i < 10_000; i++) if (chosen(r) === 'green') green++;
      // Binomial: mean 2,000, standard deviation 40; ±5 standard deviations.
      expect(green).toBeGreaterThan(1800);
      expect(green).toBeLessThan(2200);
    });
  });

  describe('sticky: cookie', () => {
    const sticky = () => route({ blue: 50, green: 50 }, { sticky: 'cookie' });

    it('keeps a client on the stack its cookie names while that stack has weight', () => {
      drawAt(0);
      expect(chosen(sticky(), 'switchyard.web=green')).toBe('green');
      drawAt(0.99);
      expect(chosen(sticky(), 'switchyard.web=blue')).toBe('blue');
    });

    it('finds the cookie among others and trims blanks around its value', () => {
      drawAt(0);
      expect(chosen(sticky(), 'a=1; switchyard.web=green; b=2')).toBe('green');
      expect(chosen(sticky(), 'a=1;switchyard.web=green')).toBe('green');
      expect(chosen(sticky(), 'switchyard.web= green ;b=2')).toBe('green');
    });

    it('draws when the cookie is missing, names an unknown stack, or only ends with the cookie name', () => {
      drawAt(0);
      expect(chosen(sticky())).toBe('blue');
      expect(chosen(sticky(), 'a=1')).toBe('blue');
      expect(chosen(sticky(), 'switchyard.web=purple')).toBe('blue');
      expect(chosen(sticky(), 'xswitchyard.web=green')).toBe('blue');
      expect(chosen(sticky(), 'other=switchyard.web=green')).toBe('blue');
    });

    it('draws when the cookie names a stack that lost its weight', () => {
      const r = route({ blue: 50, green: 50, red: 0 }, { sticky: 'cookie' });
      drawAt(0.99);
      expect(chosen(r, 'switchyard.web=red')).toBe('green');
    });

    it('uses a cookie named after its own service only', () => {
      drawAt(0);
      expect(chosen(sticky(), 'switchyard.api=green')).toBe('blue');
    });
  });

  it('ignores the cookie with sticky: none (the default)', () => {
    const r = route({ blue: 50, green: 50 });
    drawAt(0);
    expect(chosen(r, 'switchyard.web=green')).toBe('blue');
  });
});
