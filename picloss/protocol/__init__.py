"""The wire protocol (PROTOCOL.md): codes, signing, keys, messages, validation, JSON, schemas.

Import from the submodules (`picloss.protocol.validation`, ...); the most used names are
re-exported here. `schemas` is not imported eagerly (it needs jsonschema, a dev dependency).
"""

from picloss.protocol.codes import (
    HTTP_STATUS,
    CallbackCode,
    FileCode,
    ImageClass,
    ProtocolError,
    RequestState,
    ResultCode,
)
from picloss.protocol.json import dumps
from picloss.protocol.keys import KeyStore, KeyStoreError
from picloss.protocol.messages import FileDesc, LossRequest, QueryRequest
from picloss.protocol.signing import new_nonce, sign, verify
from picloss.protocol.validation import (
    Limits,
    check_body_size,
    check_timestamp,
    parse_body,
    validate_identity,
    validate_loss_request,
    validate_query_request,
)

__all__ = [
    "HTTP_STATUS",
    "CallbackCode",
    "FileCode",
    "FileDesc",
    "ImageClass",
    "KeyStore",
    "KeyStoreError",
    "Limits",
    "LossRequest",
    "ProtocolError",
    "QueryRequest",
    "RequestState",
    "ResultCode",
    "check_body_size",
    "check_timestamp",
    "dumps",
    "new_nonce",
    "parse_body",
    "sign",
    "validate_identity",
    "validate_loss_request",
    "validate_query_request",
    "verify",
]
