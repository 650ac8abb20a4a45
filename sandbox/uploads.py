"""Files in the look-alike: Slack's external upload, in its three steps.

1. `files.getUploadURLExternal` (filename, length) answers an `upload_url` and a `file_id`;
2. the app POSTs the bytes to that URL (the look-alike answers `OK - <length>`, as Slack's
   upload host does);
3. `files.completeUploadExternal` (files=[{id, title}], channel_id, initial_comment,
   thread_ts) finishes the upload; with a channel the files are shared there as a
   message, without one they stay private to the uploader (an image block can still show
   them through `slack_file`).

A file's bytes are served back at its `url_private` (GET /files/<id>/<name>), which the
sandbox page uses to show images. Errors follow Slack's method pages: a file completed
before its bytes arrived, or with a different length, is `file_not_found` /
`invalid_file_length` (simplified: Slack reports more reasons).
"""

from __future__ import annotations

import json
import mimetypes
import threading
from dataclasses import dataclass, field
from typing import Any

from newsbot.sandbox.workspace import SlackError

MAX_FILE_BYTES = 1_000_000_000


@dataclass
class StoredFile:
    id: str
    name: str
    length: int
    user: str
    created: int
    alt_txt: str | None = None
    title: str | None = None
    data: bytes | None = None  # None until uploaded
    completed: bool = False
    channels: list[str] = field(default_factory=list)

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def to_json(self, base_url: str) -> dict[str, Any]:
        """Slack's file object (the fields apps use)."""
        url = f"{base_url}/files/{self.id}/{self.name}"
        return {
            "id": self.id, "created": self.created, "timestamp": self.created,
            "name": self.name, "title": self.title or self.name, "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "",
            "user": self.user, "size": self.length, "is_public": bool(self.channels),
            "url_private": url, "url_private_download": f"{url}?download=1",
            "permalink": url, "channels": list(self.channels),
            **({"alt_txt": self.alt_txt} if self.alt_txt else {}),
        }


class Uploads:
    """Every file of the workspace, pending or complete. Thread-safe."""

    def __init__(self) -> None:
        self.base_url = ""  # http://127.0.0.1:PORT of the look-alike, set when it starts
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}

    def start(self, *, filename: str | None, length: Any, user: str, created: int,
              alt_txt: str | None) -> StoredFile:
        if not filename:
            raise SlackError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] missing required field: filename"]})
        try:
            size = int(length)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] missing required field: length"]}) from None
        if not 0 < size <= MAX_FILE_BYTES:
            raise SlackError("invalid_file_length")
        with self._lock:
            file_id = f"F{len(self._files) + 1:08d}"
            stored = StoredFile(file_id, filename, size, user, created, alt_txt)
            self._files[file_id] = stored
        return stored

    def receive(self, file_id: str, data: bytes) -> StoredFile:
        """Step 2: the bytes POSTed to the upload URL."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None or stored.completed:
                raise SlackError("file_not_found", status=404)
            stored.data = data
            return stored

    def complete(self, files_param: Any, user: str) -> list[StoredFile]:
        """Step 3 (without sharing): check and mark each file complete."""
        if isinstance(files_param, str):
            try:
                files_param = json.loads(files_param)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(files_param, list) or not files_param:
            raise SlackError("invalid_arguments")
        done = []
        with self._lock:
            for item in files_param:
                stored = self._files.get(str((item or {}).get("id")))
                if stored is None or stored.user != user or stored.data is None:
                    raise SlackError("file_not_found")
                if len(stored.data) != stored.length:
                    raise SlackError("invalid_file_length")
                done.append((stored, item.get("title")))
            for stored, title in done:
                stored.completed = True
                stored.title = title or stored.title
        return [stored for stored, _ in done]

    def shared(self, stored: list[StoredFile], channel: str) -> None:
        with self._lock:
            for one in stored:
                if channel not in one.channels:
                    one.channels.append(channel)

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            stored = self._files.get(file_id)
            return stored if stored is not None and stored.completed else None

    def all(self) -> list[StoredFile]:
        with self._lock:
            return [f for f in self._files.values() if f.completed]
