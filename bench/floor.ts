/**
 * The floor for `pp send`: a compiled Bun program that does only what a send cannot do without, one POST read
 * to the end and two writes to a SQLite file in WAL mode with synchronous=NORMAL (a row before the request, its
 * outcome after), then prints the row's id. bench/run.ts compiles it as pp is compiled and times it with pp.
 *
 *   floor URL BODY   ($FLOOR_DB: the database file)
 */
import { Database } from "bun:sqlite";

const [url, body] = process.argv.slice(2);
const db = new Database(process.env.FLOOR_DB!, { create: true, strict: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = NORMAL");
db.run("CREATE TABLE IF NOT EXISTS sends (id INTEGER PRIMARY KEY, status TEXT NOT NULL, answer TEXT)");
const { id } = db.query("INSERT INTO sends (status) VALUES ('sending') RETURNING id").get() as { id: number };
const res = await fetch(url!, { method: "POST", headers: { "Content-Type": "application/json" }, body });
const answer = await res.text();
db.query("UPDATE sends SET status = ?, answer = ? WHERE id = ?").run(res.ok ? "delivered" : "failed", answer, id);
console.log(id);
