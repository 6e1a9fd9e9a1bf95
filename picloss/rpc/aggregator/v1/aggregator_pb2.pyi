from picloss.rpc.common.v1 import common_pb2 as _common_pb2
from picloss.rpc.damage.v1 import damage_pb2 as _damage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PhotoDamages(_message.Message):
    __slots__ = ("fileid", "width", "height", "damages", "features", "parts")
    FILEID_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DAMAGES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    fileid: str
    width: int
    height: int
    damages: _containers.RepeatedCompositeFieldContainer[_damage_pb2.Damage]
    features: _damage_pb2.PhotoFeatures
    parts: _containers.RepeatedCompositeFieldContainer[_damage_pb2.Damage]
    def __init__(self, fileid: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., damages: _Optional[_Iterable[_Union[_damage_pb2.Damage, _Mapping]]] = ..., features: _Optional[_Union[_damage_pb2.PhotoFeatures, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[_damage_pb2.Damage, _Mapping]]] = ...) -> None: ...

class AggregateRequest(_message.Message):
    __slots__ = ("accept_seqno", "photos")
    ACCEPT_SEQNO_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    accept_seqno: str
    photos: _containers.RepeatedCompositeFieldContainer[PhotoDamages]
    def __init__(self, accept_seqno: _Optional[str] = ..., photos: _Optional[_Iterable[_Union[PhotoDamages, _Mapping]]] = ...) -> None: ...

class ImageBoxes(_message.Message):
    __slots__ = ("fileid", "boxes")
    FILEID_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    fileid: str
    boxes: _containers.RepeatedCompositeFieldContainer[_common_pb2.Box]
    def __init__(self, fileid: _Optional[str] = ..., boxes: _Optional[_Iterable[_Union[_common_pb2.Box, _Mapping]]] = ...) -> None: ...

class ComponentDamage(_message.Message):
    __slots__ = ("damage_component_id", "damage_degree_id", "damage_degree_score", "image_contain")
    DAMAGE_COMPONENT_ID_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_DEGREE_ID_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_DEGREE_SCORE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CONTAIN_FIELD_NUMBER: _ClassVar[int]
    damage_component_id: int
    damage_degree_id: int
    damage_degree_score: int
    image_contain: _containers.RepeatedCompositeFieldContainer[ImageBoxes]
    def __init__(self, damage_component_id: _Optional[int] = ..., damage_degree_id: _Optional[int] = ..., damage_degree_score: _Optional[int] = ..., image_contain: _Optional[_Iterable[_Union[ImageBoxes, _Mapping]]] = ...) -> None: ...

class AggregateResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ComponentDamage]
    def __init__(self, results: _Optional[_Iterable[_Union[ComponentDamage, _Mapping]]] = ...) -> None: ...
