import { describe, expect, test } from "bun:test";
import { bearer, checkedHarnesses, TOKEN, ULID } from "./_api.ts";
import { channelInput } from "../../src/core/format.ts";

// Nothing any test received, headers included, nor any log line, holds a token or a channel secret.
const h = checkedHarnesses();

/** The one answer shape MsgFlow and pushplus clients both read. */
function accepted(r: { status: number; body: any }): string {
  expect(r.status).toBe(200);
  const id = r.body?.id;
  expect(id).toMatch(ULID);
  expect(r.body).toEqual({ code: 200, msg: "success", message: "success", data: id, id });
  return id;
}

function refused(r: { status: number; body: any }, status: number): string {
  expect(r.status).toBe(status);
  const { code, msg, message, data, id } = r.body;
  expect({ code, data }).toEqual({ code: status, data: null });
  expect(typeof msg).toBe("string");
  expect(message).toBe(msg);
  expect(id).toMatch(ULID);
  expect(Object.keys(r.body).sort()).toEqual(["code", "data", "id", "message", "msg"]);
  return msg;
}

const enc = encodeURIComponent;

describe("pushplus", () => {
  test("GET /send?token=&content= with title, template and channel", async () => {
    const x = h();
    const id = accepted(await x.call(`/send?token=${TOKEN}&title=${enc("CPU 高")}&content=${enc("**load** 9")}&template=markdown&ch=team`));
    expect(x.store.queue.message(id)).toMatchObject({ title: "CPU 高", text: "**load** 9", format: "markdown", deliveries: [{ channel: "team" }] });
  });

  test("POST /send with JSON: pushplus's fields, topic as a group, webhook as a channel, callbackUrl, timestamp", async () => {
    const x = h();
    const t = Date.now() + 3_600_000;
    const id = accepted(await x.call("/send", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: TOKEN, title: "t", content: "<b>hi</b><br>there", template: "html", topic: "all", callbackUrl: "http://127.0.0.1:9/cb", timestamp: t }),
    }));
    const m = x.store.queue.message(id)!;
    expect(m).toMatchObject({ title: "t", text: "<b>hi</b><br>there", format: "html" });
    expect(m.deliveries.map((d) => d.channel).sort()).toEqual(["lark", "ops"]);
    expect((x.store.db.query("SELECT expires_at FROM messages WHERE id = ?").get(id) as any).expires_at).toBe(t);
    expect((x.store.db.query("SELECT url FROM callbacks WHERE message_id = ?").get(id) as any).url).toBe("http://127.0.0.1:9/cb");
    const w = accepted(await x.call("/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: TOKEN, content: "w", webhook: "team" }) }));
    expect(x.store.queue.message(w)!.deliveries.map((d) => d.channel)).toEqual(["team"]);
  });

  test("POST /send as a form", async () => {
    const x = h();
    const id = accepted(await x.call("/send", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `token=${TOKEN}&content=form+text&ch=ops,team` }));
    expect(x.store.queue.message(id)!.text).toBe("form text");
    expect(x.store.queue.message(id)!.deliveries).toHaveLength(2);
  });

  test("GET, POST and PUT /send/{token}", async () => {
    const x = h();
    const g = accepted(await x.call(`/send/${TOKEN}?content=got&title=T`));
    expect(x.store.queue.message(g)).toMatchObject({ text: "got", title: "T" });
    const p = accepted(await x.call(`/send/${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"content":"posted","channels":["team"]}' }));
    expect(x.store.queue.message(p)).toMatchObject({ text: "posted", deliveries: [{ channel: "team" }] });
    const u = accepted(await x.call(`/send/${TOKEN}`, { method: "PUT", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "content=put" }));
    expect(x.store.queue.message(u)!.text).toBe("put");
    const d = await x.call(`/send/${TOKEN}`, { method: "DELETE" });
    refused(d, 405);
    expect(d.res.headers.get("allow")).toBe("GET, HEAD, POST, PUT");
  });

  test("template=json in the URL of a POST: the whole body is the content, as a key/value list", async () => {
    const x = h();
    const alert = { status: "firing", alerts: [{ labels: { alertname: "DiskFull", instance: "db1" } }], content: "not a field here" };
    const id = accepted(await x.call(`/send/${TOKEN}?template=json&title=alert`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(alert) }));
    const m = x.store.queue.message(id)!;
    expect(m.title).toBe("alert");
    expect(m.format).toBe("json");
    expect(channelInput(m).text).toBe("status: firing\nalerts[0].labels.alertname: DiskFull\nalerts[0].labels.instance: db1\ncontent: not a field here");
    // Whatever the body's type: a webhook that posts text is taken as it is.
    const raw = accepted(await x.call(`/send?token=${TOKEN}&template=json`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "plain words" }));
    expect(channelInput(x.store.queue.message(raw)!).text).toBe("plain words");
  });

  test("the whole-body rule is for POST only, and not for a route whose path holds the text", async () => {
    const x = h();
    const alert = { status: "firing", content: '{"only":"this field"}' };
    const json = { "Content-Type": "application/json" };
    // PUT reads the body's fields, as without template=json; the template then renders the content field.
    const put = accepted(await x.call(`/send/${TOKEN}?template=json`, { method: "PUT", headers: json, body: JSON.stringify(alert) }));
    expect(channelInput(x.store.queue.message(put)!).text).toBe("only: this field");
    // GET takes the query's content.
    const get = accepted(await x.call(`/send/${TOKEN}?template=json&content=${encodeURIComponent('{"a":1}')}`));
    expect(channelInput(x.store.queue.message(get)!).text).toBe("a: 1");
    // MsgFlow's path text stays the text.
    const path = accepted(await x.call(`/${TOKEN}/from%20the%20path?template=json`, { method: "POST", headers: json, body: JSON.stringify(alert) }));
    expect(channelInput(x.store.queue.message(path)!).text).toBe("from the path");
  });

  test("GET /send without push parameters is the send page, not a push", async () => {
    const x = h();
    const r = await x.call("/send");
    expect(r.body?.code).toBeUndefined();
    expect([200, 302, 303]).toContain(r.status);
    expect(x.messages()).toBe(0);
  });
});

describe("MsgFlow", () => {
  test("GET and POST /{token}/{body} and /{token}/{title}/{body}, with ?ch=a&ch=b", async () => {
    const x = h();
    const a = accepted(await x.call(`/${TOKEN}/${enc("disk full on db1")}`));
    expect(x.store.queue.message(a)).toMatchObject({ text: "disk full on db1", title: null, deliveries: [{ channel: "ops" }] });
    const b = accepted(await x.call(`/${TOKEN}/${enc("Backup / nightly")}/${enc("done ✓")}?ch=team&ch=lark`));
    const mb = x.store.queue.message(b)!;
    expect(mb).toMatchObject({ title: "Backup / nightly", text: "done ✓" });
    expect(mb.deliveries.map((d) => d.channel).sort()).toEqual(["lark", "team"]);
    const c = accepted(await x.call(`/${TOKEN}/posted`, { method: "POST" }));
    expect(x.store.queue.message(c)!.text).toBe("posted");
    const d = accepted(await x.call(`/${TOKEN}/T/posted`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"channels":["team"]}' }));
    expect(x.store.queue.message(d)).toMatchObject({ title: "T", deliveries: [{ channel: "team" }] });
  });

  test("POST /send with MsgFlow's fields (body, channels)", async () => {
    const x = h();
    const id = accepted(await x.call("/send", { method: "POST", headers: { ...bearer(), "Content-Type": "application/json" }, body: '{"title":"t","body":"b","channels":["team","ops"]}' }));
    expect(x.store.queue.message(id)!.deliveries).toHaveLength(2);
  });

  test("errors answer the same shape", async () => {
    const x = h();
    expect(refused(await x.call("/wrong-token/hello"), 401)).toMatch(/token is wrong/);
    // The path is the token of a token route, whatever a header says.
    expect(refused(await x.call("/wrong-token/hello", { headers: bearer() }), 401)).toMatch(/token is wrong/);
    expect(refused(await x.call(`/send?content=x`), 401)).toMatch(/token/);
    expect(refused(await x.call(`/send?token=${TOKEN}&title=only`), 400)).toMatch(/missing text/);
    expect(refused(await x.call(`/${TOKEN}/x?ch=nope`), 400)).toMatch(/unknown channel or group "nope"/);
    expect(refused(await x.call(`/${TOKEN}/%E9%80`), 400)).toMatch(/%-encoded/);
    expect(refused(await x.call(`/${TOKEN}/x`, { method: "PUT" }), 405)).toMatch(/GET, HEAD, POST/);
    expect(refused(await x.call(`/send/${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }), 400)).toMatch(/JSON/);
    expect(x.messages()).toBe(0);
  });

  test("idempotency keys work on these routes too", async () => {
    const x = h();
    const a = await x.call(`/${TOKEN}/once`, { headers: { "X-Ppt-Request-ID": "c1" } });
    const b = await x.call(`/${TOKEN}/once`, { headers: { "X-Ppt-Request-ID": "c1" } });
    expect(a.body.request_id).toBe("c1");
    expect(b.body).toEqual(a.body);
    expect(a.body.data).toBe(a.body.id);
    expect(x.messages()).toBe(1);
  });
});
