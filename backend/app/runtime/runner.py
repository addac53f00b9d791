"""Runs one execution (runtime.md): claim it, walk its graph node by node, finish it.

The claim is one transaction: the schedule's row lock makes the max_instances check and
the move to `running` atomic across workers; an execution found already `running` was
left by a lost worker and is resumed as a new attempt. Each node run is then its own
short transaction, fenced by the run token (store.py). A watcher polls the row so that a
cancel, or another worker taking over, stops this run within `poll_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core import metrics
from app.core.clock import utc_now
from app.core.errors import FieldValidationError
from app.graphs.node_configs import parse_node_config, parse_retry_config
from app.graphs.rules import GraphEdge, GraphNode, run_problems
from app.graphs.walk import GraphWalk, WalkEdge
from app.runtime import store
from app.runtime.calls import AgentSpec, NodeCall, NodeError, NodeSpec, Services, ToolSpec
from app.runtime.nodes import PURE_NODE_TYPES, NodeResult, run_node
from app.timing.run_options import parse_run_options

logger = logging.getLogger("app.runtime")

WORKER_LOST = "worker lost: the worker running it stopped before it finished"


NodeRecord = tuple[uuid.UUID, str, dict[str, Any], dict[str, Any] | None]


class NodeFailedError(NodeError):
    """A node failed after its retries: the execution fails, naming it."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(message)
        self.node = node


class ExecutionLostError(Exception):
    """The execution is no longer this run's: cancelled, or taken over by another worker."""


class AbandonedError(Exception):
    """The worker is shutting down past its grace period: the execution is left to be
    taken up again."""


@dataclass(slots=True)
class Run:
    """One worker's run of one execution."""

    execution: store.ExecutionRow
    token: uuid.UUID
    attempt: int
    started_at: datetime
    trigger: dict[str, Any]
    variables: dict[str, Any]
    nodes: dict[str, NodeSpec]
    walk: GraphWalk
    earlier: dict[uuid.UUID, dict[str, Any]]
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Nodes this attempt gave a node run row to.
    started: set[str] = field(default_factory=set)


class ExecutionRunner:
    """Runs executions for one worker process."""

    def __init__(
        self,
        database: AsyncEngine,
        services: Services,
        *,
        max_losses: int = 3,
        node_concurrency: int = 8,
        poll_seconds: float = 1.0,
    ) -> None:
        self._database = database
        self._services = services
        self._max_losses = max_losses
        self._node_slots = node_concurrency
        self._poll_seconds = poll_seconds

    async def run(self, execution_id: uuid.UUID, abandon: asyncio.Event | None = None) -> None:
        """Run the execution to its end (or until it is lost, cancelled or abandoned)."""
        run = await self._claim(execution_id)
        if run is None:
            return
        try:
            await self._walk(run, abandon or asyncio.Event())
        except ExecutionLostError:
            logger.info(
                "execution %s is no longer ours (cancelled or taken over)", run.execution.id
            )
        except AbandonedError:
            raise
        except Exception as exc:  # a defect of ours: fail the run rather than retry it forever
            logger.exception("execution %s failed inside the runtime", run.execution.id)
            error = f"the runtime failed: {type(exc).__name__}: {exc}"
            async with self._database.begin() as connection:
                ended = await store.end_execution(
                    connection, run.execution.id, "failed", token=run.token, error=error
                )
                if ended:
                    await store.interrupt_node_runs(connection, run.execution.id, "failed", error)
                    await store.log(connection, run.execution.id, None, "error", error)
            if ended:
                _finished("failed", run.started_at)

    # -- the claim ----------------------------------------------------------------------

    async def _claim(self, execution_id: uuid.UUID) -> Run | None:
        async with self._database.begin() as connection:
            seen = await store.read_execution(connection, execution_id)
            if seen is None or seen.status not in ("pending", "running"):
                return None
            metadata = None
            if seen.schedule_id is not None and seen.status == "pending":
                metadata = await store.lock_schedule_metadata(connection, seen.schedule_id)
            execution = await store.read_execution(connection, execution_id, lock=True)
            if execution is None or execution.status not in ("pending", "running"):
                return None
            if execution.status == "pending" and metadata is not None:
                assert execution.schedule_id is not None
                limit = _max_instances(metadata)
                running = await store.count_running(connection, execution.schedule_id)
                if running >= limit:
                    await store.skip_for_max_instances(connection, execution, running, limit)
                    metrics.SKIPS.labels("max_instances").inc()
                    _finished("skipped")
                    return None
            attempt = execution.attempt + 1
            if execution.status == "running":
                lost = await store.interrupt_node_runs(
                    connection, execution_id, "failed", WORKER_LOST
                )
                losses = execution.attempt
                if losses >= self._max_losses:
                    error = f"the worker running it was lost {losses} times; giving up"
                    await store.end_execution(connection, execution_id, "failed", error=error)
                    await store.log(connection, execution_id, None, "error", error)
                    _finished("failed")
                    return None
                await store.log(
                    connection, execution_id, None, "warning",
                    f"resumed after a worker loss (attempt {attempt}); "
                    f"{lost} node run(s) in flight will run again",
                )  # fmt: skip
            token = uuid.uuid4()
            started_at = await store.start(connection, execution_id, token, attempt)
            graph = await store.read_graph(connection, execution.workflow_id)
            problems = _graph_problems(graph)
            if problems:
                error = "the workflow cannot run: " + "; ".join(problems)
                await store.end_execution(connection, execution_id, "failed", error=error)
                await store.log(connection, execution_id, None, "error", error)
                _finished("failed", started_at)
                return None
            assert graph is not None
            if attempt == 1:
                await store.log(connection, execution_id, None, "info", "execution started")
            earlier = await store.completed_node_runs(connection, execution_id)
        nodes, walk = _build(graph)
        trigger = {
            "execution_id": str(execution.id),
            "trigger_type": execution.trigger_type,
            "schedule_id": None if execution.schedule_id is None else str(execution.schedule_id),
            "scheduled_for": _iso(execution.scheduled_for),
            "started_at": _iso(started_at),
            "input": execution.input_data or {},
        }
        return Run(
            execution, token, attempt, started_at, trigger, graph.variables, nodes, walk, earlier
        )

    # -- the walk -----------------------------------------------------------------------

    async def _walk(self, run: Run, abandon: asyncio.Event) -> None:
        """Run ready nodes (pure ones inline, the others as tasks) until none is left."""
        slots = asyncio.Semaphore(self._node_slots)
        tasks: dict[asyncio.Task[NodeResult], str] = {}
        records: list[NodeRecord] = []
        ready = run.walk.roots()
        watcher = asyncio.create_task(self._watch(run, abandon))
        try:
            while ready or tasks:
                calls: list[tuple[NodeSpec, dict[str, Any]]] = []
                while ready:
                    name = ready.pop(0)
                    node = run.nodes[name]
                    node_input = self._input_of(run, name)
                    if node.id in run.earlier:  # completed by an earlier attempt
                        output = run.earlier[node.id]
                        branch = output.get("branch") if node.node_type == "condition" else None
                        ready += self._decide(run, name, NodeResult(output, branch), records)
                    elif node.node_type in PURE_NODE_TYPES:
                        result = await self._pure(node, node_input, run, records)
                        ready += self._decide(run, name, result, records)
                    else:
                        calls.append((node, node_input))
                if not calls and not tasks:
                    break
                await self._flush(run, records)  # before the calls: node runs in start order
                for node, node_input in calls:
                    task = asyncio.create_task(self._guarded(slots, node, node_input, run))
                    tasks[task] = node.name
                await asyncio.wait([*tasks, watcher], return_when=asyncio.FIRST_COMPLETED)
                if watcher.done():
                    watcher.result()  # raises ExecutionLostError or AbandonedError
                for task in [task for task in tasks if task.done()]:
                    name = tasks.pop(task)
                    ready += self._decide(run, name, task.result(), records)
        except NodeError as failure:
            await self._stop(tasks)
            await self._fail(run, failure, records)
            return
        except BaseException:
            await self._stop(tasks)
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        await self._complete(run, records)

    async def _complete(self, run: Run, records: list[NodeRecord]) -> None:
        """Every node is decided: the execution completed with its leaves' outputs."""
        output = {name: run.outputs[name] for name in run.walk.leaves()}
        async with self._database.begin() as connection:
            await self._write_records(connection, run, records)
            ended = await store.end_execution(
                connection, run.execution.id, "completed", token=run.token, output=output
            )
            if not ended:
                raise ExecutionLostError
            await store.log(connection, run.execution.id, None, "info", "execution completed")
        _finished("completed", run.started_at)

    def _decide(
        self, run: Run, name: str, result: NodeResult, records: list[NodeRecord]
    ) -> list[str]:
        """Record a node's result in the walk; the nodes it made ready (skips recorded)."""
        run.outputs[name] = result.output
        step = run.walk.complete(name, result.branch)
        for skipped in step.skipped:
            records.append((run.nodes[skipped].id, "skipped", self._input_of(run, skipped), None))
        return step.ready

    @staticmethod
    async def _stop(tasks: dict[asyncio.Task[NodeResult], str]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _fail(self, run: Run, failure: NodeError, records: list[NodeRecord]) -> None:
        """A node failed: the others were stopped; skip what had not started, fail the
        execution naming the node."""
        error = failure.message
        async with self._database.begin() as connection:
            await self._write_records(connection, run, records)
            await store.interrupt_node_runs(
                connection, run.execution.id, "cancelled", "stopped: another node failed"
            )
            failed = {failure.node} if isinstance(failure, NodeFailedError) else set()
            unstarted: list[NodeRecord] = [
                (run.nodes[name].id, "skipped", {}, None)
                for name in run.walk.undecided()
                if name not in failed and name not in run.started
            ]
            await store.record_node_runs(
                connection, run.execution.id, run.token, run.attempt, unstarted
            )
            ended = await store.end_execution(
                connection, run.execution.id, "failed", token=run.token, error=error
            )
            if not ended:
                raise ExecutionLostError
            await store.log(connection, run.execution.id, None, "error", error)
        _finished("failed", run.started_at)

    async def _flush(self, run: Run, records: list[NodeRecord]) -> None:
        if records:
            async with self._database.begin() as connection:
                await self._write_records(connection, run, records)

    @staticmethod
    async def _write_records(
        connection: AsyncConnection, run: Run, records: list[NodeRecord]
    ) -> None:
        written = await store.record_node_runs(
            connection, run.execution.id, run.token, run.attempt, records
        )
        if not written:
            raise ExecutionLostError
        records.clear()

    def _input_of(self, run: Run, name: str) -> dict[str, Any]:
        """A node's input (runtime.md, "Graph semantics")."""
        taken = run.walk.taken_predecessors(name)
        inputs = {source: run.outputs[source] for source in taken if source in run.outputs}
        node_input: dict[str, Any] = {
            "trigger": run.trigger,
            "variables": run.variables,
            "inputs": inputs,
        }
        if len(inputs) == 1:
            node_input["input"] = next(iter(inputs.values()))
        return node_input

    async def _pure(
        self, node: NodeSpec, node_input: dict[str, Any], run: Run, records: list[NodeRecord]
    ) -> NodeResult:
        """A node that only computes: run it inline, recorded with the next write."""
        call = NodeCall(
            node, _scope(run, node_input), f"{run.execution.id}:{node.id}", self._services
        )
        try:
            result = await run_node(call)
            self._check_output(result.output)
        except NodeError as exc:
            records.append((node.id, "failed", node_input, None))
            run.started.add(node.name)
            raise NodeFailedError(node.name, f"node {node.name} failed: {exc.message}") from None
        records.append((node.id, "completed", node_input, result.output))
        return result

    async def _guarded(
        self, slots: asyncio.Semaphore, node: NodeSpec, node_input: dict[str, Any], run: Run
    ) -> NodeResult:
        async with slots:
            began, status = time.monotonic(), "failed"
            try:
                result = await self._attempts(node, node_input, run)
                status = "completed"
                return result
            finally:
                seconds = time.monotonic() - began
                metrics.NODE_DURATION.labels(node.node_type, status).observe(seconds)

    async def _attempts(self, node: NodeSpec, node_input: dict[str, Any], run: Run) -> NodeResult:
        """A node that does I/O: recorded as running first, tried as its retry policy says,
        each attempt under the node's timeout."""
        execution_id = run.execution.id
        async with self._database.begin() as connection:
            node_run = await store.begin_node_run(
                connection,
                execution_id,
                run.token,
                node.id,
                attempt=run.attempt,
                input_data=node_input,
            )
            if node_run is None:
                raise ExecutionLostError
            run.started.add(node.name)
            await store.log(connection, execution_id, None, "info", f"node {node.name} started")
        policy = parse_retry_config(node.retry_config or {})
        call = NodeCall(node, _scope(run, node_input), f"{execution_id}:{node.id}", self._services)
        tries = 0
        while True:
            tries += 1
            try:
                async with asyncio.timeout(node.timeout_seconds):
                    result = await run_node(call)
                self._check_output(result.output)
            except TimeoutError:
                failure = NodeError(f"timeout after {node.timeout_seconds} s", retryable=True)
            except NodeError as exc:
                failure = exc
            else:
                async with self._database.begin() as connection:
                    if not await store.end_node_run(
                        connection,
                        execution_id,
                        run.token,
                        node_run,
                        "completed",
                        retry_count=tries - 1,
                        output=result.output,
                    ):
                        raise ExecutionLostError
                    await store.log(
                        connection,
                        execution_id,
                        node_run,
                        "info",
                        f"node {node.name} completed",
                        data={"attempt": tries},
                    )
                return result
            if failure.retryable and tries < policy.max_attempts:
                delay = min(
                    policy.backoff_seconds * policy.backoff_multiplier ** (tries - 1),
                    policy.max_backoff_seconds,
                )
                async with self._database.begin() as connection:
                    await store.log(
                        connection, execution_id, node_run, "warning",
                        f"node {node.name} attempt {tries} failed: {failure.message}; "
                        f"retrying in {delay:g} s",
                        data={"attempt": tries, "retry_in_seconds": delay},
                    )  # fmt: skip
                await asyncio.sleep(delay)
                continue
            break
        if _continues_on_error(node):
            output = {"error": failure.message}
            async with self._database.begin() as connection:
                if not await store.end_node_run(
                    connection,
                    execution_id,
                    run.token,
                    node_run,
                    "failed",
                    retry_count=tries - 1,
                    output=output,
                    error=failure.message,
                ):
                    raise ExecutionLostError
                await store.log(
                    connection,
                    execution_id,
                    node_run,
                    "warning",
                    f"node {node.name} failed (continue_on_error): {failure.message}",
                    data={"attempt": tries},
                )
            return NodeResult(output)
        async with self._database.begin() as connection:
            if not await store.end_node_run(
                connection,
                execution_id,
                run.token,
                node_run,
                "failed",
                retry_count=tries - 1,
                error=failure.message,
            ):
                raise ExecutionLostError
            await store.log(
                connection,
                execution_id,
                node_run,
                "error",
                f"node {node.name} failed: {failure.message}",
                data={"attempt": tries},
            )
        raise NodeFailedError(node.name, f"node {node.name} failed: {failure.message}")

    def _check_output(self, output: dict[str, Any]) -> None:
        limit = self._services.settings.node_output_max_bytes
        try:
            size = len(store.dumps(output).encode())
        except (TypeError, ValueError, RecursionError) as exc:
            raise NodeError(f"the output is not storable JSON: {exc}") from None
        if size > limit:
            raise NodeError(f"the output is {size} bytes, more than the limit of {limit}")

    async def _watch(self, run: Run, abandon: asyncio.Event) -> None:
        """Return never; raise when the execution is cancelled or taken over, or the worker
        gives it up (its running nodes are then marked cancelled, or left to recovery)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(abandon.wait(), self._poll_seconds)
            if abandon.is_set():
                raise AbandonedError
            async with self._database.connect() as connection:
                seen = await store.status_and_token(connection, run.execution.id)
            if seen is None or seen[1] != run.token:
                raise ExecutionLostError
            if seen[0] == "cancelled":
                async with self._database.begin() as connection:
                    await store.interrupt_node_runs(
                        connection, run.execution.id, "cancelled", "cancelled"
                    )
                    await store.log(
                        connection,
                        run.execution.id,
                        None,
                        "warning",
                        "execution cancelled; running nodes stopped",
                    )
                raise ExecutionLostError
            if seen[0] != "running":
                raise ExecutionLostError


def _finished(status: str, started_at: datetime | None = None) -> None:
    """Count an execution that ended, and how long it ran."""
    metrics.EXECUTIONS_FINISHED.labels(status).inc()
    if started_at is not None:
        seconds = max(0.0, (utc_now() - started_at).total_seconds())
        metrics.EXECUTION_DURATION.labels(status).observe(seconds)


def _scope(run: Run, node_input: dict[str, Any]) -> dict[str, Any]:
    """What a node's expressions see: its input, and as `nodes` the output of every node
    completed so far (kept out of the stored input, which would grow with the graph)."""
    return {**node_input, "nodes": dict(run.outputs)}


def _max_instances(metadata: dict[str, Any]) -> int:
    try:
        return parse_run_options(metadata).effective_max_instances
    except Exception:
        return 1


def _continues_on_error(node: NodeSpec) -> bool:
    return bool(node.config.get("continue_on_error", False))


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def _graph_problems(graph: store.GraphRows | None) -> list[str]:
    """Why this workflow cannot run now (runtime.md, "Execution lifecycle")."""
    if graph is None:
        return ["the workflow no longer exists"]
    if graph.deleted:
        return ["the workflow is deleted"]
    if not graph.is_active:
        return ["the workflow is inactive"]
    names = {row["id"]: row["name"] for row in graph.nodes}
    problems: list[str] = []
    graph_nodes: list[GraphNode] = []
    for row in graph.nodes:
        label = f"nodes.{row['name']}"
        handles: tuple[str, ...] | None = None
        try:
            config = parse_node_config(row["node_type"], row["config"] or {})
            parse_retry_config(row["retry_config"] or {})
        except FieldValidationError as exc:
            problems.append(f"{label}.{exc.field}: {exc.reason}")
            continue
        if hasattr(config, "handles"):
            handles = config.handles()
        if row["node_type"] == "tool" and row["tool_type"] is None:
            problems.append(f"{label}.tool_id: the tool is deleted or not usable by the owner")
        if row["node_type"] == "agent" and row["llm_config"] is None:
            problems.append(f"{label}.agent_id: the agent is deleted or not usable by the owner")
        graph_nodes.append(GraphNode(label, row["name"], row["node_type"], handles))
    edges = [
        GraphEdge(f"edges[{index}]", names[source], names[target], handle)
        for index, (source, target, handle) in enumerate(graph.edges)
    ]
    problems += [f"{where}: {why}" for where, why in run_problems(graph_nodes, edges)]
    return problems


def _build(graph: store.GraphRows) -> tuple[dict[str, NodeSpec], GraphWalk]:
    names = {row["id"]: row["name"] for row in graph.nodes}
    nodes: dict[str, NodeSpec] = {}
    for row in graph.nodes:
        tool = agent = None
        if row["tool_type"] is not None:
            tool = ToolSpec(
                row["tool_name"], row["tool_type"], row["tool_config"] or {}, row["auth_config"]
            )
        if row["llm_config"] is not None:
            agent = AgentSpec(row["agent_name"], row["system_prompt"], row["llm_config"])
        nodes[row["name"]] = NodeSpec(
            row["id"], row["name"], row["node_type"], row["config"] or {},
            row["timeout_seconds"], row["retry_config"] or {}, tool, agent,
        )  # fmt: skip
    edges = [WalkEdge(names[s], names[t], h) for s, t, h in graph.edges]
    return nodes, GraphWalk(list(nodes), edges)
