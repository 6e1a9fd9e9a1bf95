from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ImageClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_CLASS_UNSPECIFIED: _ClassVar[ImageClass]
    IMAGE_CLASS_IDCARD_FRONT: _ClassVar[ImageClass]
    IMAGE_CLASS_IDCARD_BACK: _ClassVar[ImageClass]
    IMAGE_CLASS_DRIVER_LICENSE: _ClassVar[ImageClass]
    IMAGE_CLASS_DRIVING_LICENSE: _ClassVar[ImageClass]
    IMAGE_CLASS_VIN: _ClassVar[ImageClass]
    IMAGE_CLASS_DAMAGE: _ClassVar[ImageClass]
    IMAGE_CLASS_OTHER: _ClassVar[ImageClass]
IMAGE_CLASS_UNSPECIFIED: ImageClass
IMAGE_CLASS_IDCARD_FRONT: ImageClass
IMAGE_CLASS_IDCARD_BACK: ImageClass
IMAGE_CLASS_DRIVER_LICENSE: ImageClass
IMAGE_CLASS_DRIVING_LICENSE: ImageClass
IMAGE_CLASS_VIN: ImageClass
IMAGE_CLASS_DAMAGE: ImageClass
IMAGE_CLASS_OTHER: ImageClass

class Image(_message.Message):
    __slots__ = ("fileid", "data", "width", "height")
    FILEID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    fileid: str
    data: bytes
    width: int
    height: int
    def __init__(self, fileid: _Optional[str] = ..., data: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("xmin", "ymin", "xmax", "ymax")
    XMIN_FIELD_NUMBER: _ClassVar[int]
    YMIN_FIELD_NUMBER: _ClassVar[int]
    XMAX_FIELD_NUMBER: _ClassVar[int]
    YMAX_FIELD_NUMBER: _ClassVar[int]
    xmin: int
    ymin: int
    xmax: int
    ymax: int
    def __init__(self, xmin: _Optional[int] = ..., ymin: _Optional[int] = ..., xmax: _Optional[int] = ..., ymax: _Optional[int] = ...) -> None: ...
