"""Delivery settings are checked at start, with a message that names the variable."""

import pytest

from shared.config import load_settings
from shared.errors import ConfigError


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"smtp_url": "http://mail.example.com"}, "TICKETFLOW_SMTP_URL: Value error, must be smtp"),
        ({"smtp_url": "smtp://u:hunter2@"}, "TICKETFLOW_SMTP_URL"),
        ({"webhook_urls": "https://a.example/h,ftp://b"}, "TICKETFLOW_WEBHOOK_URLS"),
        ({"webhook_urls": "https://a.example/h"}, "TICKETFLOW_WEBHOOK_SECRET is empty"),
        ({"support_name": "Shop\r\nBcc: x@evil.example"}, "TICKETFLOW_SUPPORT_NAME"),
        ({"smtp_timeout_s": 40, "delivery_lease_s": 60}, "TICKETFLOW_DELIVERY_LEASE_S (60)"),
    ],
)
def test_bad_delivery_settings(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(**values)
    assert message in str(err.value)
    assert "hunter2" not in str(err.value)  # the SMTP password is never printed


def test_good_delivery_settings() -> None:
    s = load_settings(
        smtp_url="smtps://bot%40shop.example:p%40ss@mail.example.com:465",
        webhook_urls=" https://a.example/h , http://b.example/x ",
        webhook_secret="s",
    )
    assert s.webhook_url_list == ["https://a.example/h", "http://b.example/x"]
    assert "p%40ss" not in repr(s)  # a SecretStr
