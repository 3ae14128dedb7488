/** The /metrics page of the admin API at `adminUrl`, as text. */
export async function metricsPage(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/metrics`)).text();
}

/** The value of the series written exactly `series` (name and labels, e.g. `up{job="a"}`) on a /metrics page; undefined when it has no such line. */
export function seriesValue(page: string, series: string): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
