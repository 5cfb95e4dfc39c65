// Crockford base32: message ids sort by creation time as plain strings (ULID layout: 48-bit ms time + 80 random bits).
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
let lastRandom = new Uint8Array(16);

export function newId(now = Date.now()): string {
  let time = "";
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  // Ids made in the same millisecond by one process still sort in creation order.
  if (now === lastTime) {
    for (let i = 15; i >= 0; i--) {
      if (lastRandom[i]! < 31) { lastRandom[i]!++; break; }
      lastRandom[i] = 0;
    }
  } else {
    lastRandom = crypto.getRandomValues(new Uint8Array(16)).map((b) => b & 31);
    lastTime = now;
  }
  let rand = "";
  for (const b of lastRandom) rand += ALPHABET[b];
  return time + rand;
}

export function idTime(id: string): number {
  let t = 0;
  for (const c of id.slice(0, 10).toUpperCase()) t = t * 32 + ALPHABET.indexOf(c);
  return t;
}
