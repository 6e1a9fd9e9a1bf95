from picloss.rpc.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DetectRequest(_message.Message):
    __slots__ = ("images", "skip_features")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    SKIP_FEATURES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.Image]
    skip_features: bool
    def __init__(self, images: _Optional[_Iterable[_Union[_common_pb2.Image, _Mapping]]] = ..., skip_features: _Optional[bool] = ...) -> None: ...

class ComponentScore(_message.Message):
    __slots__ = ("component_part_id", "score")
    COMPONENT_PART_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    component_part_id: int
    score: int
    def __init__(self, component_part_id: _Optional[int] = ..., score: _Optional[int] = ...) -> None: ...

class Damage(_message.Message):
    __slots__ = ("box", "components", "degree_id", "degree_score", "damage_type", "damage_type_score", "part_kind", "score", "existence")
    BOX_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    DEGREE_ID_FIELD_NUMBER: _ClassVar[int]
    DEGREE_SCORE_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_TYPE_SCORE_FIELD_NUMBER: _ClassVar[int]
    PART_KIND_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXISTENCE_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    components: _containers.RepeatedCompositeFieldContainer[ComponentScore]
    degree_id: int
    degree_score: int
    damage_type: str
    damage_type_score: int
    part_kind: str
    score: float
    existence: float
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., components: _Optional[_Iterable[_Union[ComponentScore, _Mapping]]] = ..., degree_id: _Optional[int] = ..., degree_score: _Optional[int] = ..., damage_type: _Optional[str] = ..., damage_type_score: _Optional[int] = ..., part_kind: _Optional[str] = ..., score: _Optional[float] = ..., existence: _Optional[float] = ...) -> None: ...

class PhotoFeatures(_message.Message):
    __slots__ = ("points", "descriptors")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTORS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedScalarFieldContainer[float]
    descriptors: bytes
    def __init__(self, points: _Optional[_Iterable[float]] = ..., descriptors: _Optional[bytes] = ...) -> None: ...

class Vehicle(_message.Message):
    __slots__ = ("box", "kind", "score", "of_interest")
    BOX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OF_INTEREST_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    kind: str
    score: float
    of_interest: bool
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., kind: _Optional[str] = ..., score: _Optional[float] = ..., of_interest: _Optional[bool] = ...) -> None: ...

class ImageDamages(_message.Message):
    __slots__ = ("fileid", "damages", "features", "parts", "vehicles", "damage_probability", "damage_gate_passed")
    FILEID_FIELD_NUMBER: _ClassVar[int]
    DAMAGES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_GATE_PASSED_FIELD_NUMBER: _ClassVar[int]
    fileid: str
    damages: _containers.RepeatedCompositeFieldContainer[Damage]
    features: PhotoFeatures
    parts: _containers.RepeatedCompositeFieldContainer[Damage]
    vehicles: _containers.RepeatedCompositeFieldContainer[Vehicle]
    damage_probability: float
    damage_gate_passed: bool
    def __init__(self, fileid: _Optional[str] = ..., damages: _Optional[_Iterable[_Union[Damage, _Mapping]]] = ..., features: _Optional[_Union[PhotoFeatures, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[Damage, _Mapping]]] = ..., vehicles: _Optional[_Iterable[_Union[Vehicle, _Mapping]]] = ..., damage_probability: _Optional[float] = ..., damage_gate_passed: _Optional[bool] = ...) -> None: ...

class DetectResponse(_message.Message):
    __slots__ = ("results", "model_version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImageDamages]
    model_version: str
    def __init__(self, results: _Optional[_Iterable[_Union[ImageDamages, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...
