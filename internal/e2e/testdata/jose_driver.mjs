// Test driver for jose_verify.mjs (the README's snippet): one JSON request
// per stdin line ({"token": "..."}), one JSON answer per stdout line
// ({"ok": bool, "error": "...", "user_id": n}). The first line names the
// verifier and its version.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { verifyAccessToken } from './jose_verify.mjs';

const pkg = new URL('./node_modules/jose/package.json', import.meta.url);
const version = JSON.parse(readFileSync(fileURLToPath(pkg), 'utf8')).version;
process.stdout.write(JSON.stringify({ name: 'jose', version, runtime: `node ${process.version}` }) + '\n');

for await (const line of createInterface({ input: process.stdin })) {
  const { token } = JSON.parse(line);
  let answer;
  try {
    const claims = await verifyAccessToken(token);
    answer = { ok: true, user_id: claims.user_id };
  } catch (err) {
    answer = { ok: false, error: `${err.code ?? err.name}: ${err.message}` };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
