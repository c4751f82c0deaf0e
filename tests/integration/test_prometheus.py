"""A real /metrics scrape passes `promtool check metrics`, and serves every family the rules use."""

from __future__ import annotations

import asyncio
import re
import shutil
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from tests.conftest import Bridge

RULES = Path(__file__).resolve().parent.parent.parent / "deploy" / "prometheus" / "bridge-rules.yml"


async def test_metrics_pass_promtool(bridge: Bridge) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs it (Debian's prometheus package)")
    client = bridge.client()
    await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Session-ID": "sess_prom"}
    )
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "<<say:a b>>"}], stream=True
    )
    async for _ in stream:
        pass
    with pytest.raises(Exception):  # noqa: B017 - any failure: only the error counter matters here
        await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "<<error:401>>"}])
    async with bridge.http() as http:
        scrape = (await http.get("/metrics")).text
    check = await asyncio.create_subprocess_exec(promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=PIPE)
    out, err = await check.communicate(scrape.encode())
    assert check.returncode == 0 and not out.strip(), (out + err).decode()
    families = {re.sub(r"_total$", "", f) for f in re.findall(r"^# TYPE (\w+) ", scrape, re.M)}
    used = set(re.findall(r"(?<![:\w])(bridge_[a-z_]+?)(?:_total|_bucket)?(?![:\w])", RULES.read_text()))
    assert used and used <= families, used - families
