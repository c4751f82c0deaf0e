// The Vercel AI SDK (`ai` + `@ai-sdk/openai`) against the bridge, on the Responses API (the
// provider's default) and on chat completions, configured only with baseURL and apiKey.
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, Output, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";
import { baseURL, runCases } from "./harness.mjs";

const openai = createOpenAI({ baseURL, apiKey: "sk-test" });
const models = { responses: openai("gpt-4o"), chat: openai.chat("gpt-4o") };
const weather = tool({
  description: "The weather in a city.",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => `hot in ${city}`,
});

const cases = {};
for (const [api, model] of Object.entries(models)) {
  cases[`${api}:generateText`] = async () => {
    const r = await generateText({ model, maxRetries: 0, system: "Be brief.", prompt: "<<say:Hello from the AI SDK>>" });
    return { text: r.text, finishReason: r.finishReason, outputTokens: r.usage.outputTokens };
  };
  cases[`${api}:streamText`] = async () => {
    const r = streamText({ model, maxRetries: 0, prompt: "<<words:4>>" });
    const parts = [];
    for await (const part of r.fullStream) {
      if (part.type === "error") throw part.error;
      if (part.type === "text-delta") parts.push(part.text);
    }
    return { parts, finishReason: await r.finishReason };
  };
  cases[`${api}:tool`] = async () => {
    const r = await generateText({
      model,
      maxRetries: 0,
      tools: { weather },
      stopWhen: stepCountIs(3),
      prompt: '<<tool:mcp__c__weather:{"city":"Lima"}>>',
    });
    const calls = r.steps.flatMap((s) => s.toolCalls.map((c) => [c.toolName, c.input]));
    return { text: r.text, calls, steps: r.steps.length };
  };
  cases[`${api}:streamText tool`] = async () => {
    const r = streamText({
      model,
      maxRetries: 0,
      tools: { weather },
      stopWhen: stepCountIs(3),
      prompt: '<<say:Checking.>> <<tool:mcp__c__weather:{"city":"Quito"}>>',
    });
    let text = "";
    for await (const part of r.fullStream) {
      if (part.type === "error") throw part.error;
      if (part.type === "text-delta") text += part.text;
    }
    return text;
  };
  cases[`${api}:generateObject`] = async () => {
    const r = await generateObject({
      model,
      maxRetries: 0,
      schema: z.object({ name: z.string(), age: z.number() }),
      prompt: '<<tool:StructuredOutput:{"name":"Ann","age":7}>>',
    });
    return r.object;
  };
  cases[`${api}:tool with structured output`] = async () => {
    const r = await generateText({
      model,
      maxRetries: 0,
      tools: { weather },
      stopWhen: stepCountIs(4),
      output: Output.object({ schema: z.object({ city: z.string(), hot: z.boolean() }) }),
      prompt: '<<tool:mcp__c__weather:{"city":"Lima"}>> <<thentool:StructuredOutput:{"city":"Lima","hot":true}>>',
    });
    return r.output;
  };
  cases[`${api}:conversation`] = async () => {
    // A chat app's second turn: the first turn's response messages are sent back.
    const first = await generateText({
      model,
      maxRetries: 0,
      tools: { weather },
      stopWhen: stepCountIs(3),
      prompt: '<<tool:mcp__c__weather:{"city":"Cusco"}>>',
    });
    const r = await generateText({
      model,
      maxRetries: 0,
      tools: { weather },
      messages: [
        { role: "user", content: "What is the weather in Cusco?" },
        ...first.response.messages,
        { role: "user", content: "<<has:after-tool: hot in Cusco>>" },
      ],
    });
    return r.text;
  };
}
await runCases(cases);
