"""The protocol's image classes in the protobuf contracts (`picloss.common.v1.ImageClass`), both ways.

Enum value names are `IMAGE_CLASS_` + the §7 name; `IMAGE_CLASS_UNSPECIFIED` (0) is "no class": an image the
classifier could not decode, a text that names no document.
"""

from __future__ import annotations

from picloss.protocol.codes import ImageClass
from picloss.rpc.common.v1 import common_pb2

PREFIX = "IMAGE_CLASS_"
UNSPECIFIED = "UNSPECIFIED"


def class_of(value: int) -> ImageClass | None:
    """The §7 class of a proto enum value; None for IMAGE_CLASS_UNSPECIFIED."""
    name = common_pb2.ImageClass.Name(value).removeprefix(PREFIX)  # type: ignore[arg-type]
    return None if name == UNSPECIFIED else ImageClass(name)


def class_name(value: int) -> ImageClass:
    """The §7 class of a proto enum value, OTHER for IMAGE_CLASS_UNSPECIFIED (what the callback reports)."""
    return class_of(value) or ImageClass.OTHER


def class_value(image_class: str | None) -> common_pb2.ImageClass:
    """The proto enum value of a §7 class name (an `ImageClass` or its string); None: IMAGE_CLASS_UNSPECIFIED."""
    return common_pb2.ImageClass.Value(PREFIX + (image_class or UNSPECIFIED))
