"""Small request helpers shared by the API handlers."""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from tracehouse.deadlines import read_body
from tracehouse.errors import InvalidInput

__all__ = ["is_local", "read_json", "read_model"]


def is_local(request: web.Request) -> bool:
    """True when the request comes from this machine (a loopback address)."""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; InvalidInput (400) if it is not JSON."""
    try:
        return orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not valid JSON") from None


async def read_model(request: web.Request, model: type[BaseModel]) -> Any:
    """The JSON body validated as ``model``, or InvalidInput naming the first problem."""
    try:
        return model.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise InvalidInput(f"invalid request body: {exc.errors()[0]['msg']}") from None
