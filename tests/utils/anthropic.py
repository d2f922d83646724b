"""Messages API replies in Anthropic's wire format, for a ScriptedServer."""

from __future__ import annotations

from typing import Any

from tests.utils.http import Reply, json_reply


def tool_use_reply(name: str, tool_input: dict[str, Any], model: str = "claude-test") -> Reply:
    return json_reply(200, {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                     "name": name, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 412, "output_tokens": 380,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 356},
    })


def overloaded_reply() -> Reply:
    return json_reply(529, {"type": "error",
                            "error": {"type": "overloaded_error", "message": "Overloaded"}})
