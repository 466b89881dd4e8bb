"""Guardrails and intercepts around instrumented tool and LLM calls.

Run: python docs/examples/middleware.py
"""

from typing import Any

import trio

import actrio


def redact(tool_name: str, args: dict[str, Any]) -> dict[str, Any]:
    """What observers see; the tool still gets the real arguments."""
    return {**args, "api_key": "***"}


def no_rm(tool_name: str, args: dict[str, Any]) -> str | None:
    return "deleting files is not allowed" if tool_name == "rm" else None


async def timed(tool_name: str, args: Any, next_: Any) -> Any:
    start = trio.current_time()
    result = await next_(args)
    print(f"{tool_name} took {trio.current_time() - start:.3f}s")
    return result


def add_auth(name: str, request: actrio.LLMRequest, annotated: Any) -> Any:
    return request.with_headers({"authorization": "Bearer from-a-vault"}), annotated


async def search(args: dict[str, Any]) -> dict[str, Any]:
    return {"hits": 3, "key_was": args["api_key"]}


async def rm(args: dict[str, Any]) -> None:
    raise AssertionError("never runs")


async def fake_model(request: actrio.LLMRequest) -> dict[str, Any]:
    assert request.headers["authorization"].startswith("Bearer")
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "demo-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello!"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


async def main() -> None:
    seen: list[actrio.Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(seen.append)
        actrio.guardrails.register_tool_sanitize_request("redact", 10, redact)
        actrio.guardrails.register_tool_conditional_execution("no-rm", 10, no_rm)
        actrio.intercepts.register_llm_request("auth", 10, add_auth)

        async with actrio.open_scope("agent") as agent:
            # Scope-local: only calls inside this scope are timed; removed when it ends.
            actrio.intercepts.register_tool_execution("timed", 0, timed, scope=agent)
            print(await actrio.tools.execute("search", {"q": "trio", "api_key": "k-123"}, search))
            try:
                await actrio.tools.execute("rm", {"path": "/"}, rm)
            except actrio.GuardrailBlocked as blocked:
                print(f"blocked: {blocked.reason}")
            request = actrio.LLMRequest(
                {}, {"model": "demo-model", "messages": [{"role": "user", "content": "hi"}]}
            )
            await actrio.llm.execute("demo-model", request, fake_model)

    started = [e for e in seen if isinstance(e, actrio.ScopeStarted) and e.category == "tool"]
    print(f"observers saw search args: {started[0].data}")
    llm_end = next(e for e in seen if isinstance(e, actrio.ScopeEnded) and e.category == "llm")
    assert llm_end.annotated_response is not None
    print(f"model said: {llm_end.annotated_response.response_text()}")
    print(f"usage: {llm_end.annotated_response.usage}")


if __name__ == "__main__":
    trio.run(main)
