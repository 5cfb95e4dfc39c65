/**
 * The Markdown converters, loaded with the first Markdown message: a plain-text send, most of what pp sends,
 * never loads them (about 0.4 ms of each pp process's start-up, measured in the compiled binary). The path is
 * literal: a module reached through a computed one is left out of a compiled binary.
 */
export const markdown = (): typeof import("../core/markdown.ts") => require("../core/markdown.ts");
