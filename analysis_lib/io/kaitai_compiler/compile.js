// Compile one .ksy to Python with the official Kaitai Struct compiler (npm
// kaitai-struct-compiler; GPL-3.0, run as a tool: the code it generates is ours).
//
//   node compile.js MAIN.ksy OUT_DIR [IMPORT_DIR…]
//
// Run by analysis_lib.io.kaitai with an argument vector (no shell). YAML is parsed with
// js-yaml; `meta/imports` are read relative to the importing file (mode "rel") or from the
// IMPORT_DIRs (mode "abs"). Writes the generated .py files into OUT_DIR and prints a JSON
// summary on stdout: {"files": [...], "version": "..."}. On a compiler or YAML error it
// prints {"error": "...", "file": "..."} on stdout and exits with status 2.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");
const compiler = require("kaitai-struct-compiler");

const [mainKsy, outDir, ...importDirs] = process.argv.slice(2);
let current = mainKsy;

function load(file) {
  current = file;
  return yaml.load(fs.readFileSync(file, "utf8"), { filename: file });
}

const importer = {
  importYaml(name, mode) {
    const base = mode === "abs" ? importDirs : [path.dirname(mainKsy)];
    for (const dir of base) {
      const file = path.resolve(dir, name + ".ksy");
      if (fs.existsSync(file)) {
        try {
          return Promise.resolve(load(file));
        } catch (e) {
          return Promise.reject(e);
        }
      }
    }
    current = mainKsy;
    return Promise.reject(
      new Error(`import '${name}' (${mode}): no ${name}.ksy in ${base.join(", ")}`),
    );
  },
};

function fail(e) {
  let msg = e && e.getMessage ? e.getMessage() : String(e && e.message ? e.message : e);
  if (e && e.mark && e.mark.line !== undefined) {
    msg = `${e.reason} (line ${e.mark.line + 1}, column ${e.mark.column + 1})`;
  }
  process.stdout.write(JSON.stringify({ error: msg, file: current }) + "\n");
  process.exit(2);
}

let ksy;
try {
  ksy = load(mainKsy);
} catch (e) {
  fail(e);
}
current = mainKsy;
compiler
  .compile("python", ksy, importer, false)
  .then((files) => {
    const names = [];
    for (const [name, text] of Object.entries(files)) {
      fs.writeFileSync(path.join(outDir, path.basename(name)), text);
      names.push(path.basename(name));
    }
    process.stdout.write(JSON.stringify({ files: names, version: compiler.version }) + "\n");
  })
  .catch(fail);
