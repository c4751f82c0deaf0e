"""What placement reads of a process, without a process: the pure placement tests' stand-in."""

from __future__ import annotations

import attrs

from supervisor.conversation import Held
from supervisor.launch import ClientTool, LaunchProfile

P = LaunchProfile()


@attrs.define
class FakeSlot:
    name: str
    profile: LaunchProfile = P
    system_prompt: str = ""
    sticky: frozenset[ClientTool] | None = None
    conversation: Held | None = None
    last_used: float = 0.0
    returning: bool = False
    parked: bool = False
