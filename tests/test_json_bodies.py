"""JSON bodies are the bytes Flask's own JSON provider makes: the kept encoders of
``plumbing.flask_app.ReusedEncoderJSONProvider`` change the cost, not the output."""

import datetime
import decimal
import uuid

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from plumbing.flask_app import ApiFlask

DATA = {
    "name": "Café ☕ \u2028 \U0001f600 <b>&'\"\\",
    "price": decimal.Decimal("49.50"),
    "ratio": 0.1 + 0.2,
    "big": 10**30,
    "small": 1e-7,
    "when": datetime.datetime(2026, 12, 6, 8, 47, 39, 123456, tzinfo=datetime.UTC),
    "day": datetime.date(2026, 12, 6),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "zeta": [None, True, False, {"b": 1, "a": 2}],
    "alpha": "",
}


def apps(debug):
    ours, flasks = ApiFlask("ours"), Flask("flasks")
    assert isinstance(flasks.json, DefaultJSONProvider)
    for app in (ours, flasks):
        app.debug = debug
    return ours, flasks


@pytest.mark.parametrize("debug", [False, True], ids=["compact", "indented"])
@pytest.mark.parametrize("sort_keys", [True, False], ids=["sorted", "in-order"])
def test_bodies_are_flasks_own_bytes(debug, sort_keys):
    ours, flasks = apps(debug)
    for app in (ours, flasks):
        app.json.sort_keys = sort_keys
    for data in (DATA, [DATA, DATA], "text", 1.5, None):
        with ours.app_context():
            body = ours.json.response(data).get_data()
        with flasks.app_context():
            assert body == flasks.json.response(data).get_data()
        assert ours.json.dumps(data) == flasks.json.dumps(data)


def test_other_options_and_settings_changed_later_are_honoured():
    ours, flasks = apps(debug=False)
    for options in ({"indent": 4}, {"separators": [",", ":"]}, {"ensure_ascii": False}):
        assert ours.json.dumps(DATA, **options) == flasks.json.dumps(DATA, **options)
    ours.json.ensure_ascii = flasks.json.ensure_ascii = False
    assert ours.json.dumps(DATA) == flasks.json.dumps(DATA)
    assert "Café" in ours.json.dumps(DATA)


def test_what_json_cannot_encode_is_still_a_type_error():
    ours, _ = apps(debug=False)
    with pytest.raises(TypeError, match="not JSON serializable"):
        ours.json.dumps({"set": {1, 2}})
