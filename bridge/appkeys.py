"""Every typed application key, in one place."""

from __future__ import annotations

from aiohttp import web

from bridge.config import Config
from bridge.metrics import Metrics
from bridge.modelmap import ModelMap
from bridge.ratelimit import RateLimiter
from bridge.responses.seal import SealKeys
from bridge.sessions import Sessions
from bridge.spend.ledger import Ledger
from bridge.storage.base import Store
from bridge.thinking_cache import ThinkingCache
from supervisor.pool import Pool
from supervisor.runner import TurnRunner

CONFIG = web.AppKey("config", Config)
MODELS = web.AppKey("models", ModelMap)
POOL = web.AppKey("pool", Pool)
RUNNER = web.AppKey("runner", TurnRunner)
CLI_VERSION = web.AppKey("cli_version", str)
STORE = web.AppKey("store", Store)
LIMITER = web.AppKey("limiter", RateLimiter)
METRICS = web.AppKey("metrics", Metrics)
SESSIONS = web.AppKey("sessions", Sessions)
LEDGER = web.AppKey("ledger", Ledger)
THINKING = web.AppKey("thinking", ThinkingCache)
SEAL = web.AppKey("seal", SealKeys)

REQUEST_ID = web.RequestKey("request_id", str)
# Whose spend a request is: the API key's fingerprint, or `anonymous` when no keys are configured.
ACCOUNT = web.RequestKey("account", str)
