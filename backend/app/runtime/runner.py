"""Runs one execution (runtime.md): claim it, walk its graph node by node, finish it.

The claim reads without locks and starts only executions still pending, so a cancel or
a second claim meanwhile wins; the schedule's row lock makes the max_instances check and
the move to `running` atomic across workers; an execution found already `running` was
left by a lost worker and is resumed as a new attempt, under its own lock. The walk's
writes then go with those of the other runs in flight (batch.py), fenced by the run
token (store.py). A watcher polls the rows so that a cancel, or another worker taking
over, stops this run within `poll_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import metrics
from app.core.clock import utc_now
from app.core.errors import FieldValidationError
from app.core.json_values import check_json_value
from app.graphs.node_configs import (
    ConditionNodeConfig,
    RetryConfig,
    parse_node_config,
    parse_retry_config,
)
from app.graphs.rules import GraphEdge, GraphNode, run_problems
from app.graphs.shapes import StrictShape
from app.graphs.walk import GraphWalk, WalkEdge
from app.runtime import store
from app.runtime.batch import GroupCommit
from app.runtime.calls import AgentSpec, NodeCall, NodeError, NodeSpec, Services, ToolSpec
from app.runtime.nodes import PURE_NODE_TYPES, NodeResult, run_node
from app.timing.run_options import parse_run_options

logger = logging.getLogger("app.runtime")

WORKER_LOST = "worker lost: the worker running it stopped before it finished"
# Graphs kept checked per (workflow, version) by one worker.
GRAPH_CACHE_SIZE = 256
# Below every reader's limit (pydantic and orjson stop at 255).
MAX_OUTPUT_DEPTH = 64


NodeRecord = tuple[uuid.UUID, str, dict[str, Any], dict[str, Any] | None]
# An execution a claim starts: its row, its workflow, the attempt, the outputs of the
# nodes an earlier attempt completed (by node id), the status it must still have.
Starting = tuple[store.ExecutionRow, store.WorkflowRow, int, dict[uuid.UUID, dict[str, Any]], str]


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
    # Nodes this attempt gave a node run row to, and the running ones' row ids.
    started: set[str] = field(default_factory=set)
    node_runs: dict[str, uuid.UUID] = field(default_factory=dict)
    # Node runs completed since the last write: (id, retry count, output, log message).
    ends: list[tuple[uuid.UUID, int, dict[str, Any], str]] = field(default_factory=list)
    # The start of the walk, worked out and written by the claim: the I/O nodes to start
    # (the first EXECUTION_NODE_CONCURRENCY of them already recorded running), and the node
    # runs left to write (none once written).
    first: tuple[list[tuple[NodeSpec, dict[str, Any]]], list[NodeRecord]] | None = None
    # Held by the walk write in flight (a node waiting for a slot writes its own start).
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Fails with ExecutionLostError or AbandonedError when the run is to stop.
    stopped: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


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
        self._database = store.autocommit(database)
        self._services = services
        self._max_losses = max_losses
        self._node_slots = node_concurrency
        self._poll_seconds = poll_seconds
        self._graphs: OrderedDict[tuple[uuid.UUID, int], GraphShape] = OrderedDict()
        self._graph_reads = 0  # graphs read from the database, ever
        # Claims and walk writes of the executions in flight, written together.
        self._claims = GroupCommit(self._claim_many, max_batches=2)
        self._writes = GroupCommit(self._write_many, max_batches=2)
        # The runs in flight, watched together by one task.
        self._live: dict[uuid.UUID, Run] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._abandoned = False

    async def run(self, execution_id: uuid.UUID) -> None:
        """Run the execution to its end (or until it is lost, cancelled or abandoned)."""
        run = await self._claims(execution_id)
        if run is None:
            return
        self._live[run.execution.id] = run
        if self._abandoned:
            run.stopped.set_exception(AbandonedError())
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        try:
            await self._walk(run)
        except ExecutionLostError:
            logger.info(
                "execution %s is no longer ours (cancelled or taken over)", run.execution.id
            )
        except AbandonedError:
            raise
        except store.DATABASE_ERRORS as exc:  # the database is away: give the run back
            logger.warning("execution %s: %s; handed back to the queue", run.execution.id, exc)
            raise AbandonedError from exc
        except Exception as exc:  # a defect of ours: fail the run rather than retry it forever
            logger.exception("execution %s failed inside the runtime", run.execution.id)
            error = f"the runtime failed: {type(exc).__name__}: {exc}"
            async with store.connect(self._database, transaction=True) as connection:
                ended = await store.end_execution(
                    connection, run.execution.id, "failed", token=run.token, error=error
                )
                if ended:
                    await store.interrupt_node_runs(connection, run.execution.id, "failed", error)
            if ended:
                _finished("failed", run.started_at)
        finally:
            del self._live[run.execution.id]
            if run.stopped.done() and not run.stopped.cancelled():
                run.stopped.exception()  # seen: the walk stopped on it, or had ended
            if not self._live:
                self._wake.set()

    def abandon(self) -> None:
        """The worker is shutting down past its grace period: every run stops where it
        is and is left to be taken up again (AbandonedError)."""
        self._abandoned = True
        for run in self._live.values():
            if not run.stopped.done():
                run.stopped.set_exception(AbandonedError())

    # -- the claim ----------------------------------------------------------------------

    async def _claim_many(self, execution_ids: Sequence[uuid.UUID]) -> list[Run | None]:
        """Claim executions: for each, the run to walk, or None (it is not there, already
        finished or taken, skipped for max_instances, or failed at once).

        One read without locks, then one statement starts the pending ones that are still
        pending (a cancel, or a second claim, meanwhile wins) with the first waves of
        their walks: two round trips for a batch. A transaction is needed only to hold
        locks: the schedules' (the point where workers agree on max_instances) for the
        executions of a schedule, the executions' own for those found running (left by a
        lost worker, resumed), or for several writes that must commit together."""
        ended: list[tuple[str, datetime | None]] = []  # counted once the claim commits
        async with store.connect(self._database, transaction=False) as connection:
            found, now, refs = await store.read_executions(connection, execution_ids)
            in_order = [found[key] for key in dict.fromkeys(execution_ids) if key in found]
            runs = await self._decide_and_start(connection, in_order, now, refs, ended)
        for status, began in ended:
            _finished(status, began)
        # One run per execution, given to the first of its callers.
        return [runs.pop(execution_id, None) for execution_id in execution_ids]

    async def _decide_and_start(
        self,
        connection: Any,
        found: list[tuple[store.ExecutionRow, store.WorkflowRow]],
        now: datetime,
        refs: store.Refs,
        ended: list[tuple[str, datetime | None]],
    ) -> dict[uuid.UUID, Run]:
        """The claim's decisions on the executions read (resume, skip for max_instances,
        start) and its start, in the transaction that holds its locks when it needs one."""
        pending = [pair for pair in found if pair[0].status == "pending"]
        resuming = [pair for pair in found if pair[0].status == "running"]
        scheduled = [one.schedule_id for one, _ in pending if one.schedule_id is not None]
        async with store.atomic(connection, bool(resuming or scheduled)):
            states, schedules = await store.lock_for_claim(
                connection, [one.id for one, _ in resuming], scheduled
            )
            starting = await self._resumptions(connection, resuming, states, schedules, ended)
            return await self._start_pending(
                connection, pending, starting, schedules, now=now, refs=refs, ended=ended
            )

    async def _start_pending(
        self,
        connection: Any,
        pending: list[tuple[store.ExecutionRow, store.WorkflowRow]],
        starting: list[Starting],
        schedules: dict[uuid.UUID, tuple[dict[str, Any], int]],
        *,
        now: datetime,
        refs: store.Refs,
        ended: list[tuple[str, datetime | None]],
    ) -> dict[uuid.UUID, Run]:
        """Start the resumptions and the pending executions that fit under their
        schedules' max_instances; skip the others. The runs to walk."""
        runs: dict[uuid.UUID, Run] = {}
        waiting = pending
        while True:
            over_limit: list[tuple[store.ExecutionRow, store.WorkflowRow]] = []
            for execution, workflow in waiting:
                if _limit_reached(execution, schedules) is None:
                    _count_in(execution, schedules, 1)
                    starting.append((execution, workflow, 1, {}, "pending"))
                else:
                    over_limit.append((execution, workflow))
            running = await self._start_runs(connection, starting, now, refs, ended, walks=runs)
            # One counted that is not running now (cancelled, or claimed by another worker,
            # since the read; unable to run; or completed already, as a workflow of pure
            # nodes is) leaves its place to the next one over the limit.
            freed = [one for one, *_ in starting if one.id not in running]
            for execution in freed:
                _count_in(execution, schedules, -1)
            if not (freed and over_limit):
                break
            waiting, starting = over_limit, []
        for execution, _ in over_limit:
            full = _limit_reached(execution, schedules)
            if full and await store.skip_for_max_instances(connection, execution, *full):
                ended.append(("skipped", None))
        return runs

    async def _resumptions(
        self,
        connection: Any,
        resuming: list[tuple[store.ExecutionRow, store.WorkflowRow]],
        states: dict[uuid.UUID, store.ExecutionState],
        schedules: dict[uuid.UUID, tuple[dict[str, Any], int]],
        ended: list[tuple[str, datetime | None]],
    ) -> list[Starting]:
        """The executions found running to resume, as their locks find them: not one that
        ended, or that another worker took up, since it was read. One that fails at its
        last loss is no longer running: it leaves its place in its schedule's count."""
        starting: list[Starting] = []
        for execution, workflow in resuming:
            if states.get(execution.id) != ("running", execution.attempt, execution.run_token):
                continue
            earlier = await self._recover(connection, execution, ended)
            if earlier is None:
                _count_in(execution, schedules, -1)
            else:
                starting.append((execution, workflow, execution.attempt + 1, earlier, "running"))
        return starting

    async def _start_runs(
        self,
        connection: Any,
        starting: Sequence[Starting],
        now: datetime,
        refs: store.Refs,
        ended: list[tuple[str, datetime | None]],
        *,
        walks: dict[uuid.UUID, Run],
    ) -> set[uuid.UUID]:
        """Start the executions the claim decided on, each with the first wave of its
        walk; those that cannot run (a graph or reference problem) fail at once. The runs
        to walk go into `walks`: not those not started (taken meanwhile), nor those
        already completed. The executions left running."""
        if not starting:
            return set()
        tokens = {execution.id: uuid.uuid4() for execution, *_ in starting}
        graphs, refs = await self._graphs_of(connection, starting, refs)
        runs: dict[uuid.UUID, Run] = {}
        cannot_run: list[tuple[store.ExecutionRow, str, datetime, str]] = []
        # Per workflow version and owner: its problems, or its nodes (the same for
        # every execution of it in this batch).
        prepared: dict[tuple[uuid.UUID, int, uuid.UUID], str | dict[str, NodeSpec]] = {}
        for execution, workflow, attempt, earlier, expected in starting:
            graph, started_at = graphs[execution.id], execution.started_at or now
            key = (execution.workflow_id, workflow.version, workflow.owner_id)
            if key not in prepared:
                prepared[key] = _prepare(graph, refs, workflow.owner_id)
            nodes = prepared[key]
            if isinstance(nodes, str):
                cannot_run.append((execution, nodes, started_at, expected))
                continue

            build = functools.partial(
                _run_of, execution, workflow, token=tokens[execution.id], attempt=attempt,
                started_at=started_at, graph=graph, nodes=nodes, earlier=earlier,
            )  # fmt: skip
            runs[execution.id] = await self._first_wave(build)
        starts: list[store.Start] = [
            (execution.id, tokens[execution.id], attempt,
             "execution started" if expected == "pending" else None, expected)
            for execution, _, attempt, _, expected in starting
            if execution.id in runs
        ]  # fmt: skip
        ends = self._pure_ends(runs.values())
        # Several writes commit together: a batch that fails is served again, and must
        # not find some of its executions started by itself.
        several = len(cannot_run) + bool(starts) + bool(ends) > 1
        async with store.atomic(connection, several):
            began = await self._start(connection, starts, list(runs.values()), now)
            if ends:  # the executions are this claim's, started by this statement's own
                await store.write_walks(connection, [e for e in ends if e.execution_id in began])
            for execution, error, started_at, expected in cannot_run:
                if await store.end_execution(
                    connection, execution.id, "failed", error=error,
                    pending_only=expected == "pending",
                ):  # fmt: skip
                    ended.append(("failed", started_at))
        for execution_id in list(runs):
            if execution_id not in began:  # cancelled, or claimed elsewhere, since read
                del runs[execution_id]
        for end in ends:
            if end.execution_id in began:
                ended.append(("completed", runs.pop(end.execution_id).started_at))
        walks.update(runs)
        return set(runs)

    async def _first_wave(self, build: Callable[[], Run]) -> Run:
        """A claimed run with the start of its walk worked out (pure nodes run, the first
        I/O nodes to start), so that the claim's start writes it too. A pure node that
        fails here is left to the walk, which fails the run its usual way."""
        run = build()
        records: list[NodeRecord] = []
        try:
            calls = await self._advance(run, run.walk.roots(), records)
        except NodeError:
            return build()
        run.first = (calls, records)
        return run

    @staticmethod
    def _pure_ends(runs: Iterable[Run]) -> list[store.WalkWrite]:
        """The ends (completed) of the runs whose first wave is their whole walk."""
        ends: list[store.WalkWrite] = []
        for run in runs:
            if run.first is None:
                continue
            calls, _ = run.first
            if not calls and not run.walk.undecided():
                output = {name: run.outputs[name] for name in run.walk.leaves()}
                end = ("completed", output, None, "info", "execution completed")
                ends.append(store.WalkWrite(run.execution.id, run.token, run.attempt, end=end))
        return ends

    async def _start(
        self,
        connection: Any,
        starts: list[store.Start],
        runs: list[Run],
        now: datetime,
    ) -> set[uuid.UUID]:
        """Start the executions and write the first wave of each run, in one statement;
        the executions started."""
        node_runs: list[store.NodeRunRow] = []
        for run in runs:
            if run.first is None:
                continue
            calls, records = run.first
            node_runs += [(run.execution.id, run.attempt, *record) for record in records]
            node_runs += [
                (run.execution.id, run.attempt, node.id, "running", node_input, None)
                for node, node_input in calls[: self._node_slots]
            ]
        began = await store.start(connection, starts, node_runs, started_at=now)
        for run in runs:
            if run.first is None or run.execution.id not in began:
                continue
            calls, records = run.first
            records.clear()
            for node, _ in calls[: self._node_slots]:
                run.started.add(node.name)
                run.node_runs[node.name] = began[run.execution.id][node.id]
        return set(began)

    async def _recover(
        self,
        connection: Any,
        execution: store.ExecutionRow,
        ended: list[tuple[str, datetime | None]],
    ) -> dict[uuid.UUID, dict[str, Any]] | None:
        """An execution found running lost its worker: its node runs in flight end as
        failed, and it resumes with the outputs of the nodes completed before (returned),
        or fails at the WORKER_MAX_LOSSES-th loss (None)."""
        lost = await store.interrupt_node_runs(connection, execution.id, "failed", WORKER_LOST)
        losses = execution.attempt
        if losses >= self._max_losses:
            error = f"the worker running it was lost {losses} times; giving up"
            await store.end_execution(connection, execution.id, "failed", error=error)
            ended.append(("failed", None))
            return None
        await store.log(
            connection, execution.id, None, "warning",
            f"resumed after a worker loss (attempt {losses + 1}); "
            f"{lost} node run(s) in flight will run again",
        )  # fmt: skip
        return await store.completed_node_runs(connection, execution.id)

    async def _graphs_of(
        self,
        connection: Any,
        starting: Sequence[Starting],
        refs: store.Refs,
    ) -> tuple[dict[uuid.UUID, GraphShape], store.Refs]:
        """The graph of each execution starting, and the tools and agents: those the
        claim's read found, or, when a graph had to be read after it, read again (as new
        as the graph)."""
        reads = self._graph_reads
        graphs = {
            execution.id: await self._graph(connection, execution.workflow_id, workflow)
            for execution, workflow, *_ in starting
        }
        if self._graph_reads != reads:
            refs = await store.read_refs(connection, [one.workflow_id for one, *_ in starting])
        return graphs, refs

    async def _graph(
        self, connection: Any, workflow_id: uuid.UUID, workflow: store.WorkflowRow
    ) -> GraphShape:
        """The workflow's graph at its version, checked: read and checked once per version
        (every change to a graph bumps it), kept for the next runs."""
        if workflow.deleted or not workflow.is_active:
            reason = "deleted" if workflow.deleted else "inactive"
            return GraphShape(problems=(f"the workflow is {reason}",))
        key = (workflow_id, workflow.version)
        shape = self._graphs.get(key)
        if shape is None:
            self._graph_reads += 1
            node_rows, edges = await store.read_graph(connection, workflow_id)
            shape = _shape_of(node_rows, edges)
            self._graphs[key] = shape
            while len(self._graphs) > GRAPH_CACHE_SIZE:
                self._graphs.popitem(last=False)
        else:
            self._graphs.move_to_end(key)
        return shape

    # -- the walk -----------------------------------------------------------------------

    async def _walk(self, run: Run) -> None:
        """Run ready nodes (pure ones inline, the others as tasks) until none is left."""
        slots = asyncio.Semaphore(self._node_slots)
        tasks: dict[asyncio.Task[NodeResult], str] = {}
        records: list[NodeRecord] = []
        ready = [] if run.first is not None else run.walk.roots()
        try:
            while ready or tasks or run.first is not None:
                if run.first is not None:  # the claim worked out and wrote the first wave
                    (calls, records), run.first = run.first, None
                else:
                    calls = await self._advance(run, ready, records)
                if not calls and not tasks:
                    break
                # Those that get a slot now are recorded running with the wave's other
                # node runs, in one transaction and in start order; the rest when they do.
                free = max(0, self._node_slots - len(tasks))
                unbegun = [call for call in calls[:free] if call[0].name not in run.node_runs]
                if unbegun:
                    await self._begin(run, unbegun, records)
                else:
                    await self._flush(run, records)
                for node, node_input in calls:
                    node_run = run.node_runs.get(node.name)
                    task = asyncio.create_task(
                        self._guarded(slots, node, node_input, run, node_run)
                    )
                    tasks[task] = node.name
                waits: list[asyncio.Future[Any]] = [*tasks, run.stopped]
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if run.stopped.done():
                    run.stopped.result()  # raises ExecutionLostError or AbandonedError
                for task in [task for task in tasks if task.done()]:
                    name = tasks.pop(task)
                    ready += self._decide(run, name, task.result(), records)
        except NodeError as failure:
            await self._stop(tasks)
            await self._fail(run, failure, records)
            return
        except AbandonedError:
            await self._stop(tasks)
            with contextlib.suppress(Exception):  # what completed need not run again
                await self._flush(run, records)
            raise
        except BaseException:
            await self._stop(tasks)
            raise
        await self._complete(run, records)

    async def _advance(
        self, run: Run, ready: list[str], records: list[NodeRecord]
    ) -> list[tuple[NodeSpec, dict[str, Any]]]:
        """Decide ready nodes until only I/O nodes are left: those completed by an earlier
        attempt keep their output, pure ones run inline; the I/O ones to start, returned."""
        calls: list[tuple[NodeSpec, dict[str, Any]]] = []
        while ready:
            name = ready.pop(0)
            node = run.nodes[name]
            node_input = self._input_of(run, name)
            if node.id in run.earlier:
                output = run.earlier[node.id]
                branch = output.get("branch") if node.node_type == "condition" else None
                ready += self._decide(run, name, NodeResult(output, branch), records)
            elif node.node_type in PURE_NODE_TYPES:
                result = await self._pure(node, node_input, run, records)
                ready += self._decide(run, name, result, records)
            else:
                calls.append((node, node_input))
        return calls

    async def _complete(self, run: Run, records: list[NodeRecord]) -> None:
        """Every node is decided: the execution completed with its leaves' outputs."""
        output = {name: run.outputs[name] for name in run.walk.leaves()}
        await self._write(run, records, end=("completed", output, None, "info",
                                             "execution completed"))  # fmt: skip
        _finished("completed", run.started_at)

    async def _write(
        self,
        run: Run,
        records: list[NodeRecord],
        begins: Sequence[tuple[uuid.UUID, dict[str, Any]]] = (),
        end: tuple[str, dict[str, Any] | None, str | None, str, str] | None = None,
    ) -> dict[uuid.UUID, uuid.UUID]:
        """What the walk has to write (completed node runs, those that ended as they
        began, those starting, the end), written with other runs' writes; node id -> node
        run id of those started."""
        async with run.writing:  # one write of a run at a time: each takes its own ends
            ends = len(run.ends)  # tasks still running may add to run.ends meanwhile
            write = store.WalkWrite(
                run.execution.id, run.token, run.attempt, run.ends[:ends], list(records),
                list(begins), end,
            )  # fmt: skip
            began = await self._writes(write)
            if began is None:
                raise ExecutionLostError
            del run.ends[:ends]
            records.clear()
            return began

    async def _write_many(
        self, writes: Sequence[store.WalkWrite]
    ) -> list[dict[uuid.UUID, uuid.UUID] | None]:
        async with store.connect(self._database, transaction=False) as connection:
            return await store.write_walks(connection, writes)

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
        failed = {failure.node} if isinstance(failure, NodeFailedError) else set()
        unstarted: list[NodeRecord] = [
            (run.nodes[name].id, "skipped", {}, None)
            for name in run.walk.undecided()
            if name not in failed and name not in run.started
        ]
        written = store.WalkWrite(run.execution.id, run.token, run.attempt, run.ends, records)
        ending = store.WalkWrite(
            run.execution.id, run.token, run.attempt, records=unstarted,
            end=("failed", None, error, "error", error),
        )  # fmt: skip
        async with store.connect(self._database, transaction=True) as connection:
            [held] = await store.write_walks(connection, [written])
            if held is not None:
                await store.interrupt_node_runs(
                    connection, run.execution.id, "cancelled", "stopped: another node failed"
                )
                [held] = await store.write_walks(connection, [ending])
        if held is None:
            raise ExecutionLostError
        _finished("failed", run.started_at)

    async def _flush(self, run: Run, records: list[NodeRecord]) -> None:
        if records or run.ends:
            await self._write(run, records)

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
            try:
                result = await run_node(call)
            except (NodeError, asyncio.CancelledError):
                raise
            except Exception as exc:
                raise NodeError(f"{type(exc).__name__}: {exc}"[:2000]) from None
            self._check_output(result.output)
        except NodeError as exc:
            records.append((node.id, "failed", node_input, None))
            run.started.add(node.name)
            raise NodeFailedError(node.name, f"node {node.name} failed: {exc.message}") from None
        records.append((node.id, "completed", node_input, result.output))
        return result

    async def _guarded(
        self,
        slots: asyncio.Semaphore,
        node: NodeSpec,
        node_input: dict[str, Any],
        run: Run,
        node_run: uuid.UUID | None,
    ) -> NodeResult:
        async with slots:
            began, status = time.monotonic(), "failed"
            try:
                if node_run is None:
                    node_run = await self._begin(run, [(node, node_input)], [])
                result = await self._attempts(node, node_input, run, node_run)
                status = "completed"
                return result
            finally:
                seconds = time.monotonic() - began
                metrics.NODE_DURATION.labels(node.node_type, status).observe(seconds)

    async def _begin(
        self,
        run: Run,
        calls: list[tuple[NodeSpec, dict[str, Any]]],
        records: list[NodeRecord],
    ) -> uuid.UUID:
        """In one write: the node runs that ended as they began, then node runs `running`
        for `calls`; the node run id of the first call."""
        started = await self._write(
            run, records, [(node.id, node_input) for node, node_input in calls]
        )
        for node, _ in calls:
            run.started.add(node.name)
            run.node_runs[node.name] = started[node.id]
        return started[calls[0][0].id]

    async def _attempts(
        self, node: NodeSpec, node_input: dict[str, Any], run: Run, node_run: uuid.UUID
    ) -> NodeResult:
        """A node that does I/O (already recorded `running`): tried as its retry policy
        says, each attempt under the node's timeout."""
        execution_id = run.execution.id
        policy = node.retry
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
            except Exception as exc:  # whatever a tool or SDK raises on odd data
                failure = NodeError(f"{type(exc).__name__}: {exc}"[:2000])
            else:  # written with the next write of the walk (before it waits again)
                run.ends.append((node_run, tries - 1, result.output, f"node {node.name} completed"))
                return result
            if failure.retryable and tries < policy.max_attempts:
                delay = min(
                    policy.backoff_seconds * policy.backoff_multiplier ** (tries - 1),
                    policy.max_backoff_seconds,
                )
                async with store.connect(self._database, transaction=False) as connection:
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
            await self._end_node_run(
                run, node_run, "failed", tries, output=output, error=failure.message,
                log=("warning", f"node {node.name} failed (continue_on_error): {failure.message}"),
            )  # fmt: skip
            return NodeResult(output)
        await self._end_node_run(
            run, node_run, "failed", tries, error=failure.message,
            log=("error", f"node {node.name} failed: {failure.message}"),
        )  # fmt: skip
        raise NodeFailedError(node.name, f"node {node.name} failed: {failure.message}")

    async def _end_node_run(
        self,
        run: Run,
        node_run: uuid.UUID,
        status: str,
        tries: int,
        *,
        log: tuple[str, str],
        output: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Finish a node run with its log line (which says the attempt)."""
        async with store.connect(self._database, transaction=False) as connection:
            ended = await store.end_node_run(
                connection, run.execution.id, run.token, node_run, status,
                retry_count=tries - 1, output=output, error=error,
                log=(log[0], log[1], {"attempt": tries}),
            )  # fmt: skip
        if not ended:
            raise ExecutionLostError

    def _check_output(self, output: dict[str, Any]) -> None:
        """A node's output must be JSON PostgreSQL keeps and the API can read back, within
        NODE_OUTPUT_MAX_BYTES (checked without serialising: a value built of repeated
        parts stops the check at the limit, not after it has been written out)."""
        limit = self._services.settings.node_output_max_bytes
        try:
            check_json_value(output, "output", max_bytes=limit, max_depth=MAX_OUTPUT_DEPTH)
        except FieldValidationError as exc:
            raise NodeError(f"the output cannot be kept: {exc.field}: {exc.reason}") from None

    async def _watch(self) -> None:
        """While runs are in flight, every `poll_seconds` for all of them in one statement:
        their heartbeat (which the sweeper reads), and whether each is still theirs. A run
        cancelled or taken over is stopped (a cancelled one's running nodes are marked
        cancelled); the walk sees it at its next wait."""
        while self._live:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            runs = [run for run in self._live.values() if not run.stopped.done()]
            if not runs:
                continue
            try:
                async with store.connect(self._database, transaction=False) as connection:
                    seen = await store.beat(
                        connection, [(run.execution.id, run.token) for run in runs]
                    )
            except store.DATABASE_ERRORS:
                logger.warning("the database did not answer the runs' heartbeat; trying again")
                continue
            for run in runs:
                if self._live.get(run.execution.id) is not run:
                    continue  # it ended while the poll was out: nothing to stop
                status, holder = seen.get(run.execution.id, (None, None))
                if holder == run.token and status == "running":
                    continue
                if holder == run.token and status == "cancelled":
                    with contextlib.suppress(*store.DATABASE_ERRORS):
                        await self._stop_cancelled(run)
                if not run.stopped.done():
                    run.stopped.set_exception(ExecutionLostError())

    async def _stop_cancelled(self, run: Run) -> None:
        async with store.connect(self._database, transaction=True) as connection:
            await store.interrupt_node_runs(connection, run.execution.id, "cancelled", "cancelled")
            await store.log(
                connection, run.execution.id, None, "warning",
                "execution cancelled; running nodes stopped",
            )  # fmt: skip


def _run_of(
    execution: store.ExecutionRow,
    workflow: store.WorkflowRow,
    *,
    token: uuid.UUID,
    attempt: int,
    started_at: datetime,
    graph: GraphShape,
    nodes: dict[str, NodeSpec],
    earlier: dict[uuid.UUID, dict[str, Any]],
) -> Run:
    """The run of a claimed execution: its nodes (shared, read-only), its walk, what its
    trigger says."""
    trigger = {
        "execution_id": str(execution.id),
        "trigger_type": execution.trigger_type,
        "schedule_id": None if execution.schedule_id is None else str(execution.schedule_id),
        "scheduled_for": _iso(execution.scheduled_for),
        "started_at": _iso(started_at),
        "input": execution.input_data or {},
    }
    walk = GraphWalk(list(nodes), graph.walk_edges)
    return Run(
        execution, token, attempt, started_at, trigger, workflow.variables, nodes, walk,
        earlier,
    )  # fmt: skip


def _finished(status: str, started_at: datetime | None = None) -> None:
    """Count an execution that ended, and how long it ran."""
    metrics.EXECUTIONS_FINISHED.labels(status).inc()
    if status == "skipped":
        metrics.SKIPS.labels("max_instances").inc()
    if started_at is not None:
        seconds = max(0.0, (utc_now() - started_at).total_seconds())
        metrics.EXECUTION_DURATION.labels(status).observe(seconds)


def _scope(run: Run, node_input: dict[str, Any]) -> dict[str, Any]:
    """What a node's expressions see: its input, and as `nodes` the output of every node
    completed so far (kept out of the stored input, which would grow with the graph)."""
    return {**node_input, "nodes": dict(run.outputs)}


def _limit_reached(
    execution: store.ExecutionRow, schedules: dict[uuid.UUID, tuple[dict[str, Any], int]]
) -> tuple[int, int] | None:
    """(running, max_instances) when the execution's schedule (locked) is at its limit,
    counting those this claim starts; None when it may start (it has no schedule, or the
    schedule has room)."""
    if execution.schedule_id is None or execution.schedule_id not in schedules:
        return None
    metadata, running = schedules[execution.schedule_id]
    limit = _max_instances(metadata)
    return (running, limit) if running >= limit else None


def _count_in(
    execution: store.ExecutionRow,
    schedules: dict[uuid.UUID, tuple[dict[str, Any], int]],
    change: int,
) -> None:
    """Count an execution this claim starts (1), or one it did not start after all (-1),
    among its schedule's running ones."""
    if execution.schedule_id in schedules:
        metadata, running = schedules[execution.schedule_id]
        schedules[execution.schedule_id] = (metadata, running + change)


def _max_instances(metadata: dict[str, Any]) -> int:
    try:
        return parse_run_options(metadata).effective_max_instances
    except Exception:
        return 1


def _continues_on_error(node: NodeSpec) -> bool:
    return bool(node.config.get("continue_on_error", False))


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class GraphShape:
    """A workflow's graph at one version: its nodes and edges, and what is wrong with it
    (the usability of the tools and agents its nodes name is checked at every run)."""

    nodes: tuple[dict[str, Any], ...] = ()
    # Node id -> (config, retry policy), parsed.
    parsed: dict[uuid.UUID, tuple[StrictShape, RetryConfig]] = field(default_factory=dict)
    walk_edges: tuple[WalkEdge, ...] = ()
    problems: tuple[str, ...] = ()


def _shape_of(
    node_rows: list[dict[str, Any]], edges: list[tuple[uuid.UUID, uuid.UUID, str | None]]
) -> GraphShape:
    """The graph as stored, checked as runtime.md says ("Execution lifecycle")."""
    names = {row["id"]: row["name"] for row in node_rows}
    problems: list[str] = []
    graph_nodes: list[GraphNode] = []
    parsed: dict[uuid.UUID, tuple[StrictShape, RetryConfig]] = {}
    for row in node_rows:
        label = f"nodes.{row['name']}"
        handles: tuple[str, ...] | None = None
        try:
            config = parse_node_config(row["node_type"], row["config"] or {})
            parsed[row["id"]] = (config, parse_retry_config(row["retry_config"] or {}))
        except FieldValidationError as exc:
            problems.append(f"{label}.{exc.field}: {exc.reason}")
            continue
        if isinstance(config, ConditionNodeConfig):
            handles = config.handles()
        graph_nodes.append(GraphNode(label, row["name"], row["node_type"], handles))
    graph_edges = [
        GraphEdge(f"edges[{index}]", names[source], names[target], handle)
        for index, (source, target, handle) in enumerate(edges)
    ]
    problems += [f"{where}: {why}" for where, why in run_problems(graph_nodes, graph_edges)]
    return GraphShape(
        nodes=tuple(node_rows),
        parsed=parsed,
        walk_edges=tuple(WalkEdge(names[s], names[t], h) for s, t, h in edges),
        problems=tuple(problems),
    )


def _prepare(graph: GraphShape, refs: store.Refs, owner_id: uuid.UUID) -> str | dict[str, NodeSpec]:
    """A graph's nodes with the tools and agents its owner may use; or, when it cannot
    run, why (the execution's error)."""
    usable = {key: ref for key, ref in refs.items() if ref[8] == owner_id or ref[9]}
    problems = [*graph.problems, *_reference_problems(graph, usable)]
    if problems:
        return "the workflow cannot run: " + "; ".join(problems)
    return _node_specs(graph, usable)


def _reference_problems(graph: GraphShape, refs: dict[uuid.UUID, tuple[Any, ...]]) -> list[str]:
    """Nodes whose tool or agent is gone or no longer usable by the workflow's owner."""
    problems = []
    for row in graph.nodes:
        if row["node_type"] == "tool" and row["tool_id"] not in refs:
            problems.append(
                f"nodes.{row['name']}.tool_id: the tool is deleted or not usable by the owner"
            )
        if row["node_type"] == "agent" and row["agent_id"] not in refs:
            problems.append(
                f"nodes.{row['name']}.agent_id: the agent is deleted or not usable by the owner"
            )
    return problems


def _node_specs(graph: GraphShape, refs: dict[uuid.UUID, tuple[Any, ...]]) -> dict[str, NodeSpec]:
    nodes: dict[str, NodeSpec] = {}
    for row in graph.nodes:
        tool = agent = None
        if row["node_type"] == "tool":
            _, _, name, tool_type, config, auth, *_ = refs[row["tool_id"]]
            tool = ToolSpec(name, tool_type, config or {}, auth)
        if row["node_type"] == "agent":
            _, _, name, _, _, _, system_prompt, llm_config, *_ = refs[row["agent_id"]]
            agent = AgentSpec(name, system_prompt, llm_config or {})
        config, retry = graph.parsed[row["id"]]
        nodes[row["name"]] = NodeSpec(
            row["id"], row["name"], row["node_type"], row["config"] or {},
            row["timeout_seconds"], retry, config, tool, agent,
        )  # fmt: skip
    return nodes
