"""Agent nodes: the agent's model asked through its provider's official SDK (runtime.md,
"Node types": `agent`). Keys come from settings, per provider, never from the agent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from app.core.settings import Settings
from app.graphs.llm_configs import LLMConfig, parse_llm_config
from app.graphs.node_configs import AgentNodeConfig
from app.runtime.calls import AgentSpec, NodeCall, NodeError
from app.runtime.tools import render_over

DEFAULT_MAX_TOKENS = 1024
_KEY_SETTINGS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "glm": "GLM_API_KEY"}


def _api_key(settings: Settings, provider: str) -> str:
    secret = {
        "openai": settings.openai_api_key,
        "anthropic": settings.anthropic_api_key,
        "glm": settings.glm_api_key,
    }[provider]
    if secret is None:
        raise NodeError(f"no API key for {provider}: set {_KEY_SETTINGS[provider]}")
    return secret.get_secret_value()


async def run_agent(call: NodeCall, config: AgentNodeConfig) -> dict[str, Any]:
    """Ask the node's agent its rendered prompt; `{"text", "model", "usage"}` (+ `json`)."""
    agent = call.node.agent
    if agent is None:
        raise NodeError("the node's agent no longer exists")
    llm = parse_llm_config(agent.llm_config)
    prompt = render_over(config.prompt, call.input, "config.prompt")
    prompt = prompt if isinstance(prompt, str) else json.dumps(prompt)
    base_url = llm.base_url
    allowed = {url.rstrip("/") for url in call.services.settings.llm_allowed_base_urls}
    if base_url is not None and base_url.rstrip("/") not in allowed:
        raise NodeError(
            f"base_url {base_url} is not allowed: the {llm.provider} key would be sent there; "
            "an operator may add it to LLM_ALLOWED_BASE_URLS"
        )
    if llm.provider == "glm" and base_url is None:
        base_url = call.services.settings.glm_base_url
    question = Question(
        agent=agent,
        llm=llm,
        prompt=prompt,
        key=_api_key(call.services.settings, llm.provider),
        base_url=base_url,
        seconds=float(call.node.timeout_seconds),
        idempotency_key=call.idempotency_key,
    )
    try:
        if llm.provider == "anthropic":
            output = await _anthropic(question)
        else:
            output = await _openai(question)
    except (openai.APIConnectionError, anthropic.APIConnectionError) as exc:
        raise NodeError(f"{llm.provider}: {exc}", retryable=True) from None
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        status = exc.response.status_code
        raise NodeError(
            f"{llm.provider} answered HTTP {status}: {exc.message}",
            retryable=status >= 500 or status in (408, 409, 429),
        ) from None
    except (openai.OpenAIError, anthropic.AnthropicError) as exc:
        raise NodeError(f"{llm.provider}: {exc}") from None
    if config.output == "json":
        try:
            output["json"] = json.loads(output["text"])
        except ValueError as exc:
            raise NodeError(f"the answer is not JSON: {exc}") from None
    return output


@dataclass(frozen=True, slots=True)
class Question:
    """One call to a provider: who asks what, with which key, for how long at most."""

    agent: AgentSpec
    llm: LLMConfig
    prompt: str
    key: str
    base_url: str | None
    seconds: float
    idempotency_key: str


async def _openai(question: Question) -> dict[str, Any]:
    agent, llm = question.agent, question.llm
    messages: list[Any] = []
    if agent.system_prompt:
        messages.append({"role": "system", "content": agent.system_prompt})
    messages.append({"role": "user", "content": question.prompt})
    options: dict[str, Any] = {}
    if llm.temperature is not None:
        options["temperature"] = llm.temperature
    if llm.max_tokens is not None:
        options["max_tokens"] = llm.max_tokens
    async with openai.AsyncOpenAI(
        api_key=question.key, base_url=question.base_url, max_retries=0, timeout=question.seconds
    ) as client:
        answer = await client.chat.completions.create(
            model=llm.model, messages=messages,
            extra_headers={"Idempotency-Key": question.idempotency_key}, **options,
        )  # fmt: skip
    text = answer.choices[0].message.content if answer.choices else None
    usage = answer.usage.model_dump() if answer.usage else {}
    return {"text": text or "", "model": answer.model, "usage": usage}


async def _anthropic(question: Question) -> dict[str, Any]:
    agent, llm = question.agent, question.llm
    options: dict[str, Any] = {}
    if agent.system_prompt:
        options["system"] = agent.system_prompt
    if llm.temperature is not None:
        options["temperature"] = min(llm.temperature, 1.0)
    async with anthropic.AsyncAnthropic(
        api_key=question.key, base_url=question.base_url, max_retries=0, timeout=question.seconds
    ) as client:
        answer = await client.messages.create(
            model=llm.model, max_tokens=llm.max_tokens or DEFAULT_MAX_TOKENS,
            messages=[{"role": "user", "content": question.prompt}],
            extra_headers={"Idempotency-Key": question.idempotency_key}, **options,
        )  # fmt: skip
    text = "".join(block.text for block in answer.content if block.type == "text")
    usage = answer.usage.model_dump(exclude_none=True) if answer.usage else {}
    return {"text": text, "model": answer.model, "usage": usage}
