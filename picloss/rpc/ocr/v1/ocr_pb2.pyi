from picloss.rpc.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReadDocumentRequest(_message.Message):
    __slots__ = ("image", "image_class")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CLASS_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    image_class: _common_pb2.ImageClass
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., image_class: _Optional[_Union[_common_pb2.ImageClass, str]] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("name", "value", "confidence", "validated", "corrected")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    confidence: float
    validated: bool
    corrected: bool
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., confidence: _Optional[float] = ..., validated: _Optional[bool] = ..., corrected: _Optional[bool] = ...) -> None: ...

class ReadDocumentResponse(_message.Message):
    __slots__ = ("fileid", "fields", "result_code", "model_version", "detected_class", "text_class")
    FILEID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DETECTED_CLASS_FIELD_NUMBER: _ClassVar[int]
    TEXT_CLASS_FIELD_NUMBER: _ClassVar[int]
    fileid: str
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    result_code: int
    model_version: str
    detected_class: _common_pb2.ImageClass
    text_class: _common_pb2.ImageClass
    def __init__(self, fileid: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ..., result_code: _Optional[int] = ..., model_version: _Optional[str] = ..., detected_class: _Optional[_Union[_common_pb2.ImageClass, str]] = ..., text_class: _Optional[_Union[_common_pb2.ImageClass, str]] = ...) -> None: ...
