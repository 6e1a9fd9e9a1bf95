"""The wire protocol (PROTOCOL.md): codes, components, signing, keys, messages, validation, JSON, schemas, the
endpoints (paths and answers), the callback body's builder (`callback`) and the parsers of the answers (`results`).

Import from the submodules (`picloss.protocol.validation`, ...); the most used names are
re-exported here, lazily (PEP 562): `import picloss.protocol.signing` must not pull in the
validated messages and their protobuf code, so that the client SDK (`picloss.client.sdk`, the `client`
extra) signs with these very modules without the server's dependencies. `proto` converts the
vocabulary to and from the protobuf contracts (it imports the generated code); `callback` reads the pipeline's
outcome (the document cross-check); `schemas` needs jsonschema, a dev dependency.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HTTP_STATUS": "codes",
    "CallbackCode": "codes",
    "DOCUMENT_CLASSES": "codes",
    "DamageDegree": "codes",
    "FileCode": "codes",
    "ImageClass": "codes",
    "ProtocolError": "codes",
    "RequestState": "codes",
    "ResultCode": "codes",
    "dumps": "json",
    "KeyStore": "keys",
    "KeyStoreError": "keys",
    "FileDesc": "messages",
    "LossRequest": "messages",
    "QueryRequest": "messages",
    "new_nonce": "signing",
    "sign": "signing",
    "verify": "signing",
    "Limits": "validation",
    "check_body_size": "validation",
    "check_timestamp": "validation",
    "parse_body": "validation",
    "validate_identity": "validation",
    "validate_loss_request": "validation",
    "validate_query_request": "validation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'picloss.protocol' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"picloss.protocol.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
