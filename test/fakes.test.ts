import { afterEach, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { RateLimiter, SlidingWindow } from "./fakes/_base.ts";
import {
  type Fake,
  type FakeOptions,
  type FakeType,
  FAKE_TYPES,
  MATTERMOST_MAX_RUNES,
  startFake,
} from "./fakes/index.ts";

const running: Fake[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((f) => f.stop()));
});

async function start(type: FakeType, opts?: FakeOptions): Promise<Fake> {
  const f = await startFake(type, opts);
  running.push(f);
  return f;
}

function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  init: RequestInit = {},
) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

async function send(
  url: string,
  body: unknown,
  headers?: Record<string, string>,
) {
  const res = await post(url, body, headers);
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

const sleep = (ms: number) => Bun.sleep(ms);

const feishuSign = (ts: string, secret: string) =>
  createHmac("sha256", `${ts}\n${secret}`).update("").digest("base64");
const dingtalkSign = (ts: string, secret: string) =>
  createHmac("sha256", secret).update(`${ts}\n${secret}`).digest("base64");

/** A payload each platform accepts. */
const VALID: Record<FakeType, unknown> = {
  wecom: { msgtype: "text", text: { content: "hello" } },
  feishu: { msg_type: "text", content: { text: "hello" } },
  dingtalk: { msgtype: "text", text: { content: "hello" } },
  slack: { text: "hello" },
  discord: { content: "hello" },
  mattermost: { text: "hello" },
  webhook: { title: "t", message: "hello" },
  pushplus: { content: "hello" },
  serverchan: { title: "t", desp: "hello" },
  pushover: { message: "hello" },
  telegram: { chat_id: 1001, text: "hello" },
  ntfy: { note: "a body posted to a topic URL is the message as written" },
  gotify: { message: "hello" },
  bark: { body: "hello" },
  wecom_app: { touser: "@all", msgtype: "text", agentid: 1000002, text: { content: "hello" } },
  teams: {
    type: "message",
    attachments: [
      { contentType: "application/vnd.microsoft.card.adaptive", content: { type: "AdaptiveCard", version: "1.4", body: [{ type: "TextBlock", text: "hello" }] } },
    ],
  },
};

describe("shared behaviour of every fake", () => {
  for (const type of FAKE_TYPES) {
    describe(type, () => {
      test("accepts a valid request, records it and keeps the token in the URL", async () => {
        const f = await start(type);
        expect(f.type).toBe(type);
        expect(f.token.length).toBeGreaterThanOrEqual(20);
        expect(f.webhook).toStartWith("http://127.0.0.1:");
        expect(f.webhook).toContain(f.token);
        const r = await send(f.webhook, VALID[type], { "x-probe": "1" });
        expect(r.status).toBeLessThan(300);
        expect(f.requests).toHaveLength(1);
        const rec = f.requests[0]!;
        expect(rec).toMatchObject({
          method: "POST",
          accepted: true,
          json: VALID[type] as object,
        });
        expect(rec.answer.status).toBe(r.status);
        expect(rec.answer.body).toBe(r.text);
        expect(rec.headers["x-probe"]).toBe("1");
        expect(rec.raw).toBe(JSON.stringify(VALID[type]));
        expect(f.webhook).toContain(rec.path);
        expect(f.accepted()).toEqual([rec]);
      });

      test("status fault answers as queued, then the platform answers again", async () => {
        const f = await start(type);
        f.fault(
          {
            kind: "status",
            status: 502,
            body: "bad gateway",
            headers: { "x-fault": "y" },
          },
          2,
        );
        f.fault({ kind: "status", status: 500 });
        const a = await send(f.webhook, VALID[type]);
        const b = await send(f.webhook, VALID[type]);
        const c = await send(f.webhook, VALID[type]);
        const d = await send(f.webhook, VALID[type]);
        expect([a.status, b.status, c.status]).toEqual([502, 502, 500]);
        expect(a.text).toBe("bad gateway");
        expect(a.headers.get("x-fault")).toBe("y");
        expect(d.status).toBeLessThan(300);
        expect(f.requests.map((r) => r.accepted)).toEqual([
          false,
          false,
          false,
          true,
        ]);
      });

      test("drop makes the client's fetch reject and the next request works", async () => {
        const f = await start(type);
        f.fault({ kind: "drop" });
        await expect(post(f.webhook, VALID[type])).rejects.toThrow();
        expect(f.requests).toHaveLength(1);
        expect(f.requests[0]).toMatchObject({
          accepted: false,
          answer: { status: 0, body: "" },
        });
        expect((await send(f.webhook, VALID[type])).status).toBeLessThan(300);
        expect(f.accepted()).toHaveLength(1);
      });

      test("timeout holds the answer, then answers normally", async () => {
        const f = await start(type);
        f.fault({ kind: "timeout", ms: 250 });
        const t0 = performance.now();
        const r = await send(f.webhook, VALID[type]);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(240);
        expect(r.status).toBeLessThan(300);
        expect(f.accepted()).toHaveLength(1);
      });

      test("rate_limited fault gives the platform's own rate-limit answer", async () => {
        const f = await start(type);
        f.fault({ kind: "rate_limited", retryAfterSec: 7 });
        const r = await send(f.webhook, VALID[type]);
        const rateCodes: Partial<Record<FakeType, [string, number]>> = {
          wecom: ["errcode", 45009],
          feishu: ["code", 11232],
          dingtalk: ["errcode", 410100],
          pushplus: ["code", 900],
          serverchan: ["code", 40001],
          wecom_app: ["errcode", 45009],
        };
        const code = rateCodes[type];
        if (code) {
          expect(r.status).toBe(200);
          expect(r.json[code[0]]).toBe(code[1]);
        } else {
          expect(r.status).toBe(429);
          expect(r.headers.get("retry-after")).toBe("7");
        }
        expect(f.accepted()).toHaveLength(0);
      });

      test("reset clears requests, faults and rate state; stop closes the port", async () => {
        const f = await start(type, { rate: { count: 1, windowMs: 60_000 } });
        expect((await send(f.webhook, VALID[type])).status).toBeLessThan(300);
        const limited = await send(f.webhook, VALID[type]);
        expect(
          limited.status === 429 ||
            (limited.json && (limited.json.errcode ?? limited.json.code) !== 0),
        ).toBe(true);
        f.fault({ kind: "status", status: 503 });
        f.reset();
        expect(f.requests).toHaveLength(0);
        expect((await send(f.webhook, VALID[type])).status).toBeLessThan(300);
        expect(f.accepted()).toHaveLength(1);
        await f.stop();
        await expect(post(f.webhook, VALID[type])).rejects.toThrow();
      });
    });
  }

  test("faults come before validation: a wrong token still gets the fault", async () => {
    const f = await start("discord");
    f.fault({ kind: "status", status: 500, body: "boom" });
    const r = await send(
      f.webhook.replace(f.token, "x".repeat(68)),
      VALID.discord,
    );
    expect(r).toMatchObject({ status: 500, text: "boom" });
  });

  test("a client that times out still leaves a request the platform accepted", async () => {
    const f = await start("slack");
    f.fault({ kind: "timeout", ms: 400 });
    await expect(
      post(f.webhook, VALID.slack, {}, { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow();
    expect(f.requests).toHaveLength(1);
    expect(f.requests[0]!.accepted).toBe(false);
    await sleep(450);
    expect(f.requests[0]!.accepted).toBe(true);
  });

  test("faulted requests do not use up the rate limit", async () => {
    const f = await start("wecom", { rate: { count: 1, windowMs: 60_000 } });
    f.fault({ kind: "status", status: 500 }, 3);
    for (let i = 0; i < 3; i++)
      expect((await send(f.webhook, VALID.wecom)).status).toBe(500);
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(0);
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(45009);
  });
});

describe("sliding-window rate limiter", () => {
  test("admits count hits per window and frees a slot when the oldest expires", () => {
    const w = new SlidingWindow(3, 1000);
    for (const t of [0, 100, 200]) {
      expect(w.waitMs(t)).toBe(0);
      w.add(t);
    }
    expect(w.remaining(300)).toBe(0);
    expect(w.waitMs(300)).toBe(700);
    expect(w.resetAfterMs(300)).toBe(700);
    expect(w.waitMs(1000)).toBe(0);
    expect(w.remaining(1000)).toBe(1);
  });

  test("all windows must admit, and a refused hit is not counted", () => {
    const l = new RateLimiter(
      [
        { count: 2, windowMs: 1000 },
        { count: 3, windowMs: 60_000 },
      ],
      undefined,
    );
    expect(l.take(0).ok).toBe(true);
    expect(l.take(10).ok).toBe(true);
    expect(l.take(20)).toEqual({ ok: false, retryAfterMs: 980 });
    expect(l.take(1000).ok).toBe(true);
    expect(l.take(2500)).toEqual({ ok: false, retryAfterMs: 57_500 });
    expect(
      new RateLimiter([{ count: 1, windowMs: 1000 }], false).windows,
    ).toHaveLength(0);
    expect(
      new RateLimiter([{ count: 1, windowMs: 1000 }], { count: 9, windowMs: 5 })
        .windows[0],
    ).toMatchObject({
      count: 9,
      windowMs: 5,
    });
  });
});

describe("wecom", () => {
  test("text, markdown and markdown_v2 are accepted; other types are 40008", async () => {
    const f = await start("wecom");
    for (const msgtype of ["text", "markdown", "markdown_v2"]) {
      const r = await send(f.webhook, {
        msgtype,
        [msgtype]: { content: "**hi**" },
      });
      expect(r.json).toEqual({ errcode: 0, errmsg: "ok" });
    }
    const bad = await send(f.webhook, {
      msgtype: "news",
      news: { articles: [] },
    });
    expect(bad.status).toBe(200);
    expect(bad.json.errcode).toBe(40008);
    expect(f.accepted()).toHaveLength(3);
  });

  test("a wrong key is 93000 with the platform's hint and caller IP, never the key", async () => {
    const f = await start("wecom");
    const r = await send(
      f.webhook.replace(f.token, "00000000-0000-0000-0000-000000000000"),
      VALID.wecom,
    );
    expect(r.status).toBe(200);
    expect(r.json.errcode).toBe(93000);
    expect(r.json.errmsg).toMatch(
      /^invalid webhook url, hint: \[\d+_[0-9a-f]+_[0-9a-f]{32}\], from ip: 127\.0\.0\.1, more info at https:\/\/open\.work\.weixin\.qq\.com\/devtool\/query\?e=93000$/,
    );
    expect(r.text).not.toContain(f.token);
    expect(f.accepted()).toHaveLength(0);
  });

  test("empty content is 44004, malformed JSON 40001", async () => {
    const f = await start("wecom");
    expect(
      (await send(f.webhook, { msgtype: "text", text: { content: "" } })).json
        .errcode,
    ).toBe(44004);
    expect(
      (await send(f.webhook, { msgtype: "markdown", markdown: {} })).json
        .errcode,
    ).toBe(44004);
    const broken = await send(f.webhook, '{"msgtype":"text",');
    expect(broken.json.errcode).toBe(40001);
    expect(broken.json.errmsg).toContain("wrong json format");
  });

  test("text is limited to 2048 bytes and markdown to 4096 bytes (UTF-8), with 40058", async () => {
    const f = await start("wecom");
    // "中" is 3 bytes: 682 of them are 2046 bytes, 683 are 2049.
    expect(
      (
        await send(f.webhook, {
          msgtype: "text",
          text: { content: "中".repeat(682) + "ab" },
        })
      ).json.errcode,
    ).toBe(0);
    const text = await send(f.webhook, {
      msgtype: "text",
      text: { content: "中".repeat(683) },
    });
    expect(text.json.errcode).toBe(40058);
    expect(text.json.errmsg).toStartWith(
      "text.content exceed max length 2048. invalid Request Parameter, hint:",
    );
    expect(
      (
        await send(f.webhook, {
          msgtype: "markdown",
          markdown: { content: "a".repeat(4096) },
        })
      ).json.errcode,
    ).toBe(0);
    const md = await send(f.webhook, {
      msgtype: "markdown",
      markdown: { content: "é".repeat(2049) },
    });
    expect(md.json.errcode).toBe(40058);
    expect(md.json.errmsg).toStartWith(
      "markdown.content exceed max length 4096. invalid Request Parameter",
    );
    expect(
      (
        await send(f.webhook, {
          msgtype: "markdown_v2",
          markdown_v2: { content: "a".repeat(4097) },
        })
      ).json.errcode,
    ).toBe(40058);
  });

  test("20 messages per 60 s by default, then 45009", async () => {
    const f = await start("wecom");
    for (let i = 0; i < 20; i++)
      expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(0);
    const r = await send(f.webhook, VALID.wecom);
    expect(r.json.errcode).toBe(45009);
    expect(r.json.errmsg).toStartWith("api freq out of limit");
    expect(f.accepted()).toHaveLength(20);
  });

  test("the window slides: a slot frees up when the oldest message leaves it", async () => {
    const f = await start("wecom", { rate: { count: 2, windowMs: 1000 } });
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(0);
    await sleep(500);
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(0);
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(45009);
    await sleep(600); // the first has left the window, the second has not
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(0);
    expect((await send(f.webhook, VALID.wecom)).json.errcode).toBe(45009);
  });

  test("code fault is an HTTP 200 body error", async () => {
    const f = await start("wecom");
    f.fault({ kind: "code", code: -1, msg: "system busy" });
    const r = await send(f.webhook, VALID.wecom);
    expect(r.status).toBe(200);
    expect(r.json.errcode).toBe(-1);
    expect(r.json.errmsg).toStartWith("system busy, hint:");
  });
});

describe("feishu", () => {
  const success = {
    StatusCode: 0,
    StatusMessage: "success",
    code: 0,
    data: {},
    msg: "success",
  };

  test("text, post and interactive (card in `card`) are accepted with the success body", async () => {
    const f = await start("feishu");
    const post = {
      msg_type: "post",
      content: {
        post: {
          zh_cn: { title: "T", content: [[{ tag: "text", text: "x" }]] },
        },
      },
    };
    const card = {
      msg_type: "interactive",
      card: { elements: [{ tag: "markdown", content: "**x**" }] },
    };
    for (const body of [VALID.feishu, post, card]) {
      const r = await send(f.webhook, body);
      expect(r.status).toBe(200);
      expect(r.json).toEqual(success);
    }
    expect(f.accepted()).toHaveLength(3);
  });

  test("payload errors: unknown token 19001, bad msg_type 19002, card in content / bad JSON / > 20000 bytes 9499", async () => {
    const f = await start("feishu");
    const wrong = await send(f.webhook.replace(f.token, "nope"), VALID.feishu);
    expect(wrong.json).toEqual({
      code: 19001,
      data: {},
      msg: "param invalid: incoming webhook access token invalid",
    });
    expect(
      (
        await send(f.webhook, {
          msg_type: "image",
          content: { image_key: "k" },
        })
      ).json.code,
    ).toBe(19002);
    const misplaced = await send(f.webhook, {
      msg_type: "interactive",
      content: { card: { elements: [] } },
    });
    expect(misplaced.json).toEqual({
      code: 9499,
      data: {},
      msg: "Bad Request",
    });
    expect((await send(f.webhook, "{not json")).json.code).toBe(9499);
    // The limit is on the serialized body: find the largest text that still fits.
    const room =
      20_000 -
      JSON.stringify({ msg_type: "text", content: { text: "" } }).length;
    expect(
      (
        await send(f.webhook, {
          msg_type: "text",
          content: { text: "a".repeat(room) },
        })
      ).json.code,
    ).toBe(0);
    expect(
      (
        await send(f.webhook, {
          msg_type: "text",
          content: { text: "a".repeat(room + 1) },
        })
      ).json.code,
    ).toBe(9499);
    expect(f.accepted()).toHaveLength(1);
  });

  describe("signature", () => {
    test("matches the test vector computed from the official algorithm", () => {
      expect(feishuSign("1599360473", "demo")).toBe(
        "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=",
      );
    });

    test("a correct sign is accepted; a wrong, missing, stale or DingTalk-style sign is 19021", async () => {
      const secret = "demo";
      const f = await start("feishu", { secret });
      const ts = String(Math.floor(Date.now() / 1000));
      const ok = await send(f.webhook, {
        timestamp: ts,
        sign: feishuSign(ts, secret),
        ...(VALID.feishu as object),
      });
      expect(ok.json.code).toBe(0);
      const cases = [
        { timestamp: ts, sign: feishuSign(ts, "other") },
        { timestamp: ts },
        // The vector's own timestamp is years old.
        {
          timestamp: "1599360473",
          sign: "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=",
        },
        {
          timestamp: String(Number(ts) - 3700),
          sign: feishuSign(String(Number(ts) - 3700), secret),
        },
        {
          timestamp: ts,
          sign: createHmac("sha256", secret)
            .update(`${ts}\n${secret}`)
            .digest("base64"),
        },
      ];
      for (const c of cases) {
        const r = await send(f.webhook, { ...c, ...(VALID.feishu as object) });
        expect(r.json).toEqual({
          code: 19021,
          data: {},
          msg: "sign match fail or timestamp is not within one hour from current time",
        });
      }
      expect(f.accepted()).toHaveLength(1);
    });
  });

  test("keyword is looked for in text, post title/text and card text, not in links", async () => {
    const f = await start("feishu", { keyword: "ALERT", rate: false });
    const miss = await send(f.webhook, {
      msg_type: "text",
      content: { text: "plain" },
    });
    expect(miss.json).toEqual({
      code: 19024,
      data: {},
      msg: "Key Words Not Found",
    });
    const hrefOnly = {
      msg_type: "post",
      content: {
        post: {
          zh_cn: {
            title: "t",
            content: [[{ tag: "a", text: "x", href: "https://e.com/ALERT" }]],
          },
        },
      },
    };
    expect((await send(f.webhook, hrefOnly)).json.code).toBe(19024);
    const hits = [
      { msg_type: "text", content: { text: "an ALERT here" } },
      {
        msg_type: "post",
        content: { post: { en_us: { title: "ALERT", content: [] } } },
      },
      {
        msg_type: "post",
        content: {
          post: {
            zh_cn: {
              title: "t",
              content: [[{ tag: "text", text: "x ALERT" }]],
            },
          },
        },
      },
      {
        msg_type: "interactive",
        card: { elements: [{ tag: "markdown", content: "**ALERT**" }] },
      },
      {
        msg_type: "interactive",
        card: {
          header: { title: { tag: "plain_text", content: "ALERT" } },
          elements: [],
        },
      },
    ];
    for (const h of hits) expect((await send(f.webhook, h)).json.code).toBe(0);
  });

  test("5 per second by default, then 11232", async () => {
    const f = await start("feishu");
    for (let i = 0; i < 5; i++)
      expect((await send(f.webhook, VALID.feishu)).json.code).toBe(0);
    const r = await send(f.webhook, VALID.feishu);
    expect(r.status).toBe(200);
    expect(r.json.code).toBe(11232);
    expect(r.json.msg).toStartWith("frequency limited");
  });
});

describe("dingtalk", () => {
  const secret = "SEC0123456789abcdef";
  const signed = (f: Fake, ts: string, sign: string) =>
    `${f.webhook}&timestamp=${ts}&sign=${sign}`;

  test("text and markdown are accepted; markdown needs title and text", async () => {
    const f = await start("dingtalk");
    expect((await send(f.webhook, VALID.dingtalk)).json).toEqual({
      errcode: 0,
      errmsg: "ok",
    });
    const md = await send(f.webhook, {
      msgtype: "markdown",
      markdown: { title: "T", text: "#### T\nbody" },
    });
    expect(md.json).toEqual({ errcode: 0, errmsg: "ok" });
    const noTitle = await send(f.webhook, {
      msgtype: "markdown",
      markdown: { text: "body" },
    });
    expect(noTitle.json.errcode).not.toBe(0);
    expect(noTitle.json.errmsg).toContain("markdown.title");
    expect(
      (await send(f.webhook, { msgtype: "markdown", markdown: { title: "T" } }))
        .json.errcode,
    ).not.toBe(0);
    expect(f.accepted()).toHaveLength(2);
  });

  test("unknown token is 300001, a body over 20000 bytes 460101", async () => {
    const f = await start("dingtalk");
    const wrong = await send(
      f.webhook.replace(f.token, "0".repeat(64)),
      VALID.dingtalk,
    );
    expect(wrong).toMatchObject({
      status: 200,
      json: { errcode: 300001, errmsg: "token is not exist" },
    });
    const room =
      20_000 -
      JSON.stringify({ msgtype: "text", text: { content: "" } }).length;
    // Multi-byte text: the limit is in bytes of the body, not characters.
    const fits = "中".repeat(Math.floor(room / 3));
    expect(
      (await send(f.webhook, { msgtype: "text", text: { content: fits } })).json
        .errcode,
    ).toBe(0);
    const big = await send(f.webhook, {
      msgtype: "text",
      text: { content: `${fits}中` },
    });
    expect(big.json).toEqual({
      errcode: 460101,
      errmsg: "message too long, exceed 20000 bytes",
    });
  });

  describe("signature", () => {
    test("matches the test vector computed from the official algorithm", () => {
      expect(encodeURIComponent(dingtalkSign("1700000000002", secret))).toBe(
        "VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D",
      );
    });

    test("correct sign accepted; wrong sign, stale or second-resolution timestamp refused with 310000", async () => {
      const f = await start("dingtalk", { secret });
      const ts = String(Date.now());
      const ok = await send(
        signed(f, ts, encodeURIComponent(dingtalkSign(ts, secret))),
        VALID.dingtalk,
      );
      expect(ok.json).toEqual({ errcode: 0, errmsg: "ok" });
      const bad = await send(
        signed(f, ts, encodeURIComponent(dingtalkSign(ts, "SECother"))),
        VALID.dingtalk,
      );
      expect(bad.json).toEqual({ errcode: 310000, errmsg: "sign not match" });
      const vector = await send(
        signed(
          f,
          "1700000000002",
          "VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D",
        ),
        VALID.dingtalk,
      );
      expect(vector.json).toEqual({
        errcode: 310000,
        errmsg: "invalid timestamp",
      });
      const old = String(Date.now() - 3_700_000);
      expect(
        (
          await send(
            signed(f, old, encodeURIComponent(dingtalkSign(old, secret))),
            VALID.dingtalk,
          )
        ).json.errmsg,
      ).toBe("invalid timestamp");
      const secs = String(Math.floor(Date.now() / 1000));
      expect(
        (
          await send(
            signed(f, secs, encodeURIComponent(dingtalkSign(secs, secret))),
            VALID.dingtalk,
          )
        ).json.errmsg,
      ).toBe("invalid timestamp");
      expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(310000);
      expect(f.accepted()).toHaveLength(1);
    });

    test("a sign containing '+' that was not URL-encoded does not match", async () => {
      const f = await start("dingtalk", { secret });
      let ts = Date.now();
      while (!dingtalkSign(String(ts), secret).includes("+")) ts--;
      const raw = dingtalkSign(String(ts), secret);
      expect(
        (await send(signed(f, String(ts), raw), VALID.dingtalk)).json.errmsg,
      ).toBe("sign not match");
      expect(
        (
          await send(
            signed(f, String(ts), encodeURIComponent(raw)),
            VALID.dingtalk,
          )
        ).json.errcode,
      ).toBe(0);
    });
  });

  test("keyword is required in the text, markdown title or text", async () => {
    const f = await start("dingtalk", { keyword: "告警" });
    const miss = await send(f.webhook, VALID.dingtalk);
    expect(miss.json).toEqual({
      errcode: 310000,
      errmsg: "keywords not in content",
    });
    expect(
      (
        await send(f.webhook, {
          msgtype: "text",
          text: { content: "磁盘告警" },
        })
      ).json.errcode,
    ).toBe(0);
    expect(
      (
        await send(f.webhook, {
          msgtype: "markdown",
          markdown: { title: "告警", text: "x" },
        })
      ).json.errcode,
    ).toBe(0);
    expect(
      (
        await send(f.webhook, {
          msgtype: "markdown",
          markdown: { title: "t", text: "## 告警" },
        })
      ).json.errcode,
    ).toBe(0);
  });

  test("20 per 60 s by default, then 410100", async () => {
    const f = await start("dingtalk");
    for (let i = 0; i < 20; i++)
      expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(0);
    expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(410100);
  });

  test("once over the limit the robot stays blocked for blockMs, longer than the window", async () => {
    const f = await start("dingtalk", {
      rate: { count: 2, windowMs: 150 },
      blockMs: 600,
    });
    expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(0);
    expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(0);
    expect((await send(f.webhook, VALID.dingtalk)).json).toEqual({
      errcode: 410100,
      errmsg: "发送速度太快而限流",
    });
    await sleep(300); // the window is clear, the block is not
    expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(410100);
    await sleep(400);
    expect((await send(f.webhook, VALID.dingtalk)).json.errcode).toBe(0);
  });
});

describe("slack", () => {
  test("success is 200 text/plain ok, with text or with blocks or with attachments", async () => {
    const f = await start("slack", { rate: false });
    const blocks = {
      text: "fallback",
      blocks: [
        { type: "header", text: { type: "plain_text", text: "h".repeat(150) } },
        { type: "section", text: { type: "mrkdwn", text: "s".repeat(3000) } },
      ],
    };
    for (const body of [
      VALID.slack,
      blocks,
      { blocks: blocks.blocks },
      { attachments: [{ text: "a" }] },
    ]) {
      const r = await send(f.webhook, body);
      expect(r.status).toBe(200);
      expect(r.text).toBe("ok");
      expect(r.headers.get("content-type")).toStartWith("text/plain");
    }
  });

  test("errors: invalid_payload, no_text, no_service, invalid_blocks", async () => {
    const f = await start("slack", { rate: false });
    expect(await send(f.webhook, "{oops")).toMatchObject({
      status: 400,
      text: "invalid_payload",
    });
    expect(await send(f.webhook, { text: "" })).toMatchObject({
      status: 400,
      text: "no_text",
    });
    expect(await send(f.webhook, { username: "x" })).toMatchObject({
      status: 400,
      text: "no_text",
    });
    expect(
      await send(f.webhook.replace(f.token, "X".repeat(24)), VALID.slack),
    ).toMatchObject({
      status: 404,
      text: "no_service",
    });
    const header = {
      text: "t",
      blocks: [
        { type: "header", text: { type: "plain_text", text: "h".repeat(151) } },
      ],
    };
    const section = {
      text: "t",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "s".repeat(3001) } },
      ],
    };
    const mrkdwnHeader = {
      text: "t",
      blocks: [{ type: "header", text: { type: "mrkdwn", text: "*h*" } }],
    };
    for (const b of [header, section, mrkdwnHeader])
      expect(await send(f.webhook, b)).toMatchObject({
        status: 400,
        text: "invalid_blocks",
      });
    expect(f.accepted()).toHaveLength(0);
  });

  test("the form encoding payload=<json> is accepted", async () => {
    const f = await start("slack");
    const res = await fetch(f.webhook, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ payload: JSON.stringify({ text: "form" }) }),
    });
    expect(await res.text()).toBe("ok");
    expect(f.accepted()[0]!.json).toEqual({ text: "form" });
  });

  test("text over 40000 characters is accepted but marked truncated", async () => {
    const f = await start("slack");
    expect((await send(f.webhook, { text: "x".repeat(40_001) })).text).toBe(
      "ok",
    );
    expect(f.accepted()[0]!.truncated).toBe(true);
  });

  test("a burst of 3 per 3 s by default, then 429 with Retry-After", async () => {
    const f = await start("slack");
    for (let i = 0; i < 3; i++)
      expect((await send(f.webhook, VALID.slack)).text).toBe("ok");
    const r = await send(f.webhook, VALID.slack);
    expect(r.status).toBe(429);
    const after = Number(r.headers.get("retry-after"));
    expect(Number.isInteger(after)).toBe(true);
    expect(after).toBeGreaterThanOrEqual(1);
    expect(after).toBeLessThanOrEqual(3);
  });
});

describe("discord", () => {
  const formError = {
    status: 400,
    json: { code: 50035, message: "Invalid Form Body" },
  };

  test("204 without wait; 200 with the message object with wait=true; rate-limit headers always", async () => {
    const f = await start("discord");
    const plain = await send(f.webhook, VALID.discord);
    expect(plain.status).toBe(204);
    expect(plain.text).toBe("");
    const embeds = [{ title: "T", description: "d" }];
    const waited = await send(`${f.webhook}?wait=true`, {
      content: "hi",
      embeds,
    });
    expect(waited.status).toBe(200);
    expect(waited.json).toMatchObject({ content: "hi", embeds });
    expect(waited.json.id).toMatch(/^\d+$/);
    for (const r of [plain, waited]) {
      for (const h of ["limit", "remaining", "reset", "reset-after", "bucket"])
        expect(r.headers.get(`x-ratelimit-${h}`)).not.toBeNull();
    }
    expect(plain.headers.get("x-ratelimit-limit")).toBe("5");
    expect([
      plain.headers.get("x-ratelimit-remaining"),
      waited.headers.get("x-ratelimit-remaining"),
    ]).toEqual(["4", "3"]);
  });

  test("wrong token 401/50027, unknown id 404/10015, empty 400/50006", async () => {
    const f = await start("discord");
    const wrongToken = await send(
      f.webhook.replace(f.token, "t".repeat(68)),
      VALID.discord,
    );
    expect(wrongToken).toMatchObject({
      status: 401,
      json: { message: "Invalid Webhook Token", code: 50027 },
    });
    const wrongId = await send(
      f.webhook.replace(/webhooks\/\d+/, "webhooks/123"),
      VALID.discord,
    );
    expect(wrongId).toMatchObject({ status: 404, json: { code: 10015 } });
    for (const empty of [{}, { content: "" }, { content: "  ", embeds: [] }]) {
      expect(await send(f.webhook, empty)).toMatchObject({
        status: 400,
        json: { code: 50006 },
      });
    }
  });

  test("size limits: content 2000, embed description 4096, embeds total 6000, all 50035", async () => {
    const f = await start("discord", { rate: false });
    expect((await send(f.webhook, { content: "x".repeat(2000) })).status).toBe(
      204,
    );
    // Code points, not UTF-16 units: 2000 emoji fit.
    expect((await send(f.webhook, { content: "😀".repeat(2000) })).status).toBe(
      204,
    );
    const long = await send(f.webhook, { content: "x".repeat(2001) });
    expect(long).toMatchObject(formError);
    expect(long.json.errors.content._errors[0].code).toBe(
      "BASE_TYPE_MAX_LENGTH",
    );
    const desc = await send(f.webhook, {
      embeds: [{ description: "d".repeat(4097) }],
    });
    expect(desc).toMatchObject(formError);
    expect(desc.json.errors.embeds["0"].description).toBeDefined();
    expect(
      (await send(f.webhook, { embeds: [{ description: "d".repeat(4096) }] }))
        .status,
    ).toBe(204);
    const total = await send(f.webhook, {
      embeds: [
        { description: "d".repeat(3500) },
        { description: "e".repeat(2501) },
      ],
    });
    expect(total).toMatchObject(formError);
    expect(total.json.errors.embeds._errors[0].code).toBe(
      "MAX_EMBED_SIZE_EXCEEDED",
    );
    expect(
      (
        await send(f.webhook, {
          embeds: [
            { description: "d".repeat(3500) },
            { description: "e".repeat(2500) },
          ],
        })
      ).status,
    ).toBe(204);
  });

  test('a username containing "discord" is refused with 50035', async () => {
    const f = await start("discord");
    const r = await send(f.webhook, {
      content: "hi",
      username: "My Discord Bot",
    });
    expect(r).toMatchObject(formError);
    expect(r.json.errors.username._errors[0].code).toBe(
      "USERNAME_INVALID_CONTAINS",
    );
    expect(f.accepted()).toHaveLength(0);
  });

  test("5 per 2 s by default, then 429 with retry_after in float seconds and Retry-After", async () => {
    const f = await start("discord");
    for (let i = 0; i < 5; i++)
      expect((await send(f.webhook, VALID.discord)).status).toBe(204);
    const r = await send(f.webhook, VALID.discord);
    expect(r.status).toBe(429);
    expect(r.json).toMatchObject({
      message: "You are being rate limited.",
      global: false,
    });
    expect(r.json.retry_after).toBeGreaterThan(0);
    expect(r.json.retry_after).toBeLessThanOrEqual(2);
    expect(Number(r.headers.get("retry-after"))).toBe(
      Math.ceil(r.json.retry_after),
    );
    expect(r.headers.get("x-ratelimit-remaining")).toBe("0");
  });
});

describe("mattermost", () => {
  test("JSON and form payload=<json> are accepted with 200 text/plain ok", async () => {
    const f = await start("mattermost");
    const json = await send(f.webhook, { text: "hi", username: "ci" });
    expect(json).toMatchObject({ status: 200, text: "ok" });
    expect(json.headers.get("content-type")).toStartWith("text/plain");
    const res = await fetch(f.webhook, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ payload: JSON.stringify({ text: "form" }) }),
    });
    expect(await res.text()).toBe("ok");
    expect((await send(f.webhook, { attachments: [{ text: "a" }] })).text).toBe(
      "ok",
    );
    expect(f.accepted().map((r) => r.json.text)).toEqual([
      "hi",
      "form",
      undefined,
    ]);
  });

  test("AppErrors: unknown hook, no text, unparseable", async () => {
    const f = await start("mattermost");
    const unknown = await send(
      f.webhook.replace(f.token, "z".repeat(26)),
      VALID.mattermost,
    );
    expect(unknown).toMatchObject({
      status: 400,
      json: { id: "web.incoming_webhook.invalid.app_error", status_code: 400 },
    });
    const noText = await send(f.webhook, { text: "" });
    expect(noText).toMatchObject({
      status: 400,
      json: {
        id: "web.incoming_webhook.text.app_error",
        message: "No text specified",
        status_code: 400,
      },
    });
    expect(await send(f.webhook, "not json")).toMatchObject({
      status: 400,
      json: { id: "web.incoming_webhook.parse.app_error" },
    });
    expect(f.accepted()).toHaveLength(0);
  });

  test("text longer than 16383 runes is accepted and split into several posts", async () => {
    const f = await start("mattermost");
    // Emoji are two UTF-16 units but one rune each.
    await send(f.webhook, { text: "😀".repeat(MATTERMOST_MAX_RUNES) });
    await send(f.webhook, { text: "x".repeat(MATTERMOST_MAX_RUNES + 1) });
    await send(f.webhook, { text: "x".repeat(MATTERMOST_MAX_RUNES * 3) });
    expect(f.accepted().map((r) => r.posts)).toEqual([1, 2, 3]);
  });

  test("no rate limit by default; with `rate` a 429 with Retry-After", async () => {
    const open = await start("mattermost");
    for (let i = 0; i < 25; i++)
      expect((await send(open.webhook, VALID.mattermost)).status).toBe(200);
    const limited = await start("mattermost", {
      rate: { count: 2, windowMs: 5000 },
    });
    await send(limited.webhook, VALID.mattermost);
    await send(limited.webhook, VALID.mattermost);
    const r = await send(limited.webhook, VALID.mattermost);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe("webhook", () => {
  test("any method and path is recorded and accepted", async () => {
    const f = await start("webhook");
    const res = await fetch(`${new URL(f.webhook).origin}/any/where?x=1`, {
      method: "PUT",
      body: "plain text",
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    expect(f.requests[0]).toMatchObject({
      method: "PUT",
      path: "/any/where",
      query: { x: "1" },
      raw: "plain text",
      json: null,
      accepted: true,
    });
  });

  test("requireHeaders: a missing or different header is 401", async () => {
    const f = await start("webhook", {
      requireHeaders: { Authorization: "Bearer t" },
    });
    expect((await send(f.webhook, VALID.webhook)).status).toBe(401);
    expect(
      (await send(f.webhook, VALID.webhook, { authorization: "Bearer u" }))
        .status,
    ).toBe(401);
    expect(
      (await send(f.webhook, VALID.webhook, { authorization: "Bearer t" }))
        .status,
    ).toBe(200);
    expect(f.requests.map((r) => r.accepted)).toEqual([false, false, true]);
  });

  test("successPath answers JSON; a code fault puts the code there", async () => {
    const flat = await start("webhook", {
      successPath: { path: "errcode", value: 0 },
    });
    expect((await send(flat.webhook, VALID.webhook)).json).toEqual({
      errcode: 0,
    });
    flat.fault({ kind: "code", code: 42, msg: "nope" });
    const fault = await send(flat.webhook, VALID.webhook);
    expect(fault).toMatchObject({
      status: 200,
      json: { errcode: 42, msg: "nope" },
    });
    expect(flat.accepted()).toHaveLength(1);
    const nested = await start("webhook", {
      successPath: { path: "data.ok", value: true },
    });
    expect((await send(nested.webhook, VALID.webhook)).json).toEqual({
      data: { ok: true },
    });
  });
});

describe("code faults on the other platforms", () => {
  test("feishu and dingtalk answer HTTP 200 with the code", async () => {
    const fs = await start("feishu");
    fs.fault({ kind: "code", code: 19022, msg: "Ip Not Allowed" });
    expect(await send(fs.webhook, VALID.feishu)).toMatchObject({
      status: 200,
      json: { code: 19022, msg: "Ip Not Allowed" },
    });
    const dt = await start("dingtalk");
    dt.fault({ kind: "code", code: -1 });
    expect(await send(dt.webhook, VALID.dingtalk)).toMatchObject({
      status: 200,
      json: { errcode: -1 },
    });
  });

  test("slack, discord and mattermost answer their error shapes", async () => {
    const sl = await start("slack");
    sl.fault({ kind: "code", code: 403, msg: "action_prohibited" });
    expect(await send(sl.webhook, VALID.slack)).toMatchObject({
      status: 400,
      text: "action_prohibited",
    });
    const dc = await start("discord");
    dc.fault({ kind: "code", code: 50013, msg: "Missing Permissions" });
    expect(await send(dc.webhook, VALID.discord)).toMatchObject({
      status: 400,
      json: { code: 50013, message: "Missing Permissions" },
    });
    const mm = await start("mattermost");
    mm.fault({
      kind: "code",
      code: 501,
      msg: "web.incoming_webhook.disabled.app_error",
    });
    expect(await send(mm.webhook, VALID.mattermost)).toMatchObject({
      status: 501,
      json: { id: "web.incoming_webhook.disabled.app_error", status_code: 501 },
    });
  });
});
