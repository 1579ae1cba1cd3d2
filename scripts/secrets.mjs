// `npm run secrets [-- <file>]`: the Worker's four secrets, freshly generated, in a dotenv file
// (default .secrets.production, git-ignored) for `npm run deploy -- --secrets-file <file>`.
// Secrets already in the file are kept. Keep the file somewhere safe (ADMIN_TOKEN is in it), or
// delete it once deployed: wrangler keeps the secrets, and they are never shown again.
import { resolve } from "node:path";
import { ensureSecrets } from "./stack.mjs";

const file = resolve(process.argv[2] ?? ".secrets.production");
const { added } = ensureSecrets(
	file,
	"The Worker's secrets for production (npm run deploy -- --secrets-file this file). Never commit.",
);
console.log(added.length > 0 ? `wrote ${added.join(", ")} to ${file}` : `${file} has every secret already`);
