// Takes `n` slots of a shared 6-per-second limit, printing the time each was granted.
import { openStore } from "../../src/store/index.ts";

const [db, n] = process.argv.slice(2);
const s = openStore(db!);
for (let i = 0; i < Number(n); i++) {
  for (;;) {
    const now = Date.now();
    const wait = s.limiter.acquire("shared", [{ count: 6, windowMs: 1000 }], now).ms;
    if (wait === 0) {
      console.log(now);
      break;
    }
    await Bun.sleep(wait);
  }
}
s.close();
