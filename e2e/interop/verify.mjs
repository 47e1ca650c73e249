// Verifies outhook deliveries with the npm `standardwebhooks` package (the Standard Webhooks reference
// library for JavaScript), as a receiver written in Node.js would.
//
// stdin:  a JSON array of {"headers": {"name": "value"}, "body": "<base64 of the raw body>", "secret": "whsec_... | whcms_..."}
// stdout: a JSON array of {"ok": true} or {"ok": false, "error": "..."}, one per input, in order.
//
// outhook's secrets are a prefix plus the base64 of the key (the Standard Webhooks rule): a receiver
// strips the prefix, whichever it is, and hands the rest to the library.
import { Webhook } from "standardwebhooks";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const results = cases.map(({ headers, body, secret }) => {
  try {
    const key = secret.replace(/^(whsec_|whcms_)/, "");
    new Webhook(key).verify(Buffer.from(body, "base64"), headers);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String(err && err.message ? err.message : err) };
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
