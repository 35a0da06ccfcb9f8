// Builds the status page into ../services87/static/statuspage (committed, so installing the Python
// package needs no Node.js). Run through scripts/build-frontend.
import {build} from "esbuild";
import {copyFileSync, mkdirSync, readdirSync, rmSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "services87", "static", "statuspage");
rmSync(out, {recursive: true, force: true});
mkdirSync(out, {recursive: true});

await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outfile: join(out, "app.js"),
  legalComments: "linked",
  logLevel: "warning",
});
await build({
  entryPoints: [join(here, "src", "style.css")],
  bundle: true,
  minify: true,
  outfile: join(out, "app.css"),
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
console.log("built", readdirSync(out).join(", "), "into", out);
