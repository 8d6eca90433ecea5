// Checks a running `qkv serve` with OpenAI's official Node SDK, as a user's program calls it.
//
//   npm install && QKV_URL=http://127.0.0.1:8080/v1 QKV_MODEL=NAME [QKV_EMBED_MODEL=NAME] node check.mjs
//
// It exits non-zero at the first thing the server answers differently from OpenAI's API.
import OpenAI from "openai";
import assert from "node:assert/strict";

const baseURL = process.env.QKV_URL ?? "http://127.0.0.1:8080/v1";
const model = process.env.QKV_MODEL;
const embedModel = process.env.QKV_EMBED_MODEL ?? model;
assert.ok(model, "set QKV_MODEL to the name of a generative model the server serves");
const client = new OpenAI({ baseURL, apiKey: process.env.QKV_API_KEY ?? "none", maxRetries: 0 });

const models = await client.models.list();
const ids = models.data.map((m) => m.id);
assert.ok(ids.includes(model), `models ${ids} lack ${model}`);
console.log("models:", ids.join(", "));

const c = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 16, temperature: 0, logprobs: 2 });
assert.equal(c.object, "text_completion");
assert.equal(c.choices[0].logprobs.tokens.length, c.usage.completion_tokens);
console.log("completion:", JSON.stringify(c.choices[0].text), c.choices[0].finish_reason, c.usage);

const chat = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Hello!" }], max_tokens: 16, seed: 1 });
assert.equal(chat.choices[0].message.role, "assistant");
console.log("chat:", JSON.stringify(chat.choices[0].message.content), chat.choices[0].finish_reason);

const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Hello!" }], max_tokens: 16, seed: 1, stream: true, stream_options: { include_usage: true } });
let text = "", usage = null, roles = 0;
for await (const chunk of stream) {
  for (const ch of chunk.choices) {
    if (ch.delta.role) roles++;
    text += ch.delta.content ?? "";
  }
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(roles, 1, "one role chunk");
assert.equal(text, chat.choices[0].message.content, "the streamed text equals the plain one (same seed)");
assert.ok(usage && usage.completion_tokens > 0, "a usage chunk");
console.log("stream:", JSON.stringify(text), usage);

const e = await client.embeddings.create({ model: embedModel, input: ["the cat sat", "a dog ran"] });
assert.equal(e.data.length, 2);
assert.ok(e.data[0].embedding.length > 0);
console.log("embeddings:", e.data.length, "×", e.data[0].embedding.length);

try {
  await client.completions.create({ model: "no-such-model", prompt: "x" });
  assert.fail("an unknown model was accepted");
} catch (err) {
  assert.ok(err instanceof OpenAI.NotFoundError, `got ${err}`);
  assert.equal(err.code, "model_not_found");
  console.log("error:", err.status, err.code, err.message);
}
console.log("ok");
