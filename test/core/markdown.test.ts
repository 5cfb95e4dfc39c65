import { describe, expect, test } from "bun:test";
import { toDingtalk, toDiscord, toFeishu, toMattermost, toPlain, toSlack, toWecom } from "../../src/core/markdown.ts";

type Case = [name: string, input: string, expected: string];

const TABLE = "| a | b |\n|:-|-:|\n| 1 | 22 |";

const dialects: Record<string, { render: (md: string) => string; cases: Case[] }> = {
  slack: {
    render: toSlack,
    cases: [
      ["bold", "**b**", "*b*"],
      ["italic", "*i* and _j_", "_i_ and _j_"],
      ["strike", "~~s~~", "~s~"],
      ["inline code escapes", "`a<b`", "`a&lt;b`"],
      ["fence drops the language", "```ts\nx < 1\n```", "```\nx &lt; 1\n```"],
      ["quote", "> q\n> r", "> q\n> r"],
      ["nested quote", "> q\n>\n> > r", "> q\n>\n> > r"],
      ["link", "[t](https://e.com/a?x=1&y=2)", "<https://e.com/a?x=1&y=2|t>"],
      ["link label is plain text", "[**t** & u](https://e.com)", "<https://e.com|t &amp; u>"],
      ["autolink", "<https://e.com>", "<https://e.com>"],
      ["bare url", "see https://e.com now", "see <https://e.com> now"],
      ["pipe in url is encoded", "[t](https://e.com/a|b)", "<https://e.com/a%7Cb|t>"],
      ["mailto", "[m](mailto:a@b.c)", "<mailto:a@b.c|m>"],
      ["heading", "# Title", "*Title*"],
      ["deep heading", "#### Title", "*Title*"],
      ["heading with bold inside", "## A **b** *c*", "*A b _c_*"],
      ["bullet list nested", "- a\n- b\n  - c", "• a\n• b\n  • c"],
      ["ordered list", "1. a\n2. b", "1. a\n2. b"],
      ["ordered list keeps its start", "3. a\n4. b", "3. a\n4. b"],
      ["checklist", "- [ ] todo\n- [x] done", "• ☐ todo\n• ☑ done"],
      ["table as aligned code block", TABLE, "```\na |  b\n--+---\n1 | 22\n```"],
      ["image", "![alt](https://e.com/i.png)", "<https://e.com/i.png|alt>"],
      ["image without alt", "![](https://e.com/i.png)", "<https://e.com/i.png>"],
      ["rule", "a\n\n---\n\nb", "a\n\n──────────\n\nb"],
      ["inline html kept as text", "x <b>y</b>", "x &lt;b&gt;y&lt;/b&gt;"],
      ["block html kept as text", "<div>\nhi\n</div>", "&lt;div&gt;\nhi\n&lt;/div&gt;"],
      ["only & < > are escaped", "a & b < c > d \"q\" 'x'", "a &amp; b &lt; c &gt; d \"q\" 'x'"],
      ["mention injection neutralised", "<!channel> hi", "&lt;!channel&gt; hi"],
      ["entities decoded then escaped", "&lt;x&gt; &amp; &copy;", "&lt;x&gt; &amp; \u00a9"],
      ["backslash escape", "\\*not bold\\*", "*not bold*"],
      ["paragraphs", "p1\n\np2", "p1\n\np2"],
      ["soft break kept", "l1\nl2", "l1\nl2"],
      ["hard break", "l1  \nl2", "l1\nl2"],
      ["bold italic", "***x***", "_*x*_"],
      ["CRLF input", "a\r\n\r\nb", "a\n\nb"],
    ],
  },
  discord: {
    render: toDiscord,
    cases: [
      ["bold", "**b**", "**b**"],
      ["italic", "_i_", "*i*"],
      ["strike", "~~s~~", "~~s~~"],
      ["inline code", "`a<b`", "`a<b`"],
      ["inline code with backtick", "`` a`b ``", "`` a`b ``"],
      ["fence keeps the language", "```ts\nx < 1\n```", "```ts\nx < 1\n```"],
      ["quote", "> q\n> r", "> q\n> r"],
      ["link", "[t](https://e.com)", "[t](https://e.com)"],
      ["link with parentheses in url", "[t](<https://e.com/a (b)>)", "[t](https://e.com/a%20%28b%29)"],
      ["link title dropped", '[t](https://e.com "T")', "[t](https://e.com)"],
      ["autolink", "<https://e.com>", "https://e.com"],
      ["non-web link as text", "[m](mailto:a@b.c)", "m (mailto:a@b.c)"],
      ["email autolink", "a@b.co", "a@b.co"],
      ["h1", "# H", "# H"],
      ["h3", "### H", "### H"],
      ["h4 becomes bold", "#### H **b**", "**H b**"],
      ["bullet list nested", "- a\n- b\n  - c", "- a\n- b\n  - c"],
      ["ordered list nested", "1. a\n2. b\n   - c", "1. a\n2. b\n   - c"],
      ["checklist", "- [ ] todo\n- [x] done", "- [ ] todo\n- [x] done"],
      ["loose list", "- a\n\n- b", "- a\n\n- b"],
      ["table as code block", TABLE, "```\na |  b\n--+---\n1 | 22\n```"],
      ["image as link", "![alt](https://e.com/i.png)", "[alt](https://e.com/i.png)"],
      ["image without alt", "![](https://e.com/i.png)", "https://e.com/i.png"],
      ["rule", "a\n\n***\n\nb", "a\n\n---\n\nb"],
      ["html kept", "x <b>y</b>", "x <b>y</b>"],
      ["backslash escape kept", "\\*not bold\\*", "\\*not bold\\*"],
      ["entities decoded", "&lt;x&gt; &amp;", "<x> &"],
      ["code containing a fence", "````\n```\ninner\n```\n````", "````\n```\ninner\n```\n````"],
    ],
  },
  mattermost: {
    render: toMattermost,
    cases: [
      ["bold italic strike", "**b** *i* ~~s~~", "**b** *i* ~~s~~"],
      ["underscore emphasis normalised", "__b__ _i_", "**b** *i*"],
      ["inline code", "`c`", "`c`"],
      ["fence", "```go\nfmt.Println()\n```", "```go\nfmt.Println()\n```"],
      ["tilde fence normalised", "~~~\nx\n~~~", "```\nx\n```"],
      ["indented code becomes a fence", "    x = 1", "```\nx = 1\n```"],
      ["quote", "> q", "> q"],
      ["link with title", '[t](https://e.com "T")', '[t](https://e.com "T")'],
      ["autolink", "<https://e.com>", "https://e.com"],
      ["headings kept at every depth", "# A\n\n###### F", "# A\n\n###### F"],
      ["setext heading", "A\n===", "# A"],
      ["lists", "* a\n* b\n\n1) x\n2) y", "- a\n- b\n\n1. x\n2. y"],
      ["checklist", "- [x] done", "- [x] done"],
      ["table kept", TABLE, "| a | b |\n| :-- | --: |\n| 1 | 22 |"],
      ["table with unaligned and centred columns", "| a | b |\n|---|:-:|\n| x\\|y | z |", "| a | b |\n| --- | :-: |\n| x\\|y | z |"],
      ["image", "![alt](https://e.com/i.png)", "![alt](https://e.com/i.png)"],
      ["rule", "a\n\n---\n\nb", "a\n\n---\n\nb"],
      ["html kept", "<details>x</details>", "<details>x</details>"],
      ["entities kept as written", "&lt;x&gt; &amp;", "&lt;x&gt; &amp;"],
      ["backslash escape kept", "1\\. not a list", "1\\. not a list"],
      ["hard break", "a  \nb", "a\nb"],
      ["reference link resolved", "[t][r]\n\n[r]: https://e.com", "[t](https://e.com)"],
    ],
  },
  feishu: {
    render: toFeishu,
    cases: [
      ["bold italic strike", "**b** *i* ~~s~~", "**b** *i* ~~s~~"],
      ["inline code", "`a<b`", "`a&#60;b`"],
      ["fence", "```py\nif a > b:\n    pass\n```", "```py\nif a &#62; b:\n    pass\n```"],
      ["http link", "[t](https://e.com)", "[t](https://e.com)"],
      ["brackets in label", "[a \\[1\\]](https://e.com)", "[a &#91;1&#93;](https://e.com)"],
      ["non-http link as text", "[m](mailto:a@b.c)", "m (mailto:a@b.c)"],
      ["email autolink as text", "a@b.co", "a@b.co"],
      ["ftp link as text", "[f](ftp://e.com/x)", "f (ftp://e.com/x)"],
      ["heading as bold line", "# Title", "**Title**"],
      ["heading with bold inside", "## A **b**", "**A b**"],
      ["quote as prefixed lines", "> q\n> r", "｜ q\n｜ r"],
      ["list", "- a\n  - b\n1. c", "- a\n  - b\n\n1. c"],
      ["rule", "a\n\n---\n\nb", "a\n\n---\n\nb"],
      ["table as code block", TABLE, "```\na |  b\n--+---\n1 | 22\n```"],
      ["image as link", "![alt](https://e.com/i.png)", "[alt](https://e.com/i.png)"],
      ["angle brackets escaped", "a < b > c", "a &#60; b &#62; c"],
      ["at-all injection neutralised", "<at id=all></at>", "&#60;at id=all&#62;&#60;/at&#62;"],
      ["backslash escape as entity", "\\*x\\*", "&#42;x&#42;"],
      ["soft break kept", "l1\nl2", "l1\nl2"],
    ],
  },
  dingtalk: {
    render: toDingtalk,
    cases: [
      ["headings", "# A\n\n### C", "# A\n\n### C"],
      ["bold italic", "**b** *i*", "**b** *i*"],
      ["strike keeps the words", "~~s~~", "s"],
      ["link", "[t](https://e.com)", "[t](https://e.com)"],
      ["autolink", "<https://e.com>", "[https://e.com](https://e.com)"],
      ["image", "![alt](https://e.com/i.png)", "![alt](https://e.com/i.png)"],
      ["list items separated by blank lines", "- a\n- b\n  - c", "- a\n\n- b\n\n  - c"],
      ["ordered list", "1. a\n2. b", "1. a\n\n2. b"],
      ["quote", "> q\n>\n> r", "> q\n>\n> r"],
      ["soft break becomes a blank line", "l1\nl2", "l1\n\nl2"],
      ["hard break becomes a blank line", "l1  \nl2", "l1\n\nl2"],
      ["code block as quoted lines without fences", "```js\nif (a) {\n  b();\n}\n```", "> if (a) {\n\n> \u00a0\u00a0b();\n\n> }"],
      ["blank code line", "```\na\n\nb\n```", "> a\n\n>\n\n> b"],
      ["table as pipe lines", TABLE, "a | b\n\n1 | 22"],
      ["html kept", "<font color=#FF0000>red</font>", "<font color=#FF0000>red</font>"],
      ["rule", "a\n\n---\n\nb", "a\n\n---\n\nb"],
    ],
  },
  wecom_v1: {
    render: (md) => toWecom(md, "v1"),
    cases: [
      ["headings need a space", "#Not a heading\n\n## H", "#Not a heading\n\n## H"],
      ["bold", "**b**", "**b**"],
      ["italic dropped to words", "*i*", "i"],
      ["strike dropped to words", "~~s~~", "s"],
      ["link", "[t](https://e.com)", "[t](https://e.com)"],
      ["inline code single line", "`a\nb`", "`a b`"],
      ["quote", "> q", "> q"],
      ["list as plain lines", "- a\n- b", "- a\n- b"],
      ["code block as quoted lines", "```\nx = 1\n  y\n```", "> x = 1\n> \u00a0\u00a0y"],
      ["table as plain lines", TABLE, "a | b\n1 | 22"],
      ["image as link", "![alt](https://e.com/i.png)", "[alt](https://e.com/i.png)"],
      ["font colour passes through", '<font color="warning">132</font>', '<font color="warning">132</font>'],
      ["rule as a text line", "a\n\n---\n\nb", "a\n\n──────────\n\nb"],
    ],
  },
  wecom_v2: {
    render: (md) => toWecom(md, "v2"),
    cases: [
      ["italic and bold", "*i* **b**", "*i* **b**"],
      ["nested lists", "- a\n  1. b", "- a\n  1. b"],
      ["fence", "```sh\nls\n```", "```sh\nls\n```"],
      ["table", TABLE, "| a | b |\n| :-- | --: |\n| 1 | 22 |"],
      ["image", "![alt](https://e.com/i.png)", "![alt](https://e.com/i.png)"],
      ["rule", "a\n\n---\n\nb", "a\n\n---\n\nb"],
      ["multi-level quote", "> a\n>> b", "> a\n>\n> > b"],
      ["strike dropped to words", "~~s~~", "s"],
    ],
  },
  plain: {
    render: toPlain,
    cases: [
      ["emphasis stripped", "**b** *i* ~~s~~ `c`", "b i s c"],
      ["link", "[t](https://e.com)", "t (https://e.com)"],
      ["autolink", "<https://e.com>", "https://e.com"],
      ["email autolink", "a@b.co", "a@b.co"],
      ["image", "![alt](https://e.com/i.png)", "alt (https://e.com/i.png)"],
      ["heading", "# Title", "Title"],
      ["lists", "* a\n  * b\n1. c", "- a\n  - b\n\n1. c"],
      ["code kept as is", "```ts\nif (a) {\n  **b**;\n}\n```", "if (a) {\n  **b**;\n}"],
      ["quote", "> q", "> q"],
      ["table aligned", "| a | 名前 |\n|-|-|\n| 東京 | x |", "a    | 名前\n-----+-----\n東京 | x"],
      ["html kept", "x <b>y</b>", "x <b>y</b>"],
      ["escapes and entities", "\\*a\\* &amp; &lt;", "*a* & <"],
      ["rule", "a\n\n---\n\nb", "a\n\n----------\n\nb"],
    ],
  },
};

for (const [dialect, { render, cases }] of Object.entries(dialects)) {
  describe(dialect, () => {
    test.each(cases)("%s", (_name, input, expected) => {
      expect(render(input)).toBe(expected);
    });
  });
}

describe("no content is lost", () => {
  // Every construct carries a unique word; each dialect must still show every word somewhere.
  const doc = [
    "# alpha heading",
    "",
    "Some **bravo** and *charlie* and ~~delta~~ and `echo` and [foxtrot](https://e.com/golf).",
    "![hotel](https://e.com/i.png) <span>india</span> juliet\\_x &amp; kilo",
    "",
    "> lima",
    ">> mike",
    "",
    "- november",
    "  - oscar",
    "1. papa",
    "- [x] quebec",
    "",
    "```rust",
    "let romeo = 1;",
    "```",
    "",
    "    sierra_indented",
    "",
    "| tango | uniform |",
    "|---|---|",
    "| victor | whiskey |",
    "",
    "---",
    "",
    "<div>xray</div>",
    "",
    "###### yankee",
    "",
    "[zulu][ref]",
    "",
    "[ref]: https://e.com/zulu",
  ].join("\n");
  const words = doc.match(/\b[a-z]{4,}\b/g)!.filter((w) => !["https", "span", "rust", "indented", "ref", "div"].includes(w));
  const all: Record<string, (md: string) => string> = {
    toSlack,
    toDiscord,
    toMattermost,
    toFeishu,
    toDingtalk,
    toPlain,
    wecomV1: (md) => toWecom(md, "v1"),
    wecomV2: (md) => toWecom(md, "v2"),
  };
  test.each(Object.keys(all))("%s", (name) => {
    const out = all[name]!(doc);
    expect(words.length).toBeGreaterThan(25);
    for (const w of words) expect(out).toContain(w);
    expect(out).toContain("https://e.com/golf");
  });
});

describe("robustness", () => {
  const renderers = [toSlack, toDiscord, toMattermost, toFeishu, toDingtalk, toPlain, (md: string) => toWecom(md, "v1")];
  test.each([
    ["empty", ""],
    ["only whitespace", "  \n\n  "],
    ["unclosed fence", "```\nunclosed"],
    ["deep nesting", "> ".repeat(30) + "x"],
    ["broken link syntax", "[a](b"],
    ["lone emphasis markers", "2 * 3 * 4 _ x"],
  ])("%s renders without throwing and keeps the text", (_n, input) => {
    for (const r of renderers) {
      const out = r(input);
      expect(typeof out).toBe("string");
      for (const w of input.match(/[a-z0-9]+/g) ?? []) expect(out).toContain(w);
    }
  });

  test("pure: the same input gives the same output", () => {
    const md = "# a\n\n- b\n\n```\nc\n```";
    for (const r of renderers) expect(r(md)).toBe(r(md));
  });
});
