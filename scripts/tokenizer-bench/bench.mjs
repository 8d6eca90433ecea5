// Compares qkv's GPT-2 tokenizer with js-tiktoken on tiny Shakespeare, in one run.
//
//   cd scripts/tokenizer-bench && npm install && node bench.mjs
//
// The text is the shared tinyshakespeare/input.txt ($QKV_DATA_DIR, else ../shared/data beside
// the module). js-tiktoken encodes it with the gpt2 ranks (encode_ordinary semantics: no special
// tokens); the Go side runs `go test -bench` on the same file. Both report MB/s (10^6 bytes/s).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2 from "js-tiktoken/ranks/gpt2";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const dataDir = process.env.QKV_DATA_DIR || join(root, "..", "shared", "data");
const text = readFileSync(join(dataDir, "tinyshakespeare", "input.txt"), "utf8");
const bytes = Buffer.byteLength(text, "utf8");
const runs = Number(process.env.RUNS || 10);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// js-tiktoken: warm up the JIT, then time each run.
const enc = new Tiktoken(gpt2);
let count = 0;
for (let i = 0; i < 3; i++) count = enc.encode(text, [], []).length;
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  count = enc.encode(text, [], []).length;
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
const jsMBps = bytes / 1e6 / median(times);

// qkv: the Go benchmarks on the same file (warm piece cache, and emptied before each pass).
const out = execFileSync(
  "go",
  ["test", "-run", "^$", "-bench", "^BenchmarkGPT2EncodeShakespeare(Cold)?$", "-benchtime", `${runs}x`, "-count", "1", "./tokenizer"],
  { cwd: root, encoding: "utf8", env: { ...process.env, QKV_DATA_DIR: dataDir } },
);
const goMBps = {};
for (const line of out.split("\n")) {
  const m = line.match(/^(BenchmarkGPT2EncodeShakespeare\w*)-\d+\s+\d+\s+\d+ ns\/op\s+([\d.]+) MB\/s/);
  if (m) goMBps[m[1]] = Number(m[2]);
}
const warm = goMBps.BenchmarkGPT2EncodeShakespeare;
const cold = goMBps.BenchmarkGPT2EncodeShakespeareCold;
if (!warm || !cold) {
  console.error(out);
  throw new Error("could not read the Go benchmark results");
}

console.log(`tiny Shakespeare: ${bytes} bytes, ${count} tokens (js-tiktoken gpt2), median of ${runs} runs`);
console.log(`js-tiktoken 1.0.21 encode:      ${jsMBps.toFixed(1)} MB/s`);
console.log(`qkv GPT2.Encode, warm cache:  ${warm.toFixed(1)} MB/s  (${(warm / jsMBps).toFixed(2)}x js-tiktoken)`);
console.log(`qkv GPT2.Encode, cold cache:  ${cold.toFixed(1)} MB/s  (${(cold / jsMBps).toFixed(2)}x js-tiktoken)`);
if (count !== 338025) {
  console.error(`unexpected token count ${count} (want 338025)`);
  process.exit(1);
}
