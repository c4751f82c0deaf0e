"""A hand-written stand-in for the Claude CLI, for faults the real one cannot show.

It answers `--version` and `initialize` like the real CLI, and lists the bridge's MCP tools when
`mcp_set_servers` connects it (as the real CLI does, with a `tools/list` of its own), then never
answers the control requests named in STANDIN_IGNORE (comma-separated subtypes, e.g.
`set_model`): a CLI that hangs on a control request. Every other control request succeeds; a
replayed user message (`shouldQuery: false`) gets the empty `result` the real CLI gives it, and
other user messages get no answer.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    if "--version" in sys.argv:
        print("0.0.0 (stand-in)")
        return
    ignore = set(filter(None, os.environ.get("STANDIN_IGNORE", "").split(",")))
    for line in sys.stdin:
        msg = json.loads(line)
        if msg.get("type") == "user" and msg.get("shouldQuery") is False:
            _write({"type": "result", "subtype": "success", "is_error": False, "num_turns": 0, "usage": {}})
            continue
        if msg.get("type") != "control_request":
            continue
        subtype = msg["request"].get("subtype")
        if subtype in ignore:
            continue
        body: dict[str, object] = {
            "models": [],
            "account": {"apiKeySource": "ANTHROPIC_API_KEY", "apiProvider": "firstParty"},
        }
        if subtype == "rewind_conversation":
            body = {"rewound": True}
        response = {"subtype": "success", "request_id": msg["request_id"], "response": body}
        _write({"type": "control_response", "response": response})
        if subtype == "mcp_set_servers" and msg["request"].get("servers"):
            for server in msg["request"]["servers"]:
                listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
                request = {"subtype": "mcp_message", "server_name": server, "message": listing}
                _write({"type": "control_request", "request_id": f"standin-{server}", "request": request})


def _write(line: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
