// `npm run setup:thumbor`: makes the Thumbor venv now (npm run dev and npm test make it on demand).
import { ensureThumborVenv } from "./stack.mjs";

ensureThumborVenv();
