"""The firing engine: turns due schedules into pending workflow executions, exactly once."""

from app.scheduler.engine import EngineConfig, PassReport, ReconcileReport, SchedulerEngine

__all__ = ["EngineConfig", "PassReport", "ReconcileReport", "SchedulerEngine"]
