"""rosbag2 MCAP files written with ``rosbags`` from serialized (CDR) messages; no ROS needed.

The recorder node hands over the bytes exactly as they came off the wire, so what the bag holds
is what the graph carried. Message definitions come from rosbags' ROS 2 Kilted type store.
"""

from __future__ import annotations

from pathlib import Path

from dyad.errors import DyadInputError


class McapBagWriter:
    """A rosbag2 (version 9) bag with MCAP storage.

    Args:
        path: the bag directory to create (must not exist; rosbag2 bags are folders holding
            ``metadata.yaml`` and the ``.mcap`` file).
    """

    def __init__(self, path: str | Path):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        self.path = Path(path)
        if self.path.exists():
            raise DyadInputError(f"bag {self.path} already exists; rosbag2 writes a new folder")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._typestore = get_typestore(Stores.ROS2_KILTED)
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.messages = 0

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic and its type (``pkg/msg/Type``)."""
        if msgtype not in self._typestore.types:
            raise DyadInputError(f"bag: unknown message type {msgtype!r} for {topic}")
        self._connections[topic] = self._writer.add_connection(topic, msgtype,
                                                               typestore=self._typestore)

    def write(self, topic: str, time_ns: int, cdr: bytes) -> None:
        """Append one serialized message received at ``time_ns`` (ns since the epoch)."""
        self._writer.write(self._connections[topic], int(time_ns), cdr)
        self.messages += 1

    def close(self) -> None:
        """Finish the file and write ``metadata.yaml`` (a bag is unreadable until then)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
