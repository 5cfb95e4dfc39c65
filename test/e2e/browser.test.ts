/**
 * End-to-end in a real browser: Debian's Chromium (never a downloaded one), driven by playwright-core, against the
 * compiled `pp serve` and local platform fakes. Logs in, sends from /send and watches the delivery arrive, finds
 * the message in /log, opens it and replays it. With PP_SCREENSHOTS=1 it also writes the README's screenshots.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, ROOT } from "./_run.ts";

needBinary();

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "browser-test-token-7c1e5a90d2";
const SHOTS = process.env.PP_SCREENSHOTS === "1";

let wecom: Fake;
let slack: Fake;
let server: ReturnType<typeof Bun.spawn> | undefined;
let browser: Browser | undefined;
let base = "";
let serverLog = "";

/** Starts `pp serve` on a free port and resolves with its address, read from the line it logs when listening. */
async function startServer(cwd: string): Promise<string> {
  const p = Bun.spawn([BIN, "serve", "--listen", "127.0.0.1:0", "--config", join(cwd, "pp.toml")], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1", PP_TOKEN: TOKEN },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  server = p;
  const reader = (p.stderr as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    serverLog += decoder.decode(value, { stream: true });
    const m = /listening on (http:\/\/[^\s"]+)/.exec(serverLog);
    if (m) {
      // Keep draining stderr, so the daemon never blocks on a full pipe.
      void (async () => {
        for (;;) {
          const r = await reader.read().catch(() => ({ done: true, value: undefined }));
          if (r.done) return;
          serverLog += decoder.decode(r.value, { stream: true });
        }
      })();
      return m[1]!;
    }
  }
  throw new Error(`pp serve did not report its address:\n${serverLog}`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  wecom = await startFake("wecom", { rate: false });
  slack = await startFake("slack", { rate: false });
  const dir = tempDir("pp-browser-");
  writeFileSync(join(dir, "pp.toml"), `
[log]
path = ${q(join(dir, "pp.db"))}

[serve]
channels = ["ops"]
# CI runs as root; the daemon would otherwise switch to a user "pp" that does not exist there.
user = "root"

[channels.ops]
type = "wecom"
webhook = ${q(wecom.webhook)}

[channels.team]
type = "slack"
webhook = ${q(slack.webhook)}
`, { mode: 0o600 });
  base = await startServer(dir);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // CI runs as root, where Chromium's sandbox cannot start; the rest keeps it from calling out to the internet.
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) {
    server.kill("SIGTERM");
    await server.exited;
  }
  await wecom?.stop();
  await slack?.stop();
});

const statuses = (page: Page, list: string) => page.$$eval(`${list} .st`, (els) => els.map((e) => e.textContent));

async function allDelivered(page: Page, list: string, n: number): Promise<void> {
  // Runs in the page (this file is type-checked without the DOM's types); a function, since the pages' CSP forbids eval.
  await page.waitForFunction(
    ([sel, count]) => {
      const st = [...(globalThis as any).document.querySelectorAll(sel)].map((e: { textContent: string }) => e.textContent);
      return st.length === count && st.every((s) => s === "delivered");
    },
    [`${list} .st`, n] as const,
    { timeout: 20_000 },
  );
}

async function apiSend(body: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${base}/api/text`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const j = (await r.json()) as { id: string };
  return j.id;
}

async function settled(id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${base}/api/messages/${id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const j = (await r.json()) as { data: { deliveries: { status: string }[] } };
    if (j.data.deliveries.every((d) => !["queued", "pending"].includes(d.status))) return;
    await Bun.sleep(100);
  }
  throw new Error(`message ${id} did not settle`);
}

describe("the pages in Chromium", () => {
  test("log in, send from /send, see it delivered, find it in /log and replay it", async () => {
    const context = await browser!.newContext({ viewport: { width: 960, height: 760 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });

    // Without a session, /send leads to the login form; a wrong token is refused.
    await page.goto(`${base}/send`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.fill('input[name="token"]', "not-the-token");
    await page.click('button[type="submit"]');
    expect(await page.textContent(".problem")).toContain("Wrong token");
    await page.fill('input[name="token"]', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/send`);
    // The refused login's 401 is the one error expected; from here on the console must stay clean.
    problems.length = 0;
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "pp_session")!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    expect(session.value).not.toContain(TOKEN);
    expect(await page.content()).not.toContain(TOKEN);

    // Send to both channels: the default one is ticked already.
    expect(await page.isChecked('input[name="channels"][value="ops"]')).toBe(true);
    await page.check('input[name="channels"][value="team"]');
    await page.fill('input[name="title"]', "Deploy finished");
    await page.selectOption('select[name="format"]', "markdown");
    await page.fill('textarea[name="text"]', "**api** v2.4.1 is live on all 6 hosts\n- migrations: 3 applied\n- duration: 4m12s");
    await page.click('#send button[type="submit"]');
    await page.waitForSelector("#state a", { timeout: 20_000 });
    const id = (await page.textContent("#state a"))!;
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    await allDelivered(page, "#deliveries", 2);
    expect(wecom.accepted().some((r) => JSON.stringify(r.json).includes("v2.4.1"))).toBe(true);
    expect(slack.accepted().some((r) => JSON.stringify(r.json).includes("v2.4.1"))).toBe(true);
    if (SHOTS) await shot(page, "send.png");

    // A few more messages, one of them refused by the platform, so the log has something to show.
    await settled(await apiSend({ msg: "Backup of db1 completed: 182 GiB in 41 min", title: "Nightly backup", channels: ["ops"] }));
    wecom.fault({ kind: "code", code: 93000, msg: "invalid webhook url" }, 1);
    const refused = await apiSend({ msg: "Disk usage on db2 is at 91%", title: "Disk almost full", channels: ["ops"] });
    await settled(refused);

    // Find it in /log and open it.
    await page.goto(`${base}/log`);
    const row = page.locator(".log li", { hasText: "Deploy finished" });
    await expect(row.locator(".st").allTextContents()).resolves.toEqual(["delivered", "delivered"]);
    await expect(page.locator(".log li", { hasText: "Disk almost full" }).locator(".st").textContent()).resolves.toBe("failed");
    await page.selectOption('select[name="status"]', "failed");
    await page.click('.filters button[type="submit"]');
    await page.waitForURL(/status=failed/);
    expect(await page.locator(".log li").count()).toBe(1);
    if (SHOTS) {
      await page.goto(`${base}/log`);
      await shot(page, "log.png");
    }
    await page.goto(`${base}/log`);
    await page.locator(".log li", { hasText: "Deploy finished" }).locator("a").click();
    await page.waitForURL(`${base}/log/${id}`);
    expect(await page.textContent("h1")).toBe("Deploy finished");
    expect(await statuses(page, ".delivery h3")).toEqual(["delivered", "delivered"]);
    expect(await page.locator("table").count()).toBe(2);

    // Replay to ops (delivered, so it is named to send it again) and watch the new message arrive.
    const before = wecom.accepted().length;
    await page.check('#replay input[name="channels"][value="ops"]');
    await page.click('#replay button[type="submit"]');
    await page.waitForSelector("#rstate a", { timeout: 20_000 });
    const replayId = (await page.textContent("#rstate a"))!;
    expect(replayId).not.toBe(id);
    await allDelivered(page, "#rdeliveries", 1);
    expect(wecom.accepted().length).toBe(before + 1);
    await page.goto(`${base}/log/${replayId}`);
    expect(await page.textContent(".facts")).toContain(id);

    // Logging out ends the session: /send asks for the token again.
    await page.click('header button[type="submit"]');
    await page.waitForURL(/\/login$/);
    await page.goto(`${base}/send`);
    expect(new URL(page.url()).pathname).toBe("/login");

    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  test("on a phone-sized screen the send form fits without sideways scrolling", async () => {
    const context = await browser!.newContext({ viewport: { width: 375, height: 700 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name="token"]', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/send`);
    for (const path of ["/send", "/log"]) {
      await page.goto(`${base}${path}`);
      const [scroll, client] = (await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")) as [number, number];
      expect(scroll).toBeLessThanOrEqual(client);
    }
    await context.close();
  }, 60_000);

  test("Swagger UI renders the API from the binary, offline", async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/swagger/`);
    await page.waitForSelector(".opblock-summary-path", { timeout: 20_000 });
    const paths = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.getAttribute("data-path")));
    expect(paths).toContain("/api/text");
    expect(paths).toContain("/api/messages/{id}/replay");
    // Swagger UI lists what it could not resolve or parse in the document here.
    expect(await page.locator(".errors-wrapper").count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

async function shot(page: Page, name: string): Promise<void> {
  const dir = join(ROOT, "examples", "screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name), fullPage: true });
}
