"""The actor kernel: actors, mailboxes, supervision and the event bus.

It knows nothing about LLMs; every other layer of actrio builds on it.
"""

from trio import WouldBlock as WouldBlock

from actrio.kernel._actor import Actor as Actor
from actrio.kernel._actor import ActorRef as ActorRef
from actrio.kernel._actor import ActorState as ActorState
from actrio.kernel._actor import ActorStatistics as ActorStatistics
from actrio.kernel._actor import current_actor as current_actor
from actrio.kernel._bus import EventBus as EventBus
from actrio.kernel._bus import EventStream as EventStream
from actrio.kernel._bus import SubscriberMode as SubscriberMode
from actrio.kernel._bus import SubscriberStatistics as SubscriberStatistics
from actrio.kernel._bus import Subscription as Subscription
from actrio.kernel._events import ActorExited as ActorExited
from actrio.kernel._events import ActorFailed as ActorFailed
from actrio.kernel._events import ActorRestarted as ActorRestarted
from actrio.kernel._events import ActorStarted as ActorStarted
from actrio.kernel._events import CancellationIgnored as CancellationIgnored
from actrio.kernel._events import ErrorInfo as ErrorInfo
from actrio.kernel._events import Event as Event
from actrio.kernel._events import EventsDropped as EventsDropped
from actrio.kernel._events import ExitReason as ExitReason
from actrio.kernel._events import KernelEvent as KernelEvent
from actrio.kernel._events import MessageDeadLettered as MessageDeadLettered
from actrio.kernel._events import RestartCycle as RestartCycle
from actrio.kernel._events import ShutdownTimeout as ShutdownTimeout
from actrio.kernel._events import SubscriberDisabled as SubscriberDisabled
from actrio.kernel._events import SupervisorEscalated as SupervisorEscalated
from actrio.kernel._exceptions import ActorError as ActorError
from actrio.kernel._exceptions import ActorStopped as ActorStopped
from actrio.kernel._exceptions import ActrioError as ActrioError
from actrio.kernel._exceptions import FailureRecord as FailureRecord
from actrio.kernel._exceptions import InvalidMessage as InvalidMessage
from actrio.kernel._exceptions import NameTaken as NameTaken
from actrio.kernel._exceptions import Reject as Reject
from actrio.kernel._exceptions import Shutdown as Shutdown
from actrio.kernel._exceptions import SpecError as SpecError
from actrio.kernel._exceptions import StartError as StartError
from actrio.kernel._exceptions import SupervisorEscalation as SupervisorEscalation
from actrio.kernel._exceptions import UsageError as UsageError
from actrio.kernel._intensity import RestartIntensity as RestartIntensity
from actrio.kernel._mailbox import DEFAULT_CAPACITY as DEFAULT_CAPACITY
from actrio.kernel._mailbox import MailboxStatistics as MailboxStatistics
from actrio.kernel._mailbox import Request as Request
from actrio.kernel._supervisor import BRUTAL_KILL as BRUTAL_KILL
from actrio.kernel._supervisor import ChildInfo as ChildInfo
from actrio.kernel._supervisor import ChildSpec as ChildSpec
from actrio.kernel._supervisor import DeleteChild as DeleteChild
from actrio.kernel._supervisor import RestartChild as RestartChild
from actrio.kernel._supervisor import RestartType as RestartType
from actrio.kernel._supervisor import StartChild as StartChild
from actrio.kernel._supervisor import Strategy as Strategy
from actrio.kernel._supervisor import Supervisor as Supervisor
from actrio.kernel._supervisor import SupervisorRequest as SupervisorRequest
from actrio.kernel._supervisor import TerminateChild as TerminateChild
from actrio.kernel._supervisor import WhichChildren as WhichChildren
from actrio.kernel._system import ActorSystem as ActorSystem
from actrio.kernel._system import SystemStatistics as SystemStatistics
from actrio.kernel._system import current_system as current_system
from actrio.kernel._system import open_actor_system as open_actor_system
from actrio.kernel._system import run as run

__all__ = (
    "Actor",
    "ActorError",
    "ActorExited",
    "ActorFailed",
    "ActorRef",
    "ActorRestarted",
    "ActorStarted",
    "ActorState",
    "ActorStatistics",
    "ActorStopped",
    "ActorSystem",
    "ActrioError",
    "BRUTAL_KILL",
    "CancellationIgnored",
    "ChildInfo",
    "ChildSpec",
    "DEFAULT_CAPACITY",
    "DeleteChild",
    "ErrorInfo",
    "Event",
    "EventBus",
    "EventStream",
    "EventsDropped",
    "ExitReason",
    "FailureRecord",
    "InvalidMessage",
    "KernelEvent",
    "MailboxStatistics",
    "MessageDeadLettered",
    "NameTaken",
    "Reject",
    "Request",
    "RestartChild",
    "RestartCycle",
    "RestartIntensity",
    "RestartType",
    "Shutdown",
    "ShutdownTimeout",
    "SpecError",
    "StartChild",
    "StartError",
    "Strategy",
    "SubscriberDisabled",
    "SubscriberMode",
    "SubscriberStatistics",
    "Subscription",
    "Supervisor",
    "SupervisorEscalated",
    "SupervisorEscalation",
    "SupervisorRequest",
    "SystemStatistics",
    "TerminateChild",
    "UsageError",
    "WhichChildren",
    "WouldBlock",
    "current_actor",
    "current_system",
    "open_actor_system",
    "run",
)
