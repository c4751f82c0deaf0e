// The `openai` npm package against the bridge, configured only with baseURL and apiKey.
import OpenAI from "openai";
import { zodResponseFormat, zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";
import { baseURL, runCases } from "./harness.mjs";

const client = new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 });
const Person = z.object({ name: z.string(), age: z.number() });
const person = JSON.stringify({ name: "Ann", age: 7 });

await runCases({
  chat: async () => {
    const r = await client.chat.completions.create({
      model: "gpt-4o",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "<<say:Hello from openai-node>>" },
      ],
    });
    return { content: r.choices[0].message.content, finish: r.choices[0].finish_reason, object: r.object };
  },
  stream: async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "<<words:4>>" }],
    });
    const deltas = [];
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta?.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    return { deltas, finish, completion_tokens: usage?.completion_tokens ?? null };
  },
  parse: async () => {
    const r = await client.chat.completions.parse({
      model: "gpt-4o",
      messages: [{ role: "user", content: `Who? <<tool:StructuredOutput:${person}>>` }],
      response_format: zodResponseFormat(Person, "person"),
    });
    return r.choices[0].message.parsed;
  },
  responses: async () => {
    const r = await client.responses.create({
      model: "gpt-4o",
      instructions: "Be brief.",
      input: "<<say:Hello from responses>>",
    });
    return { text: r.output_text, status: r.status, object: r.object };
  },
  responses_stream: async () => {
    const stream = await client.responses.create({ model: "gpt-4o", input: "<<words:3>>", stream: true });
    const types = [];
    let text = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    return { text, first: types[0], last: types[types.length - 1] };
  },
  responses_parse: async () => {
    const r = await client.responses.parse({
      model: "gpt-4o",
      input: `Who? <<tool:StructuredOutput:${person}>>`,
      text: { format: zodTextFormat(Person, "person") },
    });
    return r.output_parsed;
  },
  responses_previous: async () => {
    const first = await client.responses.create({ model: "gpt-4o", input: "<<say:the code is kiwi>>" });
    const second = await client.responses.create({
      model: "gpt-4o",
      input: "<<has:the code is kiwi>>",
      previous_response_id: first.id,
    });
    return second.output_text;
  },
});
