/**
 * A self-signed certificate for 127.0.0.1, made with the openssl command line (a test dependency, like bun):
 * HTTPS fakes use it to play a server whose certificate pp does not trust, until told to.
 */
import { join } from "node:path";

export interface Cert { cert: string; key: string }

/** `san` is the name the certificate is for: 127.0.0.1 by default, another to play a host-name mismatch. */
export function selfSignedCert(dir: string, san = "IP:127.0.0.1"): Cert {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  let r: ReturnType<typeof Bun.spawnSync>;
  try {
    r = Bun.spawnSync(
      ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
        "-subj", "/CN=pp test", "-addext", `subjectAltName=${san}`],
      { stdout: "ignore", stderr: "pipe" },
    );
  } catch {
    throw new Error("these tests need the openssl command (apt-get install openssl)");
  }
  if (r.exitCode !== 0) throw new Error(`openssl could not make a certificate: ${r.stderr?.toString()}`);
  return { cert, key };
}

/** An HTTPS server on 127.0.0.1 with that certificate. */
export function serveTls(c: Cert, handler: (req: Request) => Response | Promise<Response>) {
  return Bun.serve({ port: 0, hostname: "127.0.0.1", development: false, tls: { cert: Bun.file(c.cert), key: Bun.file(c.key) }, fetch: handler });
}
