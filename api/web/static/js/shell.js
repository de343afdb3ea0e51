// For pages with no script of their own: just the header, language and role guard.
import { startShell } from "./core.js";

await startShell();
