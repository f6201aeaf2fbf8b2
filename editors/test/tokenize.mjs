// Tokenizes every pipeline of the repository (rules/, examples/ and tests/) with the TextMate grammar of
// editors/vscode, through the same tokenizer VS Code uses (vscode-textmate + vscode-oniguruma),
// and checks the scopes an analyst sees: keywords, strings, comments, durations, moments.
// Exit 1 with every mismatch listed.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import vsctm from "vscode-textmate";
import oniguruma from "vscode-oniguruma";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
await oniguruma.loadWASM(wasm);
const registry = new vsctm.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (s) => new oniguruma.OnigString(s),
  }),
  loadGrammar: async (scope) => {
    if (scope !== "source.dealflow") return null;
    const path = join(root, "editors/vscode/syntaxes/dealflow.tmLanguage.json");
    return vsctm.parseRawGrammar(readFileSync(path, "utf8"), path);
  },
});
const grammar = await registry.loadGrammar("source.dealflow");

/** Each line of a text as tokens: {text, scopes}. */
function tokenize(text) {
  let stack = vsctm.INITIAL;
  return text.split("\n").map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return r.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

function flows(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === "node_modules" || name === "target") continue;
    if (statSync(p).isDirectory()) out.push(...flows(p));
    else if (name.endsWith(".flow")) out.push(p);
  }
  return out;
}

/** The tokens of a line that cover columns [from, to). */
function covering(toks, from, to) {
  let at = 0;
  return toks.filter((t) => {
    const start = at;
    at += t.text.length;
    return start < to && at > from;
  });
}

/** A line's one-line strings, as [from, to) spans, and where their interpolations open. */
function scan(line) {
  const spans = [];
  const opens = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === "#") break;
    if (line.startsWith('"""', i)) break; // a multi-line text: checked line by line above
    if (line[i] !== '"') { i++; continue; }
    const from = i++;
    let depth = 0;
    while (i < line.length) {
      if (line[i] === "\\") { i += 2; continue; }
      if (line.startsWith("{{", i)) { if (depth === 0) opens.push(i); depth++; i += 2; continue; }
      if (depth > 0 && line.startsWith("}}", i)) { depth--; i += 2; continue; }
      if (depth > 0 && line[i] === '"') {
        i++;
        while (i < line.length && line[i] !== '"') i += line[i] === "\\" ? 2 : 1;
        i++;
        continue;
      }
      if (line[i] === '"') { i++; break; }
      i++;
    }
    spans.push([from, i]);
  }
  return { spans, opens };
}

const failures = [];
let checked = 0;
function expect(ok, where, what) {
  checked++;
  if (!ok) failures.push(`${where}: ${what}`);
}
const has = (t, scope) => t.scopes.some((s) => s.startsWith(scope));

const files = [...flows(join(root, "rules")), ...flows(join(root, "examples")), ...flows(join(root, "tests"))];
let derivedLines = 0;
if (files.length < 20) failures.push(`only ${files.length} pipelines found`);
for (const file of files) {
  const name = relative(root, file);
  const lines = readFileSync(file, "utf8").split("\n");
  const tokens = tokenize(lines.join("\n"));
  let inTriple = false;
  lines.forEach((line, i) => {
    const where = `${name}:${i + 1}`;
    const toks = tokens[i];
    const tripleMarks = (line.match(/"""/g) || []).length;
    const wasInTriple = inTriple;
    if (tripleMarks % 2 === 1) inTriple = !inTriple;
    if (wasInTriple) {
      // Inside a multi-line text: all string (or its interpolations), never a keyword.
      for (const t of toks) {
        if (t.text.trim() === "") continue;
        expect(has(t, "string.quoted.triple") , where, `\`${t.text}\` inside a """ text is not string`);
      }
      return;
    }
    // A comment line is all comment.
    if (/^\s*#/.test(line)) {
      for (const t of toks.filter((t) => t.text.trim() !== "")) {
        expect(has(t, "comment.line.number-sign"), where, `\`${t.text}\` in a comment line is not comment`);
      }
      return;
    }
    // The keyword that opens an item or a stage line.
    const first = toks.find((t) => t.text.trim() !== "");
    const word = line.trim().split(/[\s{(]/)[0];
    const declarations = ["pipeline", "calendar", "role", "fields", "event", "template", "stage", "phase", "alert", "migrate"];
    const clauses = ["notify", "task", "set", "require", "skip", "group", "spawn", "timezone", "currency", "country", "maps", "script", "workweek", "hours", "holidays", "sms", "email"];
    const controls = ["on", "after", "at"];
    if (first && declarations.includes(word)) {
      expect(first.text.trim() === word && has(first, "keyword.declaration"), where, `\`${word}\` is not a declaration keyword: ${JSON.stringify(first)}`);
      // The declared name (stage lead, template welcome …) is named as such.
      const m = line.match(new RegExp(`^\\s*${word}\\s+([\\p{L}_][\\p{L}\\p{M}\\p{N}_]*)`, "u"));
      if (m && word !== "fields" && word !== "migrate") {
        const nameTok = toks.find((t) => t.text === m[1]);
        expect(nameTok && has(nameTok, "entity.name.type"), where, `the name \`${m[1]}\` is not an entity name`);
      }
    } else if (first && clauses.includes(word)) {
      expect(first.text.trim() === word && has(first, "keyword.other"), where, `\`${word}\` is not a keyword: ${JSON.stringify(first)}`);
    } else if (first && controls.includes(word)) {
      expect(first.text.trim() === word && has(first, "keyword.control"), where, `\`${word}\` is not a control keyword: ${JSON.stringify(first)}`);
    } else if (first && word === "->") {
      expect(has(first, "keyword.operator.arrow"), where, "`->` is not an arrow");
    }
    // A derived field (`margin: money = amount - labour_cost`): its type is a type, its `=` an
    // operator, what follows an expression (a name before `(` a function).
    const derived = line.match(/^(\s*[\p{L}_][\p{L}\p{M}\p{N}_]*:\s*)([a-z]+)(\s*)=(?!=)/u);
    if (derived) {
      derivedLines++;
      const typeAt = derived[1].length;
      const [ty] = covering(toks, typeAt, typeAt + derived[2].length);
      expect(ty && has(ty, "support.type"), where, `the derived field's type \`${derived[2]}\` is ${ty && ty.scopes.at(-1)}`);
      const eqAt = typeAt + derived[2].length + derived[3].length;
      const [eq] = covering(toks, eqAt, eqAt + 1);
      expect(eq && eq.text.trim() === "=" && has(eq, "keyword.operator"), where, `the derived field's \`=\` is ${eq && eq.scopes.at(-1)}`);
    }
    // Outside strings and comments: durations and moments.
    const plain = line.replace(/"(?:[^"\\]|\\.)*"/g, (s) => " ".repeat(s.length)).replace(/#.*$/, "");
    for (const m of plain.matchAll(/(?<![\p{L}\p{N}_.])(\d+[ \t]*(?:workdays?|workhours?|m|h|d|w))(?![\p{L}\p{M}\p{N}_])/gu)) {
      const over = covering(toks, m.index, m.index + m[1].length);
      expect(over.length > 0 && over.every((t) => has(t, "constant.numeric.duration")), where, `duration \`${m[1]}\` is ${JSON.stringify(over.map((t) => t.scopes.at(-1)))}`);
    }
    for (const m of plain.matchAll(/\b\d{4}-\d{2}-\d{2}(?:T\d{1,2}:\d{2})?\b/g)) {
      const tok = toks.find((t) => t.text.includes(m[0]));
      expect(tok && has(tok, "constant.other.datetime"), where, `moment \`${m[0]}\` is ${tok && tok.scopes.at(-1)}`);
    }
    // Strings: every character of a quoted text is string (its {{ }} an interpolation inside
    // it); a comment sign in one is not a comment.
    const { spans, opens } = scan(line);
    for (const [from, to] of spans) {
      for (const t of covering(toks, from, to)) {
        expect(has(t, "string.quoted.double") && !has(t, "comment"), where, `\`${t.text}\` in the string ${line.slice(from, to)} is ${JSON.stringify(t.scopes)}`);
      }
    }
    for (const at of opens) {
      const [t] = covering(toks, at, at + 2);
      expect(t && t.text === "{{" && has(t, "meta.interpolation"), where, `\`{{\` at column ${at + 1} does not open an interpolation`);
    }
    // A trailing comment after code.
    const trailing = plain.match(/\s(#.*)$/);
    if (trailing && line.trim()[0] !== "#") {
      const tok = toks.find((t) => t.text.startsWith("#"));
      expect(tok && has(tok, "comment.line"), where, "a trailing comment is not comment");
    }
  });
}
if (derivedLines < 2) failures.push(`only ${derivedLines} derived fields found (examples/web-studio-live.flow has two)`);
if (failures.length) {
  console.error(failures.join("\n"));
  console.error(`${failures.length} of ${checked} checks failed`);
  process.exit(1);
}
console.log(`${files.length} pipelines tokenized, ${checked} scopes checked`);
