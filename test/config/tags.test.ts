/**
 * Tags: `tags = [...]` on any channel, selected with --tag (repeated: any of them; a,b: all of them), PP_TAGS,
 * pp test --tag and the API's `tags` field.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { flagValues, selection, selectTargets, sendSelection } from "../../src/cli/route.ts";
import { parseConfig } from "../../src/config/load.ts";
import { distinctTargets, tagAlternatives, taggedChannels } from "../../src/config/targets.ts";
import { PpError } from "../../src/core/errors.ts";
import { harness, jsonBody } from "../server/_api.ts";
import { q } from "../helpers.ts";

const FILE = "/etc/pp/config.toml";
const hook = (n: number) => `http://127.0.0.1:9/services/T000/B000/hook${n}XXXX`;
const CONFIG = `
[defaults]
channels = ["plain"]
[channels.web]
type = "slack"
webhook = ${q(hook(1))}
tags = ["prod", "web"]
[channels.db]
type = "slack"
webhook = ${q(hook(2))}
tags = ["prod", "db"]
[channels.stage-db]
type = "slack"
webhook = ${q(hook(3))}
tags = ["staging", "db"]
[channels.plain]
type = "slack"
webhook = ${q(hook(4))}
[channels.phone]
type = "ntfy"
topic = "alerts"
tags = ["warning", "prod"]
[groups]
dbs = ["db", "stage-db"]
`;
const cfg = () => parseConfig(CONFIG, FILE);

function fails(fn: () => unknown): PpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    return e as PpError;
  }
  throw new Error("expected a PpError");
}

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ["PP_CHANNELS", "PP_TAGS", "PP_TO"]) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe("tags in the config", () => {
  test("every type accepts a list of tag names", () => {
    expect(cfg().channels.get("web")!.opts.tags).toEqual(["prod", "web"]);
    expect(cfg().channels.get("plain")!.opts.tags).toBeUndefined();
  });

  test.each([
    ['tags = "prod"', /channels\.web\.tags: must be a list of tag names/],
    ['tags = [""]', /channels\.web\.tags\.0: must be a tag name: one word, without spaces or commas$/],
    ['tags = ["ok", "prod,db"]', /channels\.web\.tags\.1: must be a tag name: one word, without spaces or commas$/],
    ['tags = ["two words"]', /channels\.web\.tags\.0: must be a tag name/],
    ["tags = [1]", /channels\.web\.tags\.0: must be string, not a number/],
  ])("%s is refused", (line, message) => {
    const text = `[channels.web]\ntype = "slack"\nwebhook = ${q(hook(1))}\n${line}\n`;
    expect(fails(() => parseConfig(text, FILE)).message).toMatch(message);
  });

  test("two channels that differ only in tags are one destination; two ntfy channels are not (ntfy sends them)", () => {
    const c = parseConfig(`
[channels.a]
type = "slack"
webhook = ${q(hook(1))}
tags = ["x"]
[channels.b]
type = "slack"
webhook = ${q(hook(1))}
tags = ["y"]
[channels.n1]
type = "ntfy"
topic = "t"
tags = ["x"]
[channels.n2]
type = "ntfy"
topic = "t"
tags = ["y"]
`, FILE);
    expect(distinctTargets(c, ["a", "b", "n1", "n2"]).map((t) => t.name)).toEqual(["a", "n1", "n2"]);
  });
});

describe("selecting channels by tag", () => {
  const sel = (tags: string[]) => taggedChannels(cfg(), tagAlternatives(tags));

  test("one tag: every channel that has it, in config order", () => {
    expect(sel(["prod"])).toEqual(["web", "db", "phone"]);
    expect(sel(["db"])).toEqual(["db", "stage-db"]);
  });

  test("repeated --tag is OR, a,b is AND", () => {
    expect(sel(["web", "staging"])).toEqual(["web", "stage-db"]);
    expect(sel(["prod,db"])).toEqual(["db"]);
    expect(sel(["prod,db", "staging"])).toEqual(["db", "stage-db"]);
    expect(sel([" prod , db "])).toEqual(["db"]);
  });

  test("a tag no channel has is an error naming the near one, or the tags there are", () => {
    expect(fails(() => sel(["prd"])).message).toBe('--tag: no channel has the tag "prd"; did you mean "prod"?');
    expect(fails(() => sel(["prod", "zzzzzz"])).message).toBe('--tag: no channel has the tag "zzzzzz"; tags in use: db, prod, staging, warning, web');
    expect(fails(() => sel(["prod", "zzzzzz"])).exitCode).toBe(2);
  });

  test("tags that all exist but are never on one channel together match nothing: an error, not a silent no-op", () => {
    expect(fails(() => sel(["web,staging"])).message).toBe("--tag: no channel has the tags web and staging; pp channels shows each channel's tags");
  });

  test("a config without tags says how to add them", () => {
    const c = parseConfig(`[channels.a]\ntype = "slack"\nwebhook = ${q(hook(1))}\n`, FILE);
    expect(fails(() => taggedChannels(c, [["prod"]])).message).toBe(`--tag: no channel has the tag "prod"; no channel has tags (add tags = ["..."] to a channel in ${FILE})`);
  });
});

describe("--tag, --ch and the environment together", () => {
  const names = (argv: string[]) => selectTargets(cfg(), sendSelection(argv), undefined).targets.map((t) => t.name);

  test("--tag values are kept whole: the commas mean AND", () => {
    expect(flagValues(["--tag", "prod,db", "--tag=web", "x"], ["tag"], "tag")).toEqual(["prod,db", "web"]);
    expect(fails(() => flagValues(["--tag", " , "], ["tag"], "tag")).message).toBe('--tag " , " names no tag');
  });

  test("--tag alone replaces defaults.channels; with --ch it is the union, each channel once", () => {
    expect(names(["--tag", "staging"])).toEqual(["stage-db"]);
    expect(names(["--ch", "plain", "--tag", "prod,db"])).toEqual(["plain", "db"]);
    expect(names(["--ch", "dbs", "--tag", "db"])).toEqual(["db", "stage-db"]);
    expect(names([])).toEqual(["plain"]);
  });

  test("PP_TAGS: words are alternatives, commas join; the command line replaces it and PP_CHANNELS", () => {
    process.env.PP_TAGS = "prod,db  staging";
    expect(names([])).toEqual(["db", "stage-db"]);
    process.env.PP_CHANNELS = "plain";
    expect(names([])).toEqual(["plain", "db", "stage-db"]);
    expect(names(["--tag", "web"])).toEqual(["web"]);
    process.env.PP_TAGS = "nope";
    expect(fails(() => names([])).message).toBe('PP_TAGS: no channel has the tag "nope"; tags in use: db, prod, staging, warning, web');
    process.env.PP_TAGS = " ";
    expect(fails(() => selection({ ch: [], tags: [], to: [] })).message).toBe('PP_TAGS=" " names no tag; set it to tag names, or unset it');
  });
});

describe("the API's tags field", () => {
  const api = () => {
    const x = harness();
    x.setConfig(parseConfig(CONFIG.replace("[defaults]", `[log]\npath = ${q(join(x.dir, "pp.db"))}\n[defaults]`), join(x.dir, "pp.toml")));
    return x;
  };
  const channelsOf = (x: ReturnType<typeof harness>, id: string) => x.store.queue.message(id)!.deliveries.map((d) => d.channel).sort();

  test("a list is OR, one string is AND, and with channels the union", async () => {
    const x = api();
    const or = await x.call("/api/text", jsonBody({ msg: "m", tags: ["web", "staging"] }));
    expect(or.status).toBe(200);
    expect(channelsOf(x, or.body.id)).toEqual(["stage-db", "web"]);
    const and = await x.call("/api/text", jsonBody({ msg: "m", tags: "prod,db" }));
    expect(channelsOf(x, and.body.id)).toEqual(["db"]);
    const both = await x.call("/api/text", jsonBody({ msg: "m", channels: ["plain"], tags: ["prod,web"] }));
    expect(channelsOf(x, both.body.id)).toEqual(["plain", "web"]);
    x.close();
  });

  test("a tag no channel has is a 400 naming it; a wrong type is a 400", async () => {
    const x = api();
    const r = await x.call("/api/text", jsonBody({ msg: "m", tags: ["prd"] }));
    expect(r.status).toBe(400);
    expect(r.body.msg).toContain('field "tags": no channel has the tag "prd"; did you mean "prod"?');
    expect((await x.call("/api/text", jsonBody({ msg: "m", tags: 3 }))).status).toBe(400);
    expect((await x.call("/api/text", jsonBody({ msg: "m", tags: [] }))).status).toBe(400);
    expect(x.messages()).toBe(0);
    x.close();
  });
});
