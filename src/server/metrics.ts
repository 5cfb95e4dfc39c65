import type { DeliveryEvents, RequestLine } from "./context.ts";

/** Upper bounds (seconds) of the request latency histogram. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A label value in the Prometheus text format: backslash, quote and newline escaped. */
const label = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

const PER_CHANNEL = [
  ["accepted", "pp_messages_accepted_total", "Deliveries accepted by the API, by channel."],
  ["delivered", "pp_deliveries_delivered_total", "Deliveries delivered, by channel."],
  ["failed", "pp_deliveries_failed_total", "Deliveries that failed, by channel."],
  ["retried", "pp_deliveries_retried_total", "Requests tried again after a retryable failure, by channel."],
  ["expired", "pp_deliveries_expired_total", "Deliveries not made before the message expired, by channel."],
] as const;

type Counter = (typeof PER_CHANNEL)[number][0];

export type Metrics = DeliveryEvents & { metricsText(depth: number): string; request(line: RequestLine): void };

/** The daemon's counters in memory; GET /metrics renders them as Prometheus text 0.0.4. */
export function createMetrics(): Metrics {
  const counts = new Map<Counter, Map<string, number>>(PER_CHANNEL.map(([k]) => [k, new Map()]));
  const waits = new Map<string, number>();
  // By route, then status: no key is built per request. Counted in order of first sight, as they are shown.
  // Each also holds the latency histogram of its route and status: `buckets[i]` counts the requests in bucket i
  // alone; the text adds them up, as Prometheus wants.
  type Seen = { route: string; status: number; n: number; buckets: number[]; sum: number };
  const requests = new Map<string, Map<number, Seen>>();
  const seen: Seen[] = [];
  const add = (m: Map<string, number>, key: string, n = 1) => m.set(key, (m.get(key) ?? 0) + n);
  const bump = (k: Counter) => (channel: string) => add(counts.get(k)!, channel);

  return {
    accepted: bump("accepted"),
    delivered: bump("delivered"),
    failed: bump("failed"),
    retried: bump("retried"),
    expired: bump("expired"),
    rateWait: (channel, ms) => add(waits, channel, Math.max(0, ms) / 1000),
    request(line) {
      let byStatus = requests.get(line.route);
      if (!byStatus) requests.set(line.route, (byStatus = new Map()));
      let h = byStatus.get(line.status);
      if (!h) {
        h = { route: line.route, status: line.status, n: 0, buckets: BUCKETS.map(() => 0), sum: 0 };
        byStatus.set(line.status, h);
        seen.push(h);
      }
      h.n++;
      const s = Math.max(0, line.latencyMs) / 1000;
      let i = 0;
      while (i < BUCKETS.length && !(s <= BUCKETS[i]!)) i++;
      if (i < BUCKETS.length) h.buckets[i]!++;
      h.sum += s;
    },
    metricsText(depth) {
      const out: string[] = [];
      const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [k, name, help] of PER_CHANNEL) {
        family(name, "counter", help);
        for (const [ch, n] of counts.get(k)!) out.push(`${name}{channel="${label(ch)}"} ${n}`);
      }
      family("pp_rate_limit_wait_seconds_total", "counter", "Time deliveries waited for a rate limit, by channel.");
      for (const [ch, s] of waits) out.push(`pp_rate_limit_wait_seconds_total{channel="${label(ch)}"} ${s}`);
      family("pp_queue_depth", "gauge", "Deliveries queued or being sent.");
      out.push(`pp_queue_depth ${depth}`);
      family("pp_http_requests_total", "counter", "HTTP requests, by route template and status.");
      for (const r of seen) out.push(`pp_http_requests_total{route="${label(r.route)}",status="${r.status}"} ${r.n}`);
      family("pp_http_request_duration_seconds", "histogram", "HTTP request latency, by route template and status.");
      for (const h of seen) {
        const l = `route="${label(h.route)}",status="${h.status}"`;
        let below = 0;
        BUCKETS.forEach((b, i) => out.push(`pp_http_request_duration_seconds_bucket{${l},le="${b}"} ${(below += h.buckets[i]!)}`));
        out.push(`pp_http_request_duration_seconds_bucket{${l},le="+Inf"} ${h.n}`);
        out.push(`pp_http_request_duration_seconds_sum{${l}} ${h.sum}`);
        out.push(`pp_http_request_duration_seconds_count{${l}} ${h.n}`);
      }
      return `${out.join("\n")}\n`;
    },
  };
}
