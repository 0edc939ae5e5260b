// Copies the browser builds of the locked libraries into the package's static folder.
// Run after `npm ci` by `./dev setup` and by the wheel's build (tools/build_backend.py);
// the copies are generated files (gitignored), shipped in the wheel as package data.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const target = join(here, "..", "src", "livereport", "web", "static", "vendor");

const files = {
  "chart.js/dist/chart.umd.min.js": "chart.umd.min.js",
  "chart.js/dist/chart.umd.min.js.map": "chart.umd.min.js.map",
  "chart.js/LICENSE.md": "LICENSE.chart.js.md",
  "gridstack/dist/gridstack-all.js": "gridstack-all.js",
  "gridstack/dist/gridstack-all.js.map": "gridstack-all.js.map",
  "gridstack/dist/gridstack.min.css": "gridstack.min.css",
  "gridstack/LICENSE": "LICENSE.gridstack.txt",
};

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const [from, to] of Object.entries(files)) {
  copyFileSync(join(modules, from), join(target, to));
}
console.log(`vendor: ${Object.keys(files).length} files in ${target}`);
