"""A small actor runtime on asyncio. Nothing domain-specific lives here."""

from actors.runtime.actor import Actor, ActorContext, ActorRef, Timer
from actors.runtime.clock import Clock, IdFactory, SystemClock, uuid_ids
from actors.runtime.errors import ActorDeadError, ActorError, AskTimeoutError
from actors.runtime.registry import Registry
from actors.runtime.supervision import RestartPolicy
from actors.runtime.system import ActorSystem

__all__ = [
    "Actor",
    "ActorContext",
    "ActorDeadError",
    "ActorError",
    "ActorRef",
    "ActorSystem",
    "AskTimeoutError",
    "Clock",
    "IdFactory",
    "Registry",
    "RestartPolicy",
    "SystemClock",
    "Timer",
    "uuid_ids",
]
