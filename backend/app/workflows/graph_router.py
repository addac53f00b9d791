"""Routes of a workflow's graph: the whole graph, one node or edge at a time, validation,
and the workflow as a portable document (export and import)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.api.deps import CurrentUser, ReadSessionDep, SessionDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from app.workflows import documents, graph_service
from app.workflows.document_schemas import ImportResult, WorkflowDocument
from app.workflows.graph_schemas import (
    NODE_EXAMPLES,
    EdgeChange,
    EdgeCreate,
    EdgeUpdate,
    GraphDocument,
    GraphRead,
    NodeChange,
    NodeCreate,
    NodeRead,
    NodeUpdate,
    ValidationReport,
)

router = APIRouter(prefix="/api/v1/workflows", tags=["graphs"], responses=ERROR_RESPONSES)

ExpectedVersion = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**31 - 1,
        description="The workflow version you read: a stale one is a 409 and nothing changes",
    ),
]


@router.get("/{workflow_id}/graph")
async def get_graph(
    workflow_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> GraphRead:
    """The workflow's nodes and edges, with the version to send back when saving."""
    return (await graph_service.read(session, user, workflow_id)).read()


@router.put("/{workflow_id}/graph", responses=CONFLICT_RESPONSE)
async def put_graph(
    workflow_id: uuid.UUID, document: GraphDocument, user: CurrentUser, session: SessionDep
) -> GraphRead:
    """Replace the whole graph in one transaction; it must be able to run. Nodes keep their
    ids when sent with them (else they are matched by name)."""
    return (await graph_service.replace(session, user, workflow_id, document)).read()


@router.post(
    "/{workflow_id}/nodes", status_code=status.HTTP_201_CREATED, responses=CONFLICT_RESPONSE
)
async def add_node(
    workflow_id: uuid.UUID,
    data: Annotated[NodeCreate, Body(openapi_examples=NODE_EXAMPLES)],
    user: CurrentUser,
    session: SessionDep,
    version: ExpectedVersion = None,
) -> NodeChange:
    """Add a node; the graph must stay well formed (reachability is checked by /validate)."""
    graph, node = await graph_service.add_node(session, user, workflow_id, data, version=version)
    return NodeChange(version=graph.workflow.version, node=NodeRead.of(node))


@router.patch("/{workflow_id}/nodes/{node_id}", responses=CONFLICT_RESPONSE)
async def update_node(
    workflow_id: uuid.UUID,
    node_id: uuid.UUID,
    *,
    data: NodeUpdate,
    user: CurrentUser,
    session: SessionDep,
    version: ExpectedVersion = None,
) -> NodeChange:
    """Change a node; edges follow a rename."""
    graph, node = await graph_service.update_node(
        session, user, workflow_id, node_id, data, version=version
    )
    return NodeChange(version=graph.workflow.version, node=NodeRead.of(node))


@router.delete(
    "/{workflow_id}/nodes/{node_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=CONFLICT_RESPONSE,
)
async def delete_node(
    workflow_id: uuid.UUID,
    node_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    version: ExpectedVersion = None,
) -> Response:
    """Remove a node and the edges at its ends."""
    await graph_service.delete_node(session, user, workflow_id, node_id, version=version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{workflow_id}/edges", status_code=status.HTTP_201_CREATED, responses=CONFLICT_RESPONSE
)
async def add_edge(
    workflow_id: uuid.UUID,
    data: EdgeCreate,
    user: CurrentUser,
    session: SessionDep,
    version: ExpectedVersion = None,
) -> EdgeChange:
    """Join two nodes of the workflow (no cycle, no duplicate, branches of conditions)."""
    graph, edge = await graph_service.add_edge(session, user, workflow_id, data, version=version)
    names = {node.id: node.name for node in graph.nodes}
    return EdgeChange(version=graph.workflow.version, edge=graph_service.edge_read(edge, names))


@router.patch("/{workflow_id}/edges/{edge_id}", responses=CONFLICT_RESPONSE)
async def update_edge(
    workflow_id: uuid.UUID,
    edge_id: uuid.UUID,
    *,
    data: EdgeUpdate,
    user: CurrentUser,
    session: SessionDep,
    version: ExpectedVersion = None,
) -> EdgeChange:
    """Change an edge's ends, branch, port or priority."""
    graph, edge = await graph_service.update_edge(
        session, user, workflow_id, edge_id, data, version=version
    )
    names = {node.id: node.name for node in graph.nodes}
    return EdgeChange(version=graph.workflow.version, edge=graph_service.edge_read(edge, names))


@router.delete(
    "/{workflow_id}/edges/{edge_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=CONFLICT_RESPONSE,
)
async def delete_edge(
    workflow_id: uuid.UUID,
    edge_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    version: ExpectedVersion = None,
) -> Response:
    """Remove an edge."""
    await graph_service.delete_edge(session, user, workflow_id, edge_id, version=version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{workflow_id}/validate")
async def validate_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> ValidationReport:
    """What would stop a run of the workflow now (an empty list when it can run)."""
    return await graph_service.validate(session, user, workflow_id)


@router.get("/{workflow_id}/export")
async def export_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> WorkflowDocument:
    """The workflow as one JSON document: fields, variables, graph, and the tools and agents
    it uses by name (never their secrets)."""
    return await documents.export(session, user, workflow_id)


@router.post("/import", status_code=status.HTTP_201_CREATED)
async def import_workflow(
    document: WorkflowDocument, user: CurrentUser, session: SessionDep
) -> ImportResult:
    """Create a workflow from a document, matching its tools and agents by name among
    those you may use; 422 naming what is missing, and nothing is created."""
    return await documents.import_document(session, user, document)
