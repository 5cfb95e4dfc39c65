// The floor for a durable POST: Bun.serve that parses the JSON body, inserts it, and answers once the row is
// committed with synchronous = FULL, the commits of concurrent requests grouped into one transaction per turn of
// the event loop. What pp serve adds beyond this (routing, auth, idempotency, deliveries, logging) is its own
// cost; the rest is the disk's. Prints its URL. FLOOR_DB names the database file.
import { Database } from "bun:sqlite";

const db = new Database(process.env.FLOOR_DB ?? "floor.db", { create: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = FULL");
db.run("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created_at INTEGER NOT NULL)");
const insert = db.prepare("INSERT INTO messages (text, created_at) VALUES (?, ?)");

let batch: { text: string; done: (id: number) => void }[] = [];
const flush = () => {
  const b = batch;
  batch = [];
  const ids: number[] = [];
  db.transaction(() => {
    const now = Date.now();
    for (const m of b) ids.push(Number(insert.run(m.text, now).lastInsertRowid));
  })();
  b.forEach((m, i) => m.done(ids[i]!));
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = (await req.json()) as { msg?: unknown };
    if (typeof body.msg !== "string") return Response.json({ code: "invalid_argument" }, { status: 400 });
    const id = await new Promise<number>((done) => {
      batch.push({ text: body.msg as string, done });
      if (batch.length === 1) setImmediate(flush);
    });
    return Response.json({ code: "ok", msg: "success", id: String(id) });
  },
});
console.log(`http://127.0.0.1:${server.port}`);
process.on("SIGTERM", () => server.stop(true).then(() => process.exit(0)));
