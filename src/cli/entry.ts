/**
 * Where the compiled binary starts. Shell completion runs `pp channels --names` on every <TAB>: that command line
 * is answered after loading only the config scanner, not main.ts and the modules every other command shares
 * (about a millisecond of a process that should take few more than an empty program). Everything else goes to
 * main(); `bun src/cli/main.ts` starts main() directly, and answers the same command line through the command.
 */
import { namesOnly, printNames } from "./names.ts";

const argv = process.argv.slice(2);
const names = namesOnly(argv);
if (names) {
  await printNames(names.config);
} else {
  const { main } = await import("./main.ts");
  // Not process.exit(): it can cut off output still being written to a pipe (pp log --json | jq).
  process.exitCode = await main(argv);
}
