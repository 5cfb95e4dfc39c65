import { defineCommand } from "./run.ts";
import { configArg } from "./args.ts";

export default defineCommand({
  meta: { name: "serve", description: "Run the daemon: an HTTP API that queues messages durably and delivers them ([serve] in the config)" },
  args: {
    listen: { type: "string", description: 'Address: HOST:PORT, [IPv6]:PORT or unix:/path (default 127.0.0.1:39270; $PP_LISTEN, [serve] listen)', valueHint: "addr" },
    token: { type: "string", description: "The API token, replacing [serve] tokens ($PP_TOKEN, which keeps it out of the process list)", valueHint: "token" },
    logLevel: { type: "string", description: "silent, error, warn, info (default), debug or trace ($PP_LOG_LEVEL)", valueHint: "level" },
    logFormat: { type: "string", description: "text (default) or json: one JSON object per line ($PP_LOG_FORMAT)", valueHint: "format" },
    ...configArg,
  },
  async run({ args }) {
    const { serve } = await import("../server/serve.ts");
    const code = await serve({ config: args.config, listen: args.listen, token: args.token, logLevel: args.logLevel, logFormat: args.logFormat });
    process.exitCode = code;
    // Everything is closed and flushed by now; a timer or socket left open somewhere must not keep a stopped
    // daemon alive (a service manager would wait for it, then kill it).
    setTimeout(() => process.exit(code), 2000).unref();
  },
});
