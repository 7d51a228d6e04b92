"""What every Dyad node shares: a status topic, guarded callbacks, typed parameters, ``main``.

Each node publishes ``diagnostic_msgs/DiagnosticArray`` on ``/dyad/status`` (remappable): one
status named after the node, with ``state`` and ``event`` values, at once when something
happens (an error, a stream started, an e-stop) and as a heartbeat every
``status_period_s``. A callback that raises is reported there (level ERROR) and the node keeps
running: bad input never stops a node.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import time
import traceback
from typing import Callable

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

from dyad.errors import DyadError

from .conversions import diagnostic_status

STATUS_TOPIC = "/dyad/status"
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR

# Chunk topics: reliable and deep enough that a burst of chunks is never dropped.
CHUNK_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST)
# Status and verdicts: reliable, a burst of errors fits.
EVENT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                       history=HistoryPolicy.KEEP_LAST)
# The e-stop latches: a node that starts (or restarts) after it was pressed still sees it when
# the e-stop's publisher latches (transient local). A transient-local subscription does not
# match a volatile publisher (`ros2 topic pub` by default), so e-stop listeners subscribe with
# both profiles: every publisher reaches them, and latched ones replay their last state.
ESTOP_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL,
                       history=HistoryPolicy.KEEP_LAST)
ESTOP_VOLATILE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.VOLATILE,
                                history=HistoryPolicy.KEEP_LAST)
# Commands to the controller: reliable, only the newest matters.
CONTROL_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST)
# Trackers publish best effort; a best-effort subscription matches both kinds of publisher.
SENSOR_QOS = qos_profile_sensor_data

_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
          float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING,
          list: ParameterType.PARAMETER_STRING_ARRAY}


class DyadNode(Node):
    """A node with a status topic and guarded callbacks.

    Args:
        name: node name (``dyad_generator`` ...); remappable with ``__node:=``.
    """

    def __init__(self, name: str):
        super().__init__(name)
        self.state = "starting"
        self.counters: dict[str, int] = {}
        self._status_pub = self.create_publisher(DiagnosticArray, STATUS_TOPIC, EVENT_QOS)
        period = self.param("status_period_s", 1.0, "heartbeat period of the status topic")
        self.create_timer(max(period, 0.05), self._heartbeat)

    # -------------------------------------------------------------------- parameters

    def param(self, name: str, default, description: str = ""):
        """Declare a parameter (type from ``default``; lists are string lists) and return it."""
        kind = _TYPES[type(default)]
        descriptor = ParameterDescriptor(description=description, type=kind)
        value = self.declare_parameter(name, default, descriptor).value
        if kind == ParameterType.PARAMETER_STRING_ARRAY:
            return [str(v) for v in (value or [])]
        return value

    # -------------------------------------------------------------------- status

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def status_values(self) -> dict:
        """Values every status message carries (nodes add their own)."""
        return {"state": self.state, **self.counters}

    def report(self, level: bytes, message: str, event: str = "", **values) -> None:
        """Publish one status now (and log it)."""
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        all_values = {**self.status_values(), "event": event, **values}
        msg.status = [diagnostic_status(self.get_name(), level, message, all_values)]
        self._status_pub.publish(msg)
        # rclpy fixes a call site's severity on first use: one call site per severity.
        text = f"{event + ': ' if event else ''}{message}"
        if level == OK:
            self.get_logger().info(text)
        elif level == WARN:
            self.get_logger().warning(text)
        else:
            self.get_logger().error(text)

    def set_state(self, state: str, message: str = "", level: bytes = OK, **values) -> None:
        """Change the node's state and report it."""
        self.state = state
        self.report(level, message or state, event="state", **values)

    def _heartbeat(self) -> None:
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        level = ERROR if self.state.startswith("error") else OK
        msg.status = [diagnostic_status(self.get_name(), level, self.state,
                                        {**self.status_values(), "event": "heartbeat"})]
        self._status_pub.publish(msg)

    def guard(self, callback: Callable, what: str) -> Callable:
        """``callback`` that reports any exception on the status topic instead of raising."""

        def guarded(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except DyadError as exc:  # bad input: the message says what and where
                self.count("errors")
                self.report(ERROR, f"{what}: {exc}", event="error")
            except Exception as exc:  # noqa: BLE001 - a node must outlive any one message
                self.count("errors")
                self.report(ERROR, f"{what}: {type(exc).__name__}: {exc}", event="error",
                            traceback=traceback.format_exc(limit=4)[-800:])
            return None

        return guarded

    def now_s(self) -> float:
        """Monotonic seconds for scheduling (not ROS time)."""
        return time.monotonic()


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create a node and spin it until Ctrl-C / SIGTERM / shutdown; returns an exit code.

    SIGUSR1 prints every thread's Python stack to stderr (``faulthandler``), so a node that
    does not stop can be asked where it is (``Graph.stop`` does before it kills one)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    rclpy.init(args=sys.argv if args is None else args)
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise  # a real failure while running
        # SIGINT shut the context down while a callback ran (a timer publishing on it, which
        # then raises "context is invalid": ros2/rclcpp#812): the stop that was asked for.
        print(f"{sys.argv[0]}: a callback raced the shutdown:\n{traceback.format_exc()}",
              file=sys.stderr)
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()  # unless the SIGINT handler already did
    return 0
