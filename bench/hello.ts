// The yardstick for pp serve's throughput: the least a Bun HTTP server can do (answer every request with a
// fixed body), compiled as pp is. Prints its URL. Also serves as a sink that accepts every delivery.
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.HELLO_PORT ?? 0),
  fetch: () => new Response("hello"),
});
console.log(`http://127.0.0.1:${server.port}`);
process.on("SIGTERM", () => server.stop(true).then(() => process.exit(0)));
