import pytest

from gateway.ratelimit import RateLimiter
from picloss.platform.config import ConfigError
from picloss.protocol.endpoints import callback_accepted as is_success
from services.dispatcher.config import DispatcherConfig

BASE = {"DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "x:1", "PICLOSS_KEYS_FILE": "k.json",
        "PICLOSS_DATA_KEYS_FILE": "d.json"}


@pytest.mark.parametrize(("status", "body", "ok"), [
    (200, b"", True),
    (204, b"", True),
    (200, b'{"result_code":"SUCCESS"}', True),
    (200, b'{"result_code":"FAIL"}', False),
    (200, b"plain text ok", True),
    (200, b'{"other":1}', True),
    (500, b'{"result_code":"SUCCESS"}', False),
    (302, b"", False),
    (404, b"", False),
])
def test_callback_success_rule(status: int, body: bytes, ok: bool) -> None:
    assert is_success(status, body) is ok


def test_default_retry_delays_are_the_protocol_ones() -> None:
    config = DispatcherConfig.from_env(BASE)
    assert config.retry_delays_s == (15, 30, 180, 600, 1200, 1800)
    assert config.callback_timeout_s == 5


@pytest.mark.parametrize("delays", ["1,2,3,4,5,6,7", "a,b", "-1"])
def test_bad_retry_delays_fail_fast(delays: str) -> None:
    with pytest.raises(ConfigError, match="CALLBACK_RETRY_DELAYS"):
        DispatcherConfig.from_env({**BASE, "CALLBACK_RETRY_DELAYS": delays})


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        DispatcherConfig.from_env({"KAFKA_BOOTSTRAP_SERVERS": "x:1", "PICLOSS_KEYS_FILE": "k"})


def test_token_bucket() -> None:
    rl = RateLimiter(rate_per_s=1, burst=2)
    assert [rl.allow("a", now=0), rl.allow("a", now=0), rl.allow("a", now=0)] == [True, True, False]
    assert rl.allow("b", now=0)            # per appid
    assert rl.allow("a", now=1.01)         # refilled
    assert RateLimiter(0, 1).allow("a")    # disabled
