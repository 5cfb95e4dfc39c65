/**
 * Writes completions/ from the command tree: `bun scripts/completions.ts`.
 * With --check, writes nothing and exits 1 when a committed script differs from what the tree gives.
 */
import { join, resolve } from "node:path";
import { completionScript, COMPLETION_FILES, ppSpec, SHELLS } from "../src/cli/completion.ts";

export const COMPLETIONS_DIR = resolve(import.meta.dir, "..", "completions");

/** Each committed file with the text the current tree generates for it. */
export async function expectedCompletions(): Promise<{ file: string; text: string }[]> {
  const spec = await ppSpec();
  return SHELLS.map((s) => ({ file: join(COMPLETIONS_DIR, COMPLETION_FILES[s]), text: completionScript(s, spec) }));
}

if (import.meta.main) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const { file, text } of await expectedCompletions()) {
    const current = await Bun.file(file).text().catch(() => null);
    if (current === text) continue;
    stale++;
    if (check) console.error(`${file} is out of date; run: bun scripts/completions.ts`);
    else {
      await Bun.write(file, text);
      console.log(`wrote ${file}`);
    }
  }
  process.exit(check && stale ? 1 : 0);
}
