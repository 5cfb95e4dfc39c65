// Starts one platform fake on 127.0.0.1 and prints its webhook URL; for benchmarks and trying pp by hand.
// Usage: bun bench/fake-server.ts wecom [--no-rate]
import { startFake, type FakeType } from "../test/fakes/index.ts";

const type = (process.argv[2] ?? "webhook") as FakeType;
const fake = await startFake(type, process.argv.includes("--no-rate") ? { rate: false } : {});
console.log(fake.webhook);
process.on("SIGTERM", () => fake.stop().then(() => process.exit(0)));
process.on("SIGINT", () => fake.stop().then(() => process.exit(0)));
