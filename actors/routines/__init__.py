"""Routines: prompts that run in a session on a schedule and report to the chat (``/every``).

One actor (``SchedulerActor``) is the only writer of the ``routines:schedule`` stream; the
routines and where each stands are the fold of that stream, and its timers are set from it.
A run is handed to its session as a ``RoutineTurn``, a turn like any other there.
"""
