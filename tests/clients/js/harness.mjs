// Runs named cases one after another and prints one JSON line per case:
// {"case": name, "value": <what the case returned>} or {"case": name, "error": "..."}.
// The pytest module (tests/clients/test_js_*.py) asserts on the values.
export const baseURL = process.env.BRIDGE_BASE_URL;
if (!baseURL) throw new Error("BRIDGE_BASE_URL is not set");

export async function runCases(cases) {
  for (const [name, fn] of Object.entries(cases)) {
    try {
      const value = await fn();
      console.log(JSON.stringify({ case: name, value: value ?? null }));
    } catch (e) {
      const body = e?.responseBody ?? e?.error ?? null;
      console.log(JSON.stringify({ case: name, error: `${e?.constructor?.name}: ${e?.message}`, body }));
    }
  }
}
