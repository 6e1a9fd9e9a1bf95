from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestAccepted(_message.Message):
    __slots__ = ("accept_seqno", "appid", "mchid", "req_seqno", "model", "callback_url", "files", "accepted_at_ms")
    ACCEPT_SEQNO_FIELD_NUMBER: _ClassVar[int]
    APPID_FIELD_NUMBER: _ClassVar[int]
    MCHID_FIELD_NUMBER: _ClassVar[int]
    REQ_SEQNO_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    accept_seqno: str
    appid: str
    mchid: str
    req_seqno: str
    model: str
    callback_url: str
    files: _containers.RepeatedCompositeFieldContainer[FileRef]
    accepted_at_ms: int
    def __init__(self, accept_seqno: _Optional[str] = ..., appid: _Optional[str] = ..., mchid: _Optional[str] = ..., req_seqno: _Optional[str] = ..., model: _Optional[str] = ..., callback_url: _Optional[str] = ..., files: _Optional[_Iterable[_Union[FileRef, _Mapping]]] = ..., accepted_at_ms: _Optional[int] = ...) -> None: ...

class FileRef(_message.Message):
    __slots__ = ("fileurl", "filemd5", "fileid")
    FILEURL_FIELD_NUMBER: _ClassVar[int]
    FILEMD5_FIELD_NUMBER: _ClassVar[int]
    FILEID_FIELD_NUMBER: _ClassVar[int]
    fileurl: str
    filemd5: str
    fileid: str
    def __init__(self, fileurl: _Optional[str] = ..., filemd5: _Optional[str] = ..., fileid: _Optional[str] = ...) -> None: ...

class ResultReady(_message.Message):
    __slots__ = ("accept_seqno", "done_at_ms")
    ACCEPT_SEQNO_FIELD_NUMBER: _ClassVar[int]
    DONE_AT_MS_FIELD_NUMBER: _ClassVar[int]
    accept_seqno: str
    done_at_ms: int
    def __init__(self, accept_seqno: _Optional[str] = ..., done_at_ms: _Optional[int] = ...) -> None: ...
