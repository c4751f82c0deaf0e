"""One live bridge per app module, reached by the app only through a recording Unix-socket tap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
import pytest_asyncio

from tests.apps.harness import Tap
from tests.conftest import Bridge, start_bridge, stop_bridge
from tests.fake_upstream import FakeUpstream


@attrs.frozen
class Live:
    bridge: Bridge
    tap: Tap

    @property
    def port(self) -> int:
        """The port the app dials inside its namespace (the bridge's own number, for clear logs)."""
        return self.tap.target_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def fake(self) -> FakeUpstream:
        return self.bridge.fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    """The bridge of a module, with the module's `BRIDGE_ENV` settings if it has any."""
    fake = FakeUpstream()
    await fake.start()
    bridge = await start_bridge(fake, tmp_path_factory.mktemp("apps"), **getattr(request.module, "BRIDGE_ENV", {}))
    tap = Tap(bridge.server.port or 0)
    await tap.start()
    try:
        yield Live(bridge, tap)
    finally:
        await tap.stop()
        await stop_bridge(bridge)
        await fake.stop()
