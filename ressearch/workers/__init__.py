"""Workers: the devices each worker gets, and the supervisor of N local worker processes.

Drives worker processes (``ressearch worker``) over the search layer's storage; must not import
the results or CLI layers, and never prints (callers get events).
"""

from ressearch.workers.devices import WorkerPlan, plan_workers, worker_env, worker_threads
from ressearch.workers.supervisor import StudyProgress, Supervisor, SupervisorResult

__all__ = [
    "StudyProgress",
    "Supervisor",
    "SupervisorResult",
    "WorkerPlan",
    "plan_workers",
    "worker_env",
    "worker_threads",
]
