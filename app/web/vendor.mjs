// Copy the built browser files the dashboard uses from node_modules into
// static/vendor/, so the pages work offline and nothing loads from a CDN.
// Run after `npm ci` in this folder: `npm run vendor`. The copies are committed.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const vendor = join(here, "static", "vendor");

const files = {
  "chartjs/chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
  "chartjs/LICENSE.md": "chart.js/LICENSE.md",
  "highlightjs/core.min.js": "@highlightjs/cdn-assets/es/core.min.js",
  "highlightjs/python.min.js": "@highlightjs/cdn-assets/es/languages/python.min.js",
  "highlightjs/github.min.css": "@highlightjs/cdn-assets/styles/github.min.css",
  "highlightjs/github-dark.min.css": "@highlightjs/cdn-assets/styles/github-dark.min.css",
  "highlightjs/LICENSE": "@highlightjs/cdn-assets/LICENSE",
  // The API reference at /docs (Swagger UI) and /redoc (ReDoc).
  "swagger-ui/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
  "swagger-ui/LICENSE": "swagger-ui-dist/LICENSE",
  "swagger-ui/NOTICE": "swagger-ui-dist/NOTICE",
  "redoc/redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
  "redoc/redoc.standalone.js.LICENSE.txt": "redoc/bundles/redoc.standalone.js.LICENSE.txt",
  "redoc/LICENSE": "redoc/LICENSE",
};

rmSync(vendor, { recursive: true, force: true });
for (const [target, source] of Object.entries(files)) {
  const to = join(vendor, target);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(modules, source), to);
  console.log(`static/vendor/${target} <- node_modules/${source}`);
}
