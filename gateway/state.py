"""Typed app keys and the resources the handlers use."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.ratelimit import RateLimiter
from picloss.platform.kafka import AsyncProducer
from picloss.platform.ledger import Ledger
from picloss.platform.ledger.sealing import DataKeys
from picloss.protocol.keys import KeyStore


@dataclass
class Deps:
    ledger: Ledger
    producer: AsyncProducer
    keys: KeyStore
    data_keys: DataKeys


CONFIG = web.AppKey("config", GatewayConfig)
DEPS = web.AppKey("deps", Deps)
LIMITER = web.AppKey("limiter", RateLimiter)
SIGNING_KEY = web.RequestKey("signing_key", str)  # set once the (appid, mchid) pair is known
