import { describe, expect, test } from "bun:test";
import { channelInput, htmlToMarkdown, jsonProblem, jsonToList, listOf } from "../../src/core/format.ts";
import { toPlain, toSlack, toTelegram } from "../../src/core/markdown.ts";

describe("HTML to Markdown", () => {
  const cases: [string, string][] = [
    ["<p>a &amp; b</p><ul><li>one</li><li>two</li></ul>", "a & b\n\n- one\n- two"],
    ["<b>hi</b><br>there", "**hi**\nthere"],
    ["<strong>s</strong> <em>e</em> <i>i</i> <del>d</del>", "**s** *e* *i* ~~d~~"],
    ["<h1>Title</h1><h3>Sub <i>x</i></h3>text", "# Title\n\n### Sub *x*\n\ntext"],
    ['<a href="https://example.com/a b(c)">site</a>', "[site](https://example.com/a%20b%28c%29)"],
    ['<a href="javascript:alert(1)">click</a> <a href="/relative">rel</a>', "click rel"],
    ["<p>run <code>df -h</code> now</p>", "run `df -h` now"],
    ["<code>a`b</code>", "``a`b``"],
    ['<pre><code class="language-sh">$ df\n  /dev  95%\n</code></pre>', "```sh\n$ df\n  /dev  95%\n```"],
    ["<pre>has ``` inside</pre>", "````\nhas ``` inside\n````"],
    ["<ol><li>one<ul><li>sub</li></ul></li><li>two</li></ol>", "1. one\n   - sub\n2. two"],
    ["<blockquote>quoted<br>line</blockquote>after", "> quoted\n> line\n\nafter"],
    ["a<hr>b", "a\n\n---\n\nb"],
    ["<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>", "k | v\na | 1"],
    // Whitespace collapses as a browser shows it; spaces inside emphasis move outside it.
    ["a <b> x </b>y\n\n   z", "a **x** y z"],
    ["<b></b>a<i> </i>b", "a b"],
    // What the text says is shown as written, not taken for Markdown.
    ["<p># not a heading</p><p>1. not a list</p><p>*stars* and [brackets](x) and `ticks`</p>", "\\# not a heading\n\n1\\. not a list\n\n\\*stars\\* and \\[brackets](x) and \\`ticks\\`"],
    ["snake_case and _under_", "snake_case and \\_under\\_"],
    ["<ul><li># one</li><li> <b>two</b></li></ul>", "- \\# one\n- **two**"],
    ["<ul><li><p>one</p></li><li><div><p>two</p></div></li></ul><p>after</p>", "- one\n- two\n\nafter"],
    ["&lt;b&gt;not bold&lt;/b&gt; &copy; &#x1F600; &#128512; &bogus; &#xD800;", "\\<b>not bold\\</b> © 😀 😀 \\&bogus; \ufffd"],
    // Not tags: kept as text.
    ["a < b > c, <3, x<y", "a < b > c, <3, x\\<y"],
    // Dropped with their content, including an unclosed one.
    ["<script>alert(1)</script>ok<style>p{}</style><!-- note -->!", "ok!"],
    ["before<script>never closed", "before"],
    ["<!DOCTYPE html><html><head><title>T</title><meta charset=utf-8></head><body><p>hi</p></body></html>", "hi"],
    ['<img src="x.png" alt="a chart"> <img src="y.png">', "a chart"],
    ["<p>unclosed <b>bold", "unclosed **bold**"],
  ];
  for (const [html, md] of cases) test(JSON.stringify(html), () => expect(htmlToMarkdown(html)).toBe(md));

  test("rendered into each platform's dialect as any Markdown is", () => {
    const md = htmlToMarkdown("<h2>Disk</h2><p>on <b>db-1</b> &amp; <a href='https://x.io'>graph</a></p><ul><li>95%</li></ul>");
    expect(toPlain(md)).toBe("Disk\n\non db-1 & graph (https://x.io)\n\n- 95%");
    expect(toSlack(md)).toContain("*db-1* &amp; <https://x.io|graph>");
    expect(toTelegram(md)).toContain("<b>db-1</b> &amp; <a href=\"https://x.io\">graph</a>");
  });
});

/**
 * Best of five: the time of f(4n) against f(n), counted as at least 5 ms so that a pause on a busy machine is not
 * taken for growth. Linear work grows about 4 times, quadratic 16.
 */
function growth(f: (n: number) => unknown, n: number): number {
  const best = (m: number) => Math.min(...[0, 1, 2, 3, 4].map(() => {
    const t = performance.now();
    f(m);
    return performance.now() - t;
  }));
  return best(4 * n) / Math.max(best(n), 5);
}

describe("hostile HTML costs what its length does", () => {
  const hostile: [string, (n: number) => string][] = [
    ["a run of '<'", (n) => "<".repeat(n)],
    ["tags that never end", (n) => "<a".repeat(n)],
    ["'<!' without '>'", (n) => "<!".repeat(n)],
    ["one '>' at the very end", (n) => `${"<b".repeat(n)}>`],
    ["unclosed emphasis, then closes that match nothing", (n) => `${"<b>x".repeat(n)}${"</i>".repeat(n)}`],
    ["lists nested ever deeper", (n) => "<ul><li>x".repeat(n)],
    ["quotes nested ever deeper", (n) => "<blockquote>x".repeat(n)],
    ["script closers without '>'", (n) => `<script>${"</script".repeat(n)}`],
    ["comment openers", (n) => "<!--".repeat(n)],
    ["links that never close", (n) => "<a href=https://x.io>".repeat(n)],
    ["entities", (n) => "&amp;&#65;&bogus;".repeat(n)],
    ["one long attribute list", (n) => `<a${" href".repeat(n)}>x</a>`],
    ["backticks in code", (n) => `<code>${"`a".repeat(n)}</code>`],
  ];
  for (const [name, make] of hostile) {
    test(name, () => {
      expect(growth((n) => htmlToMarkdown(make(n)), 20_000)).toBeLessThan(9);
    });
  }

  test("nesting does not make the output grow with the square of the input", () => {
    const n = 20_000;
    expect(htmlToMarkdown("<ul><li>x".repeat(n)).length).toBeLessThan(60 * n);
    expect(htmlToMarkdown("<blockquote>x".repeat(n)).length).toBeLessThan(60 * n);
  });
});

describe("JSON to a key/value list", () => {
  test("nested keys as dotted paths, array items as [i]", () => {
    expect(jsonToList(JSON.stringify({ host: "db1", load: [1, 2], ok: { now: false }, none: null, e: {}, a: [] }))).toBe(
      "host: db1\nload[0]: 1\nload[1]: 2\nok.now: false\nnone: null\ne: {}\na: []",
    );
    expect(jsonToList('[{"a":1},"x"]')).toBe("[0].a: 1\n[1]: x");
    expect(jsonToList('"just a string"')).toBe("just a string");
    expect(jsonToList("not json")).toBeUndefined();
  });

  test("keys that name Object.prototype members are data", () => {
    expect(jsonToList('{"__proto__":{"x":1},"constructor":2}')).toBe("__proto__.x: 1\nconstructor: 2");
  });

  test("deep documents are summed up, long ones cut", () => {
    const deep = JSON.parse(`${"[".repeat(100)}1${"]".repeat(100)}`);
    expect(listOf(deep)).toBe(`${"[0]".repeat(16)}: …`);
    const lines = listOf(Array.from({ length: 20_000 }, (_, i) => i)).split("\n");
    expect(lines).toHaveLength(10_001);
    expect(lines.at(-1)).toBe("…");
  });

  test("a long key repeated on every line of a long array cannot multiply the output", () => {
    const doc = (n: number) => JSON.stringify({ ["k".repeat(n)]: Array(n).fill(1) });
    for (const n of [10_000, 40_000]) expect(jsonToList(doc(n))!.length).toBeLessThanOrEqual(1024 * 1024 + 2);
    expect(growth((n) => jsonToList(doc(n)), 20_000)).toBeLessThan(9);
  });

  test("where a text stops being JSON", () => {
    const cases: [string, string | undefined][] = [
      ['{"a":1}', undefined],
      [' [1, 2.5e3, "x", true, null, {"b": []}] ', undefined],
      ['{"a":1,}', 'line 1, column 8: expected a property name in double quotes, found "}"'],
      ['{"a": x}', "line 1, column 7: expected a value (a string, number, object, array, true, false or null), found \"x\""],
      ["[1,2", "line 1, column 5: expected ',' or ']', found the end of the input"],
      ['{"a":1}\n{"b":2}', 'line 2, column 1: expected the end of the input (one JSON value only), found "{"'],
      ['{"a":"\\q"}', 'line 1, column 8: expected an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX), found "q"'],
      ["{'a':1}", "line 1, column 2: expected a property name in double quotes, found \"'\""],
      ["", "line 1, column 1: expected a value (a string, number, object, array, true, false or null), found the end of the input"],
    ];
    for (const [text, problem] of cases) expect([text, jsonProblem(text)]).toEqual([text, problem]);
  });

  test("finding the place is linear and does not recurse", () => {
    expect(jsonProblem(`${"[".repeat(1_000_000)}x`)).toMatch(/^line 1, column 1000001: expected a value/);
    expect(growth((n) => jsonProblem(`${'{"a":['.repeat(n)}x`), 20_000)).toBeLessThan(9);
  });
});

describe("channelInput: the text and format a message is planned with", () => {
  test("html becomes Markdown and json text; text and markdown pass as they are", () => {
    expect(channelInput({ text: "<b>x</b>", format: "html" })).toEqual({ text: "**x**", format: "markdown" });
    expect(channelInput({ text: '{"a":1}', format: "json" })).toEqual({ text: "a: 1", format: "text" });
    expect(channelInput({ text: "<b>x</b>", format: "text" })).toEqual({ text: "<b>x</b>", format: "text" });
    expect(channelInput({ text: "**x**", format: "markdown" })).toEqual({ text: "**x**", format: "markdown" });
  });

  test("JSON that does not parse (an API caller's webhook posting text) is sent as it is", () => {
    expect(channelInput({ text: "plain words", format: "json" })).toEqual({ text: "plain words", format: "text" });
  });

  test("a format from a later pp is read as text", () => {
    expect(channelInput({ text: "<x>", format: "xml" })).toEqual({ text: "<x>", format: "text" });
  });

  test("converted once per message, however many channels plan it", () => {
    const msg = { text: "<b>x</b>", format: "html" };
    expect(channelInput(msg)).toBe(channelInput(msg));
  });
});
