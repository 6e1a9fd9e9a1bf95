"""The picloss Python SDK: sign and verify bodies, submit and query claims, receive and parse callbacks.

Needs only the standard library (`pip install 'picloss[client]'` adds Pillow for the report's thumbnails).

    from picloss.client.sdk import Client, load_credentials, parse_callback, verify

    client = Client(load_credentials())            # flags/env/.run/picloss.env
    accepted = client.submit(["https://cos.example.com/c1/1.jpg"], mode="BATCH",
                             callback_url="https://insurer.example.com/picloss/callback")
    # in your callback endpoint:
    if verify(raw_body, headers["Signature"], key):
        callback = parse_callback(raw_body)

Guide: docs/sdk.md.
"""

from __future__ import annotations

from picloss.client.sdk.client import (
    MODES,
    Accepted,
    ApiError,
    Client,
    PiclossError,
    SignatureError,
    TransportError,
    file_desc,
    sign,
    verify,
)
from picloss.client.sdk.credentials import Credentials, CredentialsError, load_credentials
from picloss.client.sdk.servers import CallbackListener, Delivery, PhotoServer, save_delivery
from picloss.protocol.endpoints import QUERY_PATH, REQUEST_PATH
from picloss.protocol.results import (
    COMPONENTS,
    Attempt,
    BatchEntry,
    BatchLoss,
    Box,
    Callback,
    Component,
    ComponentPart,
    Damage,
    Document,
    Field,
    FileRef,
    FileResult,
    PhotoBoxes,
    QueryResult,
    ResultError,
    SingleLoss,
    file_code_text,
    parse_callback,
    parse_query,
)

__all__ = [
    "COMPONENTS",
    "MODES",
    "QUERY_PATH",
    "REQUEST_PATH",
    "Accepted",
    "ApiError",
    "Attempt",
    "BatchEntry",
    "BatchLoss",
    "Box",
    "Callback",
    "CallbackListener",
    "Client",
    "Component",
    "ComponentPart",
    "Credentials",
    "CredentialsError",
    "Damage",
    "Delivery",
    "Document",
    "Field",
    "FileRef",
    "FileResult",
    "PhotoBoxes",
    "PhotoServer",
    "PiclossError",
    "QueryResult",
    "ResultError",
    "SignatureError",
    "SingleLoss",
    "TransportError",
    "file_code_text",
    "file_desc",
    "load_credentials",
    "parse_callback",
    "parse_query",
    "save_delivery",
    "sign",
    "verify",
]
