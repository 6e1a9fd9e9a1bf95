"""The protocol's own modules (signing, JSON, codes, components) that the SDK uses.

They import only the standard library, and `picloss.protocol` re-exports its names lazily, so importing them
does not pull in the validated messages and their protobuf code: an integrator's `pip install picloss[client]`
signs with the very functions the gateway and the dispatcher use (one signer, no copy).
"""

from __future__ import annotations

from picloss.protocol import codes, components, signing
from picloss.protocol import json as pjson

__all__ = ["codes", "components", "pjson", "signing"]
