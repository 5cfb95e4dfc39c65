/**
 * Writes src/channels/catalog.ts, the channel types with their config keys and default rates as `pp --help`
 * lists them, from the channel schemas. Run it after adding a channel type or changing a schema's keys:
 *
 *   bun scripts/catalog.ts
 */
import { join } from "node:path";
import { commonFields } from "../src/channels/_common.ts";
import { catalogModule, describeType } from "../src/channels/describe.ts";
import { channelList } from "../src/channels/index.ts";

export const CATALOG_PATH = join(import.meta.dir, "..", "src", "channels", "catalog.ts");

export function catalogText(): string {
  const common = Object.keys(commonFields);
  return catalogModule(channelList().map((d) => describeType(d, common)), common);
}

if (import.meta.main) {
  await Bun.write(CATALOG_PATH, catalogText());
  console.log(`wrote ${CATALOG_PATH}`);
}
