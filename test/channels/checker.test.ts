import { describe, expect, test } from "bun:test";
import pushplus from "../../src/channels/pushplus.ts";
import wecomApp from "../../src/channels/wecom_app.ts";
import { opts, res, send } from "./_fixtures.ts";

// Answers the platforms give as their own documentation and servers do, checked against how pp reads them.

describe("wecom_app answers", () => {
  const base = opts(wecomApp, { type: "wecom_app", corp_id: "ww0123456789abcdef", agent_id: 1000002, secret: "Qm9zc2VjcmV0LWFwcC1zZWNyZXQ" });

  test("45033 (too many concurrent calls) is asked again later, not given up", () => {
    const answer = res(200, {
      errcode: 45033,
      errmsg: "api concurrent out of limit, hint: [1620808383_162_662dcca2], more info at https://open.work.weixin.qq.com/devtool/query?e=45033",
    });
    expect(wecomApp.classify(answer, base).kind).toBe("retryable");
    // The token request shares the table: a concurrent burst there is no reason to fail either.
    expect(wecomApp.auth!.parse(answer, base)).toMatchObject({ kind: "retryable" });
  });
});

describe("pushplus content", () => {
  const o = opts(pushplus, { type: "pushplus", token: "0123456789abcdef0123456789abcdef", template: "html" });

  // PushPlus's html template shows the content as HTML, where a line break is only white space (its docs: "txt …
  // 换行使用\n", the html template takes HTML): each line has to end in <br> or the lines run together.
  test("template html keeps the lines of plain text apart", () => {
    expect(send(pushplus, o, "disk 95%\nload 7 < 8").json.content).toBe("disk 95%<br>\nload 7 &lt; 8");
  });

  test("template html keeps the paragraphs and lines of Markdown apart", () => {
    const content: string = send(pushplus, o, "**db-1** down\n\n- a\n- b", { format: "markdown" }).json.content;
    expect(content.split("\n").length).toBeGreaterThan(2);
    for (const line of content.split("\n").slice(0, -1)) expect(line).toEndWith("<br>");
  });
});
